#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import CCkptUAPI
import CkptProtocol
import CkptTransport
import Foundation
import XCTest
@testable import CkptListener

/// Throughput and memory of the built `ckpt listen`, fed large streams by an in-process
/// sender. Off by default (minutes, GiBs): `CKPT_LISTEN_BENCH=1 swift test --filter BenchmarkTests`.
/// Prints `bench:` lines; asserts peak RSS stays flat from the small to the large image.
final class BenchmarkTests: XCTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["CKPT_LISTEN_BENCH"] == "1" else {
            throw XCTSkip("set CKPT_LISTEN_BENCH=1 to run the listener benchmark")
        }
    }

    /// Sends one stream of `mib` MiB of page data (runs of 256 pages, 64 KiB - 5 fragments).
    private func sendLargeStream(crid: UInt64, mib: Int, to port: UInt32, socket: NetlinkSocket) {
        let encoder = MessageEncoder.usersock
        let buffer = MessageBuffer()
        let fragmenter = Fragmenter()
        var seq: UInt32 = 0
        var summary = StreamSummaryBuilder()
        var id: UInt32 = 0
        func send(_ range: Range<Int>) { try! socket.send(buffer.bytes(range), toPort: port) }
        buffer.removeAll()
        send(encoder.streamBegin(crid: crid, pid: 1, into: buffer))
        seq = 1
        let page = pattern(seed: crid, count: 256 * 4096)
        func record(_ meta: RecordMeta, parent: UInt32, data: UnsafeRawBufferPointer) -> UInt32 {
            id += 1
            let metaBytes = meta.encodedPayload()
            metaBytes.withUnsafeBytes { m in
                summary.beginRecord(meta: m)
                summary.data(data)
                seq = fragmenter.encode(crid: crid, firstSeq: seq, type: meta.type, id: id, parent: parent, meta: m,
                                        data: data, encoder: encoder, buffer: buffer) { try! socket.send($0, toPort: port) }
            }
            return id
        }
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        _ = record(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "bench", timeNs: 0)), parent: 0, data: none)
        let task = record(.task(TaskMeta(pid: 1, tgid: 1, ppid: 0, comm: "bench", uid: 0, gid: 0, euid: 0, egid: 0)), parent: 0, data: none)
        let mm = record(.mm(MMMeta(startCode: 0, endCode: 0, startData: 0, endData: 0, startBrk: 0, brk: 0, startStack: 0,
                                   argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)), parent: task, data: none)
        page.withUnsafeBytes { pages in
            for run in 0..<mib {
                let start = UInt64(0x1000_0000) + UInt64(run) * 0x100000
                let vma = record(.vma(VMAMeta(start: start, end: start + 0x100000, vmFlags: 3, pgoff: 0)), parent: mm, data: none)
                _ = record(.pages(PagesMeta(addr: start, nrPages: 256)), parent: vma, data: pages)
            }
        }
        _ = record(.trailer(TrailerMeta(nrThreads: 0, nrVMAs: UInt32(mib), nrPagesTotal: UInt64(mib * 256), nrFiles: 0)),
                   parent: 0, data: none)
        buffer.removeAll()
        send(encoder.streamEnd(crid: crid, seq: seq, summary: summary.summary, into: buffer))
    }

    private func peakRSSKiB(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
        }
        return -1
    }

    private func run(mib: Int, directory: String) throws -> (seconds: Double, rssKiB: Int, stats: String) {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let process = Process()
        process.executableURL = bundle.appendingPathComponent("ckpt")
        process.arguments = ["listen", "--usersock", "--dir", directory, "--status", "never", "--log-level", "warning"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) { line.append(out.fileHandleForReading.availableData) }
        let port = UInt32(String(decoding: line, as: UTF8.self).split(separator: " ")[2].prefix { $0.isNumber })!
        let socket = try NetlinkSocket(family: .usersock)
        try socket.bind()
        let start = monotonicNanoseconds()
        sendLargeStream(crid: UInt64(mib), mib: mib, to: port, socket: socket)
        try waitFor(seconds: 600) { FileManager.default.fileExists(atPath: "\(directory)/\(mib).ckpt") }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        let rss = peakRSSKiB(process.processIdentifier)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stats = try String(contentsOfFile: directory + "/.ckpt-listen.stats", encoding: .utf8)
        unlink("\(directory)/\(mib).ckpt")
        return (seconds, rss, stats)
    }

    func testThroughputAndFlatMemory() throws {
        let directory = try ProcessInfo.processInfo.environment["CKPT_LISTEN_BENCH_DIR"] ?? makeTemporaryDirectory()
        var rss: [Int] = []
        for mib in [64, 1024, 4096] {
            let r = try run(mib: mib, directory: directory)
            let pool = r.stats.split(separator: "\n").first { $0.contains("\"pool\"") } ?? ""
            print("bench: \(mib) MiB image: \(String(format: "%.2f", r.seconds)) s, "
                  + "\(String(format: "%.0f", Double(mib) * 1.048576 / r.seconds)) MB/s (incl. fsync+rename), "
                  + "peak RSS \(r.rssKiB / 1024) MiB; \(pool.trimmingCharacters(in: .whitespaces))")
            rss.append(r.rssKiB)
        }
        XCTAssertLessThan(Double(rss.last!), Double(rss.first!) * 1.25 + 8192, "peak RSS must not grow with the image")
    }
}

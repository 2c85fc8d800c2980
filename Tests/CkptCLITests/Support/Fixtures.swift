#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Foundation
import SystemPackage
import CkptTestSupport
import XCTest

/// One record of a fixture image: fields, meta (as the kernel sends it: padded), data.
struct FixtureRecord: Equatable {
    var type: RecordType
    var id: UInt32
    var parent: UInt32
    var meta: [UInt8]
    var data: [UInt8] = []
}

/// A realistic stream: header, task, regs, mm, three vmas (one with `runs` page runs of
/// `pagesPerRun` pages each), two files, trailer. Page data is a pattern of `seed`.
func fixtureRecords(runs: Int = 2, pagesPerRun: Int = 3, seed: UInt8 = 1) -> [FixtureRecord] {
    func meta(_ m: RecordMeta) -> [UInt8] { m.encodedPayload(padded: true) }
    var regs = [UInt8](repeating: 0, count: 216)
    func put64(_ v: UInt64, _ at: Int) { for i in 0..<8 { regs[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    put64(0x40_1abc, 16 * 8)   // rip
    put64(0x7ffe_0000_1000, 19 * 8)  // rsp
    var records = [
        FixtureRecord(type: .header, id: 1, parent: 0, meta: meta(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0-test", timeNs: 1_764_386_715_000_000_000)))),
        FixtureRecord(type: .task, id: 2, parent: 0, meta: meta(.task(TaskMeta(pid: 4242, tgid: 4242, ppid: 1, comm: "ktarget", uid: 0, gid: 0, euid: 0, egid: 0)))),
        FixtureRecord(type: .regs, id: 3, parent: 2, meta: meta(.regs(RegsMeta(tid: 4242))), data: regs),
        FixtureRecord(type: .mm, id: 4, parent: 2, meta: meta(.mm(MMMeta(startCode: 0x40_0000, endCode: 0x40_2000, startData: 0x60_0000, endData: 0x60_1000, startBrk: 0x70_0000, brk: 0x72_0000, startStack: 0x7ffe_0000_2000, argStart: 0x7ffe_0000_3000, argEnd: 0x7ffe_0000_3100, envStart: 0x7ffe_0000_3100, envEnd: 0x7ffe_0000_3200)))),
        FixtureRecord(type: .vma, id: 5, parent: 4, meta: meta(.vma(VMAMeta(start: 0x40_0000, end: 0x40_2000, vmFlags: 0x5, pgoff: 0, path: "/usr/bin/ktarget")))),
        FixtureRecord(type: .vma, id: 6, parent: 4, meta: meta(.vma(VMAMeta(start: 0x70_0000, end: 0x70_0000 + UInt64(max(1, runs * pagesPerRun * 2)) * 4096, vmFlags: 0x3, pgoff: 0)))),
    ]
    var id: UInt32 = 7
    var totalPages: UInt64 = 0
    for run in 0..<runs {
        let addr = 0x70_0000 + UInt64(run * pagesPerRun * 2) * 4096
        let data = (0..<(pagesPerRun * 4096)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ run &* 13 &+ Int(seed)) }
        records.append(FixtureRecord(type: .pages, id: id, parent: 6, meta: meta(.pages(PagesMeta(addr: addr, nrPages: UInt32(pagesPerRun)))), data: data))
        id += 1
        totalPages += UInt64(pagesPerRun)
    }
    records.append(FixtureRecord(type: .vma, id: id, parent: 4, meta: meta(.vma(VMAMeta(start: 0x7ffe_0000_0000, end: 0x7ffe_0002_1000, vmFlags: 0x103, pgoff: 0, path: "[stack]")))))
    id += 1
    records.append(FixtureRecord(type: .file, id: id, parent: 2, meta: meta(.file(FileMeta(fd: 0, fFlags: 0x2, pos: 0, path: "/dev/pts/0")))))
    id += 1
    records.append(FixtureRecord(type: .file, id: id, parent: 2, meta: meta(.file(FileMeta(fd: 3, fFlags: 0x8000, pos: 4096, path: "/var/log/ktarget.log")))))
    id += 1
    records.append(FixtureRecord(type: .trailer, id: id, parent: 0, meta: meta(.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 3, nrPagesTotal: totalPages, nrFiles: 2)))))
    return records
}

func fixtureSummary(_ records: [FixtureRecord]) -> StreamSummary {
    var b = StreamSummaryBuilder()
    for r in records {
        r.meta.withUnsafeBytes { b.beginRecord(meta: $0) }
        r.data.withUnsafeBytes { b.data($0) }
    }
    return b.summary
}

/// Writes `records` as an image with ImageWriter (data appended in 4000-byte pieces);
/// `finish: false` leaves the file as a listener leaves a failed stream.
func writeFixtureImage(_ path: String, _ records: [FixtureRecord], crid: UInt64 = 7, pid: UInt32 = 4242,
                       captureNs: UInt64 = 1_764_386_716_000_000_000, finish: Bool = true) throws {
    let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
    defer { try? fd.close() }
    let w = try ImageWriter(fd: fd, header: ImageHeader(crid: crid, pid: pid, captureStartNs: captureNs, host: "fixture-host"), path: path)
    for r in records {
        try r.meta.withUnsafeBytes { try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: $0, dataLength: UInt64(r.data.count)) }
        try r.data.withUnsafeBytes { d in
            var at = 0
            while at < d.count {
                let n = min(4000, d.count - at)
                try w.appendData(UnsafeRawBufferPointer(rebasing: d[at..<(at + n)]))
                at += n
            }
        }
        try w.endRecord()
    }
    if finish { try w.finish(summary: fixtureSummary(records)) }
}

/// Every record of a complete image, read back through ImageReader (meta and data).
func readRecords(_ path: String) throws -> [FixtureRecord] {
    let reader = try ImageReader(path: path)
    var out: [FixtureRecord] = []
    for e in reader.index {
        var data = [UInt8](repeating: 0, count: Int(e.dataLength))
        if e.dataLength > 0 {
            _ = try data.withUnsafeMutableBytes { try reader.readData(of: e, offset: 0, into: $0) }
        }
        out.append(FixtureRecord(type: e.type, id: e.id, parent: e.parent, meta: try reader.meta(of: e), data: data))
    }
    return out
}

func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "ckpt-cli-tests-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func fileBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
func writeBytes(_ path: String, _ bytes: [UInt8]) { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
    var all: String { stdout + stderr }
}

/// Runs `ckpt ARGS` to completion (stdout and stderr read concurrently: no pipe deadlock).
@discardableResult
func ckpt(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Run {
    let process = Process()
    process.executableURL = try ckptExecutable()
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let outData = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outData.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, stdout: String(decoding: outData.data, as: UTF8.self),
               stderr: String(decoding: errData, as: UTF8.self))
}

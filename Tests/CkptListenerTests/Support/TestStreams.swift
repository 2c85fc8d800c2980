#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol
import CkptTransport
import XCTest

/// A synthetic capture stream, encoded as the usersock messages a sender would send.
struct EncodedStream {
    let crid: UInt64
    /// One netlink message each, seq 0 ... n-1 (begin, record fragments, end).
    var messages: [[UInt8]]
    let summary: StreamSummary
    /// The data bytes of every record, in order (what an image must contain).
    let dataBytes: UInt64

    /// A valid stream: header, task, regs, mm, then `runs` x (vma, pages of `pagesPerRun`
    /// pages), file, trailer; data fragmented at `fragment` bytes.
    /// `dataChecksums`: each fragment carries its data's CRC-32C, as the kernel's do.
    init(crid: UInt64, runs: Int = 2, pagesPerRun: Int = 8, fragment: Int = Int(CKPT_DATA_MAX), pid: UInt32 = 4242,
         dataChecksums: Bool = false) {
        self.crid = crid
        var records: [(RecordMeta, [UInt8])] = [
            (.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12-test", timeNs: 1)), []),
            (.task(TaskMeta(pid: pid, tgid: pid, ppid: 1, comm: "victim", uid: 0, gid: 0, euid: 0, egid: 0)), []),
            (.regs(RegsMeta(tid: pid)), pattern(seed: crid, count: 216)),
            (.mm(MMMeta(startCode: 0x400000, endCode: 0x401000, startData: 0x600000, endData: 0x601000,
                        startBrk: 0x602000, brk: 0x603000, startStack: 0x7ff000, argStart: 0x7ff100,
                        argEnd: 0x7ff200, envStart: 0x7ff200, envEnd: 0x7ff300)), []),
        ]
        var parents: [UInt32] = [0, 0, 2, 2]
        for run in 0..<runs {
            let start = UInt64(0x1000_0000 + run * 0x100_0000)
            records.append((.vma(VMAMeta(start: start, end: start + UInt64(pagesPerRun * 4096), vmFlags: 0x3, pgoff: 0)), []))
            parents.append(4)
            records.append((.pages(PagesMeta(addr: start, nrPages: UInt32(pagesPerRun))),
                            pattern(seed: crid &* 1000 &+ UInt64(run), count: pagesPerRun * 4096)))
            parents.append(UInt32(records.count - 1))
        }
        records.append((.file(FileMeta(fd: 0, fFlags: 2, pos: 0, path: "/dev/null")), []))
        parents.append(2)
        records.append((.trailer(TrailerMeta(nrThreads: 1, nrVMAs: UInt32(runs), nrPagesTotal: UInt64(runs * pagesPerRun), nrFiles: 1)), []))
        parents.append(0)

        let encoder = MessageEncoder.usersock
        let buffer = MessageBuffer()
        var messages: [[UInt8]] = []
        buffer.removeAll()
        encoder.streamBegin(crid: crid, pid: pid, into: buffer)
        messages.append(Array(buffer.bytes))
        var seq: UInt32 = 1
        var builder = StreamSummaryBuilder()
        var dataBytes: UInt64 = 0
        let fragmenter = Fragmenter(maxDataPerFragment: fragment, dataChecksums: dataChecksums)
        for (index, (meta, data)) in records.enumerated() {
            let metaBytes = meta.encodedPayload()
            metaBytes.withUnsafeBytes { metaRaw in
                data.withUnsafeBytes { dataRaw in
                    builder.beginRecord(meta: metaRaw)
                    builder.data(dataRaw)
                    seq = fragmenter.encode(
                        crid: crid, firstSeq: seq, type: meta.type, id: UInt32(index + 1), parent: parents[index],
                        meta: metaRaw, data: dataRaw, encoder: encoder, buffer: buffer
                    ) { messages.append(Array($0)) }
                }
            }
            dataBytes += UInt64(data.count)
        }
        buffer.removeAll()
        encoder.streamEnd(crid: crid, seq: seq, summary: builder.summary, into: buffer)
        messages.append(Array(buffer.bytes))
        self.messages = messages
        summary = builder.summary
        self.dataBytes = dataBytes
    }

    /// An abort message at `seq`.
    func abort(seq: UInt32, reason: UInt32, message: String?) -> [UInt8] {
        let buffer = MessageBuffer()
        MessageEncoder.usersock.streamAbort(crid: crid, seq: seq, reason: reason, message: message, into: buffer)
        return Array(buffer.bytes)
    }
}

extension EncodedStream {
    /// Flips one bit of a data byte of the first pages run (`pattern(seed: crid * 1000)`) in
    /// its message, counts and framing intact: only the checksum can tell.
    mutating func flipDataByte() throws {
        let probe = pattern(seed: crid &* 1000, count: 64)
        let (index, at) = try XCTUnwrap(messages.enumerated().lazy.compactMap { i, bytes in
            stride(from: 0, through: bytes.count - probe.count, by: 1)
                .first { Array(bytes[$0..<($0 + probe.count)]) == probe }.map { (i, $0) }
        }.first)
        messages[index][at + 10] ^= 0x20
    }
}

func pattern(seed: UInt64, count: Int) -> [UInt8] {
    var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return UInt8(truncatingIfNeeded: x)
    }
}

/// A NETLINK_USERSOCK sender (CkptTransport's socket): a blocking send waits while the
/// listener's queue is full, as the kernel sender does.
final class TestSender {
    let socket: NetlinkSocket

    init() {
        socket = try! NetlinkSocket(family: .usersock)
        try! socket.bind()
    }

    func send(_ message: [UInt8], to port: UInt32) {
        message.withUnsafeBytes { try! socket.send($0, toPort: port) }
    }

    func send(_ messages: [[UInt8]], to port: UInt32) {
        for message in messages { send(message, to: port) }
    }

    /// Sends the streams' messages round-robin, one message of each in turn.
    func sendInterleaved(_ streams: [[[UInt8]]], to port: UInt32) {
        var cursor = Array(repeating: 0, count: streams.count)
        var left = streams.reduce(0) { $0 + $1.count }
        while left > 0 {
            for i in streams.indices where cursor[i] < streams[i].count {
                send(streams[i][cursor[i]], to: port)
                cursor[i] += 1
                left -= 1
            }
        }
    }
}

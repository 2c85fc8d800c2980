import CCkptUAPI
import CkptProtocol

/// One record of a synthetic stream, whole: what the listener must store byte for byte.
public struct SyntheticRecord: Equatable, Sendable {
    public var type: RecordType
    public var id: UInt32
    public var parent: UInt32
    /// The `CKPT_A_META` payload, as `RecordMeta.encode(padded: true)` writes it.
    public var meta: [UInt8]
    public var data: [UInt8]
}

/// A realistic checkpoint stream made up from a seed: the record tree of the UAPI header
/// (header, task, regs per thread, mm, vmas with page runs, files, trailer) with
/// consistent meta (page-aligned mappings, pages inside writable private vmas, the
/// trailer's counts) and pseudo-random data.
///
///     header (1)
///     task (2)
///       regs ...                 216 bytes each
///       mm
///         vma ...                file-backed ones carry a path
///           pages ...            runs of <= CKPT_PAGES_RUN_MAX pages, writable private vmas only
///       file ...
///     trailer
///
/// Deterministic: the same `(seed, index, shape)` gives the same records and messages.
public struct SyntheticStream: Sendable {
    public static let pageSize: UInt32 = 4096
    public static let arch = "x86_64"

    public let crid: UInt64
    public let pid: UInt32
    public let shape: StreamShape
    public private(set) var records: [SyntheticRecord] = []

    /// The stream's totals (what `CKPT_CMD_STREAM_END` carries).
    public var summary: StreamSummary {
        var b = StreamSummaryBuilder()
        for r in records {
            r.meta.withUnsafeBytes { b.beginRecord(meta: $0) }
            r.data.withUnsafeBytes { b.data($0) }
        }
        return b.summary
    }

    /// - Parameters:
    ///   - seed: the run's seed; `index` picks one of its streams.
    ///   - crid: the stream id to send under (unique per listener run).
    public init(seed: UInt64, index: Int, crid: UInt64, shape: StreamShape) {
        precondition(shape.problem == nil, shape.problem ?? "")
        self.crid = crid
        self.shape = shape
        var rng = SeededGenerator(seed: seed, stream: UInt64(index))
        pid = UInt32(rng.int(300...4_000_000))
        records = Self.generate(seed: seed, index: index, pid: pid, shape: shape, rng: &rng)
    }

    private static func generate(seed: UInt64, index: Int, pid: UInt32, shape: StreamShape,
                                 rng: inout SeededGenerator) -> [SyntheticRecord] {
        var out: [SyntheticRecord] = []
        var nextID: UInt32 = 1
        func add(_ meta: RecordMeta, parent: UInt32, data: [UInt8] = []) -> UInt32 {
            let id = nextID
            nextID += UInt32(rng.int(1...3))  // ids increase, not necessarily by one
            out.append(SyntheticRecord(type: meta.type, id: id, parent: parent,
                                       meta: meta.encodedPayload(padded: true), data: data))
            return id
        }
        func data(_ count: Int, purpose: UInt64) -> [UInt8] {
            var g = SeededGenerator(seed: seed, stream: UInt64(index), purpose: purpose)
            return g.bytes(count)
        }
        _ = add(.header(HeaderMeta(arch: arch, pageSize: pageSize, release: "6.12.0-synthetic",
                                   timeNs: 1_700_000_000_000_000_000 &+ rng.next() % 100_000_000_000_000_000)), parent: 0)
        let comm = "synth-\(seed % 100_000)-\(index)"
        let task = add(.task(TaskMeta(pid: pid, tgid: pid, ppid: UInt32(rng.int(1...Int(pid))), comm: String(comm.prefix(15)),
                                      uid: 1000, gid: 1000, euid: 1000, egid: 1000)), parent: 0)
        let regsSize = Int(RecordDataRules.regsSize(arch: arch)!)
        for t in 0..<shape.threads {
            _ = add(.regs(RegsMeta(tid: pid + UInt32(t))), parent: task, data: data(regsSize, purpose: 1_000_000 + UInt64(t)))
        }
        let page = UInt64(pageSize)
        let base: UInt64 = 0x5555_0000_0000 + UInt64(rng.int(0...0xffff)) * page
        let mm = add(.mm(MMMeta(
            startCode: base, endCode: base + 0x10 * page, startData: base + 0x20 * page, endData: base + 0x28 * page,
            startBrk: base + 0x100 * page, brk: base + 0x180 * page, startStack: 0x7ffc_0000_0000,
            argStart: 0x7ffc_0000_1000, argEnd: 0x7ffc_0000_1100, envStart: 0x7ffc_0000_1100, envEnd: 0x7ffc_0000_1800)),
            parent: task)
        // Mappings: every other one writable and private (pages go only there), the rest
        // read-only and file-backed. Pages are spread over the writable ones in runs.
        let writable = (0..<shape.vmas).filter { $0 % 2 == 0 || shape.vmas == 1 }
        var pagesLeft = shape.pages
        var address = base + 0x1000 * page
        for v in 0..<shape.vmas {
            let isWritable = writable.contains(v)
            let share = isWritable ? (pagesLeft + (writable.filter { $0 >= v }.count - 1)) / writable.filter { $0 >= v }.count : 0
            let sizePages = UInt64(max(share, 1) + rng.int(0...16))
            let start = address
            let end = start + sizePages * page
            address = end + UInt64(rng.int(1...64)) * page
            let may = VMFlags.mayRead | VMFlags.mayWrite | VMFlags.mayExec
            let flags = isWritable ? VMFlags.read | VMFlags.write | may : VMFlags.read | VMFlags.exec | may
            let path: String? = isWritable ? nil : "/usr/lib/x86_64-linux-gnu/libsynth\(v).so"
            let vma = add(.vma(VMAMeta(start: start, end: end, vmFlags: flags, pgoff: isWritable ? 0 : UInt64(v), path: path)),
                          parent: mm)
            var placed = 0
            var at = start
            while placed < share {
                let run = min(share - placed, rng.int(1...Int(CKPT_PAGES_RUN_MAX)))
                _ = add(.pages(PagesMeta(addr: at, nrPages: UInt32(run))), parent: vma,
                        data: data(run * Int(pageSize), purpose: UInt64(at)))
                at += UInt64(run) * page
                placed += run
            }
            pagesLeft -= share
        }
        for f in 0..<shape.files {
            let path: String? = f % 3 == 2 ? nil : "/tmp/synthetic-\(index)-\(f).dat"
            _ = add(.file(FileMeta(fd: UInt32(f), fFlags: f < 3 ? 0o2 : 0o100002, pos: UInt64(rng.int(0...1 << 20)), path: path)),
                    parent: task)
        }
        _ = add(.trailer(TrailerMeta(nrThreads: UInt32(shape.threads), nrVMAs: UInt32(shape.vmas),
                                     nrPagesTotal: UInt64(shape.pages), nrFiles: UInt32(shape.files))), parent: 0)
        return out
    }

    /// Replaces the records (fault injection: orphans, reused ids). The summary follows.
    public mutating func replaceRecords(_ body: (inout [SyntheticRecord]) -> Void) {
        body(&records)
    }
}

/// One netlink message of an encoded stream, with what it carries (for faults to aim at).
public struct StreamMessage: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case begin
        /// Fragment `fragment` of record `record` (an index into `records`).
        case record(record: Int, fragment: Int, hasData: Bool)
        case end
    }
    public var seq: UInt32
    public var kind: Kind
    public var bytes: [UInt8]

    public var isFirstFragment: Bool {
        if case let .record(_, fragment, _) = kind { return fragment == 0 }
        return false
    }
    public var hasData: Bool {
        if case let .record(_, _, hasData) = kind { return hasData }
        return false
    }
}

extension SyntheticStream {
    /// The stream as the kernel would send it: begin (seq 0), each record's fragments
    /// (`Fragmenter`, `shape.fragmentSize` data bytes each), end with the summary. One
    /// message per datagram, `nlmsg_seq` = the stream seq, type `CKPT_USERSOCK_TYPE`.
    public func encodeMessages(encoder: MessageEncoder = .usersock) -> [StreamMessage] {
        let buffer = MessageBuffer()
        var messages: [StreamMessage] = []
        encoder.streamBegin(crid: crid, pid: pid, header: MessageHeader(seq: 0), into: buffer)
        messages.append(StreamMessage(seq: 0, kind: .begin, bytes: Array(buffer.bytes)))
        var seq: UInt32 = 1
        let fragmenter = Fragmenter(maxDataPerFragment: shape.fragmentSize, dataChecksums: shape.dataChecksums)
        for (index, r) in records.enumerated() {
            var fragment = 0
            r.meta.withUnsafeBytes { meta in
                r.data.withUnsafeBytes { data in
                    seq = fragmenter.fragments(crid: crid, firstSeq: seq, type: r.type, id: r.id, parent: r.parent,
                                               meta: meta, data: data) { f in
                        buffer.removeAll()
                        encoder.record(f, header: MessageHeader(seq: f.seq), into: buffer)
                        messages.append(StreamMessage(seq: f.seq, kind: .record(record: index, fragment: fragment, hasData: f.data.count > 0),
                                                      bytes: Array(buffer.bytes)))
                        fragment += 1
                    }
                }
            }
        }
        buffer.removeAll()
        encoder.streamEnd(crid: crid, seq: seq, summary: summary, header: MessageHeader(seq: seq), into: buffer)
        messages.append(StreamMessage(seq: seq, kind: .end, bytes: Array(buffer.bytes)))
        return messages
    }
}

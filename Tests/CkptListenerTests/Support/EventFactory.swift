import CkptProtocol
@testable import CkptListener

/// Builds `StreamEvent`s for the pure reassembler tests. Events point into memory this
/// factory owns (as they would point into a pool buffer), freed with the factory.
final class EventFactory {
    private var allocations: [UnsafeMutableRawBufferPointer] = []

    deinit { allocations.forEach { $0.deallocate() } }

    func bytes(_ values: [UInt8]) -> UnsafeRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(values.count, 1), alignment: 8)
        buffer.copyBytes(from: values)
        allocations.append(buffer)
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<values.count])
    }

    /// Deterministic filler: byte i of record `id` is (id * 31 + i) & 0xff.
    static func pattern(id: UInt32, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: Int(id) &* 31 &+ $0) }
    }
}

/// One record of a synthetic stream.
struct SyntheticRecord {
    var type: RecordType
    var id: UInt32
    var parent: UInt32
    var meta: [UInt8]
    var data: [UInt8]
}

/// A small valid stream: header, task, regs, mm, vma, pages (`pageBytes` of data), file, trailer.
func validRecords(pageBytes: Int = 10_000) -> [SyntheticRecord] {
    [
        SyntheticRecord(type: .header, id: 1, parent: 0, meta: [1, 2, 3, 4], data: []),
        SyntheticRecord(type: .task, id: 2, parent: 0, meta: [5, 6], data: []),
        SyntheticRecord(type: .regs, id: 3, parent: 2, meta: [7], data: EventFactory.pattern(id: 3, count: 216)),
        SyntheticRecord(type: .mm, id: 4, parent: 2, meta: [8, 8], data: []),
        SyntheticRecord(type: .vma, id: 5, parent: 4, meta: [9], data: []),
        SyntheticRecord(type: .pages, id: 6, parent: 5, meta: [10, 11], data: EventFactory.pattern(id: 6, count: pageBytes)),
        SyntheticRecord(type: .file, id: 7, parent: 2, meta: [12], data: []),
        SyntheticRecord(type: .trailer, id: 8, parent: 0, meta: [13, 14, 15], data: []),
    ]
}

/// The events a sender emits for `records`, fragmenting data at `chunk` bytes, with
/// consecutive seqs from 0, ending with a correct end message.
func streamEvents(
    crid: UInt64, pid: UInt32 = 4242, records: [SyntheticRecord], chunk: Int = 4096, factory: EventFactory
) -> [StreamEvent] {
    var events: [StreamEvent] = [.begin(crid: crid, seq: 0, pid: pid)]
    var seq: UInt32 = 1
    var summary = StreamSummaryBuilder()
    for record in records {
        let meta = factory.bytes(record.meta)
        summary.beginRecord(meta: meta)
        var offset = 0
        repeat {
            let end = min(record.data.count, offset + chunk)
            let data = factory.bytes(Array(record.data[offset..<end]))
            summary.data(data)
            events.append(.record(RecordFragment(
                crid: crid, seq: seq, type: record.type, id: record.id, parent: record.parent,
                dataLength: UInt64(record.data.count), dataOffset: UInt64(offset),
                meta: offset == 0 ? meta : nil, data: data)))
            seq += 1
            offset = end
        } while offset < record.data.count
    }
    events.append(.end(crid: crid, seq: seq, summary: summary.summary))
    return events
}

extension StreamEvent {
    /// The same event with another seq (to build gaps).
    func with(seq: UInt32) -> StreamEvent {
        switch self {
        case let .begin(crid, _, pid): .begin(crid: crid, seq: seq, pid: pid)
        case var .record(f): { f.seq = seq; return .record(f) }()
        case let .end(crid, _, summary): .end(crid: crid, seq: seq, summary: summary)
        case let .abort(crid, _, reason, message): .abort(crid: crid, seq: seq, reason: reason, message: message)
        }
    }

    var fragment: RecordFragment? {
        if case let .record(f) = self { f } else { nil }
    }
}

/// Renumbers seqs from 0 after events were removed or reordered.
func renumbered(_ events: [StreamEvent]) -> [StreamEvent] {
    events.enumerated().map { $0.element.with(seq: UInt32($0.offset)) }
}

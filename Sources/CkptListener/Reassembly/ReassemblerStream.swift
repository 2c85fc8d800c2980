import CCkptUAPI
import CkptProtocol

/// What one stream does with one of its messages: every per-stream rule, applied in place.
/// The Reassembler finds the stream and acts on the outcome (fails or removes it); keeping
/// the rules on the stream makes them one in-place access per message
/// (`slots[slot]!.take(...)`) instead of a copy of the stream for each field read.
extension Reassembler.Stream {
    enum Outcome {
        /// Write this fragment.
        case write(WriteOp)
        /// The message broke `rule` at `seq` (in `record`, when one is named): fail the stream.
        case broke(seq: UInt32, record: UInt32?, FailureRule)
        /// A verified end: the stream is complete.
        case ended(session: UInt64, seq: UInt32, sent: StreamSummary)
    }

    mutating func take(_ event: StreamEvent, now: UInt64, _ configuration: Reassembler.Configuration) -> Outcome {
        let seq = event.seq
        if seq != nextSeq {
            if case .begin = event { return .broke(seq: seq, record: nil, .duplicateBegin) }
            return .broke(seq: seq, record: nil, .sequenceGap(expected: nextSeq, got: seq))
        }
        nextSeq = seq &+ 1
        lastActivityNs = now
        switch event {
        case .begin:
            return .broke(seq: seq, record: nil, .duplicateBegin)
        case let .record(fragment):
            return take(fragment, configuration)
        case let .end(_, _, sent):
            if let open = current {
                return .broke(seq: seq, record: open.id,
                              .endInsideRecord(id: open.id, received: open.received, dataLength: open.dataLength))
            }
            do throws(RecordTreeViolation) {
                try tree.finish()
            } catch {
                return .broke(seq: seq, record: lastRecordID, .nesting(error))
            }
            let received = summary.summary
            guard received.records == sent.records, received.bytes == sent.bytes,
                  !configuration.checksumData || received.checksum == sent.checksum else {
                return .broke(seq: seq, record: nil, .summaryMismatch(sent: sent, received: received))
            }
            return .ended(session: session, seq: seq, sent: sent)
        case let .abort(_, _, reason, message):
            return .broke(seq: seq, record: current?.id, .aborted(reason: reason, message: message))
        }
    }

    private mutating func take(_ f: RecordFragment, _ configuration: Reassembler.Configuration) -> Outcome {
        let seq = f.seq
        func broke(_ rule: FailureRule) -> Outcome { .broke(seq: seq, record: f.id, rule) }
        var head: RecordHead? = nil
        let received: UInt64
        if let open = current {
            // A continuation: the same record, exactly where the previous fragment ended.
            if f.id != open.id {
                return broke(.recordInterleaved(openID: open.id, received: open.received, dataLength: open.dataLength))
            }
            if f.type != open.type { return broke(.fragmentMismatch(field: "rec-type")) }
            if f.parent != open.parent { return broke(.fragmentMismatch(field: "rec-parent")) }
            if f.dataLength != open.dataLength { return broke(.fragmentMismatch(field: "data-len")) }
            if f.meta != nil {
                return broke(.metaPlacement("meta on a continuation fragment (data-offset \(f.dataOffset))"))
            }
            if f.dataOffset != open.received {
                return broke(.fragmentOffset(expected: open.received, got: f.dataOffset))
            }
            received = open.received
        } else {
            // The first fragment of a new record.
            if f.dataOffset != 0 { return broke(.fragmentOffset(expected: 0, got: f.dataOffset)) }
            guard let meta = f.meta else {
                return broke(.metaPlacement("first fragment of a record carries no meta"))
            }
            if f.dataLength > UInt64(CKPT_RECORD_DATA_MAX) { return broke(.recordTooLarge(dataLength: f.dataLength)) }
            do throws(RecordTreeViolation) {
                try tree.accept(id: f.id, parent: f.parent, type: f.type)
            } catch {
                return broke(.nesting(error))
            }
            if configuration.checkRecordData, let why = checkRecordData(f, meta: meta) { return broke(.meta(why)) }
            head = RecordHead(type: f.type, id: f.id, parent: f.parent, meta: meta, dataLength: f.dataLength)
            received = 0
        }
        let count = UInt64(f.data.count)
        if count > f.dataLength - received {
            return broke(.fragmentOverrun(offset: f.dataOffset, count: f.data.count, dataLength: f.dataLength))
        }
        if count == 0, received < f.dataLength {
            return broke(.emptyFragment(offset: f.dataOffset, dataLength: f.dataLength))
        }
        if let head { summary.beginRecord(meta: head.meta) }
        summary.data(f.data)
        lastRecordID = f.id
        let now = received + count
        let ends = now == f.dataLength
        current = ends
            ? nil : Reassembler.OpenRecord(type: f.type, id: f.id, parent: f.parent, dataLength: f.dataLength, received: now)
        return .write(WriteOp(session: session, crid: f.crid, head: head, data: f.data, dataChecksum: f.dataChecksum,
                              endsRecord: ends))
    }

    /// Why the first fragment's meta contradicts the record (or the stream's header), or nil.
    /// Decodes the meta (once per record, not per fragment; strings allocate).
    private mutating func checkRecordData(_ f: RecordFragment, meta: UnsafeRawBufferPointer) -> String? {
        let decoded: RecordMeta
        do throws(ProtocolError) {
            decoded = try RecordMeta(type: f.type, payload: meta)
        } catch {
            return error.description
        }
        do throws(RecordDataViolation) {
            try dataRules.check(id: f.id, meta: decoded, dataLength: f.dataLength)
        } catch {
            return error.description
        }
        return nil
    }
}

import CkptInject
import CkptListener
import CkptProtocol

/// The listener's receive path without sockets or files: datagrams through `StreamDecoder`
/// into the real `Reassembler`, as `Listener.process` does it. For fast, exhaustive checks
/// of the injector's expectations and for the fixed-seed mutation fuzzing.
struct Simulator {
    var reassembler = Reassembler(configuration: .init(maxStreams: 256, streamTimeoutNs: 1_000, checkRecordData: true))
    var malformed = 0
    var completed: [UInt64: StreamSummary] = [:]
    var failed: [UInt64: StreamFailure] = [:]
    /// What each session wrote (meta + data), as the image would hold it.
    var written: [UInt64: StreamSummaryBuilder] = [:]
    var crids: [UInt64: UInt64] = [:]
    private var now: UInt64 = 0


    mutating func feed(_ datagram: [UInt8]) {
        now += 1
        datagram.withUnsafeBytes { raw in
            do {
                try StreamDecoder().decode(datagram: raw, expectedType: 16) { event in
                    apply(reassembler.receive(event, now: now))
                }
            } catch let error as ProtocolError {
                malformed += 1
                if let crid = error.crid, let action = reassembler.malformed(crid: crid, seq: error.seq, "\(error)") {
                    apply(action)
                }
            } catch {
                preconditionFailure("the decoder threw a non-ProtocolError: \(error)")
            }
        }
    }

    /// Lets every stream in flight time out.
    mutating func expireAll() {
        now += 1_000_000
        for a in reassembler.expire(now: now) { apply(a) }
    }

    private mutating func apply(_ action: ReassemblyAction) {
        switch action {
        case .none: break
        case let .open(session, crid, _):
            written[session] = StreamSummaryBuilder()
            crids[session] = crid
        case let .write(op):
            if let head = op.head { written[op.session]?.beginRecord(meta: head.meta) }
            written[op.session]?.data(op.data)
        case let .complete(session, crid, summary, _):
            precondition(written[session]?.summary == summary, "completed with a summary other than what was written")
            completed[crid] = summary
        case let .fail(_, failure):
            failed[failure.crid] = failure
        }
    }
}

extension Array where Element == UInt8 {
    func u16le(_ i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func u32le(_ i: Int) -> UInt32 { UInt32(u16le(i)) | UInt32(u16le(i + 2)) << 16 }
}

// libFuzzer target: the listener's receive path without sockets or files.
//
//   input --split--> datagrams --StreamDecoder--> events --Reassembler--> actions
//
// The input is either a datagram file (`ckpt inject --out`: "CKPTDGM1", then u32 LE length +
// bytes per datagram; the seed corpus is made of these) or raw bytes split by u16 LE length
// prefixes (what mutations of the length fields turn a file into; the tail is the last
// datagram). Every datagram is decoded as `Listener.process` decodes it; every event and
// every decode error with a crid goes to the real `Reassembler`; at the end every stream in
// flight is expired.
//
// Crashes, sanitizer reports and these invariants are findings:
// - the decoder throws nothing but `ProtocolError`;
// - a stream completes only when what the reassembler had written (meta + data, the
//   stream summary) equals the end message's summary;
// - a stream never settles twice.
import CkptProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStream(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var reassembler = Reassembler(configuration: .init(maxStreams: 8, streamTimeoutNs: 1_000, checkRecordData: true))
    var written: [UInt64: StreamSummaryBuilder] = [:]
    var settled = Set<UInt64>()
    var now: UInt64 = 0

    func apply(_ action: ReassemblyAction) {
        switch action {
        case .none: break
        case let .open(session, _, _):
            written[session] = StreamSummaryBuilder()
        case let .write(op):
            if let head = op.head { written[op.session]?.beginRecord(meta: head.meta) }
            written[op.session]?.data(op.data)
        case let .complete(session, _, summary, _):
            precondition(written[session]?.summary == summary, "completed with other content than was written")
            precondition(settled.insert(session).inserted, "a stream settled twice")
        case let .fail(session, _):
            if let session { precondition(settled.insert(session).inserted, "a stream settled twice") }
        }
    }

    forEachDatagram(input) { datagram in
        now += 1
        do {
            try StreamDecoder().decode(datagram: datagram, expectedType: 16) { event in
                apply(reassembler.receive(event, now: now))
            }
        } catch let error as ProtocolError {
            _ = error.description
            if let crid = error.crid, let action = reassembler.malformed(crid: crid, seq: error.seq, "\(error)") {
                apply(action)
            }
        } catch {
            preconditionFailure("decoder threw a non-ProtocolError: \(error)")
        }
    }
    for action in reassembler.expire(now: now + 1_000_000) { apply(action) }
    return 0
}

func forEachDatagram(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
    let magic = Array("CKPTDGM1".utf8)
    var at = 0
    if input.count >= 8, input.prefix(8).elementsEqual(magic) {
        at = 8
        while at + 4 <= input.count {
            let n = Int(input.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
            at += 4
            let end = min(input.count, at + n)
            body(UnsafeRawBufferPointer(rebasing: input[at..<end]))
            at = end
        }
        return
    }
    while at < input.count {
        guard at + 2 <= input.count else { body(UnsafeRawBufferPointer(rebasing: input[at...])); return }
        let n = Int(input.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)
        at += 2
        let end = min(input.count, at + n)
        body(UnsafeRawBufferPointer(rebasing: input[at..<end]))
        at = end
    }
}

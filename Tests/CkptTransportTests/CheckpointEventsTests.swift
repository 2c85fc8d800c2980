import CCkptUAPI
import CkptProtocol
import Testing
@testable import CkptTransport

/// The requester's keeping of checkpoint-read and checkpoint-done, messages built as the
/// kernel builds them (`AnswerEncoder`).
@Suite struct CheckpointEventsTests {
    let encoder = MessageEncoder(messageType: 0x1c)
    let done = CheckpointOutcome.completed(CheckpointReply(crid: 7, summary: StreamSummary(records: 3, bytes: 4096, checksum: 1)))

    /// Feeds each message `build` writes to `events`; returns what `keep` said of each.
    func feed(_ events: inout CheckpointEvents, _ build: (MessageBuffer) -> Void) throws -> [Bool] {
        let b = MessageBuffer()
        build(b)
        var kept: [Bool] = []
        var reader = NetlinkMessageReader(b.bytes)
        while let m = try reader.next() { kept.append(try events.keep(m)) }
        return kept
    }

    /// Read, then done, of one request; the admission reply is left to the caller.
    @Test func readThenDone() throws {
        var events = CheckpointEvents()
        events.expect(9)
        let kept = try feed(&events) { b in
            encoder.checkpointReply(crid: 7, header: MessageHeader(seq: 9), into: b)
            encoder.checkpointRead(crid: 7, header: MessageHeader(seq: 9), into: b)
        }
        #expect(kept == [false, true])
        #expect(events.wasRead(9))
        #expect(events.outcome(9) == nil)
        _ = try feed(&events) { b in encoder.checkpointDone(done, header: MessageHeader(seq: 9), into: b) }
        #expect(events.outcome(9) == done)
        events.forget(9)
        #expect(!events.wasRead(9) && events.outcome(9) == nil)
    }

    /// An await-go request: checkpoint-reserved is kept with its pages, then read and done;
    /// one of another seq is not this request's, and forget drops it.
    @Test func reservedThenReadThenDone() throws {
        var events = CheckpointEvents()
        events.expect(9)
        #expect(events.reserved(9) == nil)
        let kept = try feed(&events) { b in
            encoder.checkpointReserved(crid: 7, pages: 4100, header: MessageHeader(seq: 9), into: b)
            encoder.checkpointReserved(crid: 8, pages: 1, header: MessageHeader(seq: 10), into: b)
            encoder.checkpointRead(crid: 7, header: MessageHeader(seq: 9), into: b)
            encoder.checkpointDone(done, header: MessageHeader(seq: 9), into: b)
        }
        #expect(kept == [true, false, true, true])
        #expect(events.reserved(9) == 4100 && events.reserved(10) == nil)
        #expect(events.wasRead(9) && events.outcome(9) == done)
        events.forget(9)
        #expect(events.reserved(9) == nil)
    }

    /// Two outstanding requests (a tree): the first's done arrives among the second's
    /// answers and is kept for the first; a done without a read (no holding) is kept too;
    /// a seq not expected, or forgotten, is not this keeper's.
    @Test func eventsOfOthersAreKeptForThem() throws {
        var events = CheckpointEvents()
        events.expect(9)
        events.expect(10)
        let kept = try feed(&events) { b in
            encoder.checkpointRead(crid: 7, header: MessageHeader(seq: 9), into: b)
            encoder.checkpointReply(crid: 8, header: MessageHeader(seq: 10), into: b)
            encoder.checkpointDone(done, header: MessageHeader(seq: 9), into: b)
            encoder.checkpointDone(done, header: MessageHeader(seq: 10), into: b)
            encoder.checkpointRead(crid: 9, header: MessageHeader(seq: 11), into: b)
        }
        #expect(kept == [true, false, true, true, false])
        #expect(events.wasRead(9) && events.outcome(9) == done)
        #expect(!events.wasRead(10) && events.outcome(10) == done)
        #expect(!events.wasRead(11))
        events.forget(10)
        #expect(try feed(&events) { b in encoder.checkpointDone(done, header: MessageHeader(seq: 10), into: b) } == [false])
    }

    /// A checkpoint-read without its crid is refused as the protocol error it is.
    @Test func aReadWithoutCridIsRefused() throws {
        var events = CheckpointEvents()
        events.expect(9)
        #expect(throws: ProtocolError.self) {
            _ = try feed(&events) { b in
                let start = b.beginMessage(type: 0x1c, flags: 0, seq: 9, portID: 0)
                b.appendGenlHeader(command: UInt8(CKPT_CMD_CHECKPOINT_READ), version: 1)
                b.endMessage(start)
            }
        }
    }
}

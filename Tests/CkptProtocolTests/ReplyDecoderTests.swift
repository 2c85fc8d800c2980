import CCkptUAPI
import Testing
@testable import CkptProtocol

/// Replies built as the kernel builds them (u64s padded), decoded strictly.
@Suite struct ReplyDecoderTests {
    func reply(_ command: Int, _ attrs: (MessageBuffer) -> Void) -> [UInt8] {
        let b = MessageBuffer()
        let start = b.beginMessage(type: 0x1c, flags: 0, seq: 3, portID: 0)
        b.appendGenlHeader(command: UInt8(command), version: 1)
        attrs(b)
        b.endMessage(start)
        return Array(b.bytes)
    }

    func first<R>(_ bytes: [UInt8], _ body: (NetlinkMessage) throws(ProtocolError) -> R) throws -> R {
        try bytes.withUnsafeBytes { raw in
            var reader = NetlinkMessageReader(raw)
            let m = try #require(try reader.next())
            return try body(m)
        }
    }

    @Test func checkpointReply() throws {
        let bytes = reply(CKPT_CMD_CHECKPOINT) { b in b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD) }
        #expect(try first(bytes) { m throws(ProtocolError) in try ReplyDecoder.checkpointAdmitted(m) } == 12)
    }

    @Test func checkpointDoneCompleted() throws {
        let bytes = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_BYTES, 9000, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_CHECKSUM, 0xABCD)
        }
        let r = try first(bytes) { m throws(ProtocolError) in try ReplyDecoder.checkpointDone(m) }
        #expect(r == .completed(CheckpointReply(crid: 12, summary: StreamSummary(records: 8, bytes: 9000, checksum: 0xABCD))))
    }

    @Test func checkpointDoneAborted() throws {
        let bytes = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_REASON, UInt32(CKPT_ABORT_REASON_SINK_TIMEOUT.rawValue))
            b.appendString(CKPT_A_MESSAGE, "the stream did not end within its timeout")
            b.appendU32(CKPT_A_ERROR, 110)
        }
        let r = try first(bytes) { m throws(ProtocolError) in try ReplyDecoder.checkpointDone(m) }
        #expect(r == .aborted(crid: 12, reason: UInt32(CKPT_ABORT_REASON_SINK_TIMEOUT.rawValue),
                              message: "the stream did not end within its timeout", errno: 110))
    }

    /// Counts and an error together, or an error without its reason, are protocol violations.
    @Test func checkpointDoneMixedOrPartial() throws {
        let mixed = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_REASON, 2)
            b.appendU32(CKPT_A_ERROR, 110)
        }
        let e1 = try first(mixed) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.checkpointDone(m); return nil } catch { return error }
        }
        #expect(e1?.kind == .unknownAttribute && e1?.field == "CKPT_A_RECORDS")
        let partial = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_ERROR, 110)
        }
        let e2 = try first(partial) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.checkpointDone(m); return nil } catch { return error }
        }
        #expect(e2?.kind == .missingAttribute && e2?.field == "CKPT_A_REASON")
        let counts = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD)
        }
        let e3 = try first(counts) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.checkpointDone(m); return nil } catch { return error }
        }
        #expect(e3?.kind == .missingAttribute && e3?.field == "CKPT_A_BYTES")
    }

    @Test func restartReplies() throws {
        let begin = reply(CKPT_CMD_RESTART_BEGIN) { $0.appendU32(CKPT_A_RSID, 4) }
        #expect(try first(begin) { m throws(ProtocolError) in try ReplyDecoder.restartBegin(m) } == 4)
        let zero = reply(CKPT_CMD_RESTART_BEGIN) { $0.appendU32(CKPT_A_RSID, 0) }
        #expect(throws: ProtocolError.self) { try first(zero) { m throws(ProtocolError) in try ReplyDecoder.restartBegin(m) } }
        let commit = reply(CKPT_CMD_RESTART_COMMIT) { b in
            b.appendU64(CKPT_A_RECORDS, 3, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_BYTES, 4, padType: CKPT_A_PAD)
        }
        #expect(try first(commit) { m throws(ProtocolError) in try ReplyDecoder.restartCommit(m) }
                == RestartCommitReply(records: 3, bytes: 4))
    }

    @Test func statsReply() throws {
        let bytes = reply(CKPT_CMD_STATS_GET) { b in
            let n = b.beginNest(CKPT_A_STATS)
            for (i, t) in [CKPT_A_STATS_STREAMS, CKPT_A_STATS_RECORDS, CKPT_A_STATS_BYTES, CKPT_A_STATS_ABORTS,
                           CKPT_A_STATS_WAIT_NS, CKPT_A_STATS_RESTARTS, CKPT_A_STATS_RESTART_REJECTS,
                           CKPT_A_STATS_FRAG_PAGES_NEW, CKPT_A_STATS_FRAG_PAGES_REUSED].enumerated() {
                b.appendU64(t, UInt64(i + 1), padType: CKPT_A_STATS_PAD)
            }
            b.endNest(n)
        }
        let s = try first(bytes) { m throws(ProtocolError) in try ReplyDecoder.stats(m) }
        #expect(s.streams == 1 && s.waitNs == 5 && s.restartRejects == 7)
        #expect(s.fragPagesNew == 8 && s.fragPagesReused == 9)
    }

    @Test func replyOfWrongCommand() throws {
        let bytes = reply(CKPT_CMD_RESTART_BEGIN) { $0.appendU32(CKPT_A_RSID, 4) }
        let e = try first(bytes) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.checkpointAdmitted(m); return nil } catch { return error }
        }
        #expect(e?.kind == .unexpectedCommand && e?.offset == 16)
    }

    @Test func replyMissingAttribute() throws {
        let bytes = reply(CKPT_CMD_CHECKPOINT) { _ in }
        let e = try first(bytes) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.checkpointAdmitted(m); return nil } catch { return error }
        }
        #expect(e?.kind == .missingAttribute && e?.field == "CKPT_A_CRID")
    }
}

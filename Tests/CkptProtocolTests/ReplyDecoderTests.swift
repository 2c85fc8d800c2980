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

    /// The counts, and frozen-ns when the kernel stopped the task (a module of session 40).
    @Test func checkpointDoneCompleted() throws {
        for frozen in [nil, 41_500_000] as [UInt64?] {
            let bytes = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
                b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
                b.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD)
                b.appendU64(CKPT_A_BYTES, 9000, padType: CKPT_A_PAD)
                b.appendU32(CKPT_A_CHECKSUM, 0xABCD)
                if let frozen { b.appendU64(CKPT_A_FROZEN_NS, frozen, padType: CKPT_A_PAD) }
            }
            let r = try first(bytes) { m throws(ProtocolError) in try ReplyDecoder.checkpointDone(m) }
            #expect(r == .completed(CheckpointReply(crid: 12, summary: StreamSummary(records: 8, bytes: 9000, checksum: 0xABCD),
                                                    frozenNs: frozen)))
        }
    }

    /// A reply may carry an attribute a newer module added (a type past CKPT_A_MAX): skipped,
    /// the rest decoded. A known attribute that does not belong in the reply is still refused.
    @Test func replySkipsNewerAttributes() throws {
        let newer = UInt16(CKPT_A_MAX + 1)
        let done = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU64(Int(newer), 7, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_BYTES, 9000, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_CHECKSUM, 0xABCD)
        }
        let r = try first(done) { m throws(ProtocolError) in try ReplyDecoder.checkpointDone(m) }
        #expect(r == .completed(CheckpointReply(crid: 12, summary: StreamSummary(records: 8, bytes: 9000, checksum: 0xABCD))))
        let stats = reply(CKPT_CMD_STATS_GET) { b in
            let n = b.beginNest(CKPT_A_STATS)
            for t in [CKPT_A_STATS_STREAMS, CKPT_A_STATS_RECORDS, CKPT_A_STATS_BYTES, CKPT_A_STATS_ABORTS,
                      CKPT_A_STATS_WAIT_NS, CKPT_A_STATS_RESTARTS, CKPT_A_STATS_RESTART_REJECTS,
                      CKPT_A_STATS_FRAG_PAGES_NEW, CKPT_A_STATS_FRAG_PAGES_REUSED, CKPT_A_STATS_MAX + 1] {
                b.appendU64(t, 3, padType: CKPT_A_STATS_PAD)
            }
            b.endNest(n)
        }
        #expect(try first(stats) { m throws(ProtocolError) in try ReplyDecoder.stats(m) }.streams == 3)
        let misplaced = reply(CKPT_CMD_CHECKPOINT) { b in
            b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_RSID, 4)
        }
        let e = try first(misplaced) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.checkpointAdmitted(m); return nil } catch { return error }
        }
        #expect(e?.kind == .unknownAttribute)
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

    /// Counts (or frozen-ns) and an error together, or an error without its reason, are
    /// protocol violations.
    @Test func checkpointDoneMixedOrPartial() throws {
        for (count, name) in [(CKPT_A_RECORDS, "CKPT_A_RECORDS"), (CKPT_A_FROZEN_NS, "CKPT_A_FROZEN_NS")] {
            let mixed = reply(CKPT_CMD_CHECKPOINT_DONE) { b in
                b.appendU64(CKPT_A_CRID, 12, padType: CKPT_A_PAD)
                b.appendU64(count, 8, padType: CKPT_A_PAD)
                b.appendU32(CKPT_A_REASON, 2)
                b.appendU32(CKPT_A_ERROR, 110)
            }
            let e1 = try first(mixed) { m -> ProtocolError? in
                do throws(ProtocolError) { _ = try ReplyDecoder.checkpointDone(m); return nil } catch { return error }
            }
            #expect(e1?.kind == .unknownAttribute && e1?.field == name)
        }
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
        #expect(try first(begin) { m throws(ProtocolError) in try ReplyDecoder.restartBegin(m) }
                == RestartBegun(rsid: 4, flags: nil))
        let withFlags = reply(CKPT_CMD_RESTART_BEGIN) { b in
            b.appendU32(CKPT_A_RSID, 4)
            b.appendU32(CKPT_A_RESTART_FLAGS, UInt32(CKPT_RESTART_FLAGS_DIRECT.rawValue))
        }
        #expect(try first(withFlags) { m throws(ProtocolError) in try ReplyDecoder.restartBegin(m) }
                == RestartBegun(rsid: 4, flags: UInt32(CKPT_RESTART_FLAGS_DIRECT.rawValue)))
        let zero = reply(CKPT_CMD_RESTART_BEGIN) { $0.appendU32(CKPT_A_RSID, 0) }
        #expect(throws: ProtocolError.self) { try first(zero) { m throws(ProtocolError) in try ReplyDecoder.restartBegin(m) } }
        let commit = reply(CKPT_CMD_RESTART_COMMIT) { b in
            b.appendU64(CKPT_A_RECORDS, 3, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_BYTES, 4, padType: CKPT_A_PAD)
        }
        #expect(try first(commit) { m throws(ProtocolError) in try ReplyDecoder.restartCommit(m) }
                == RestartCommitReply(records: 3, bytes: 4))
    }

    @Test func restartWritten() throws {
        let bytes = reply(CKPT_CMD_RESTART_WRITTEN) { b in
            b.appendU32(CKPT_A_RSID, 4)
            b.appendU32(CKPT_A_SEQ, 41)
            b.appendU64(CKPT_A_BYTES, 1 << 33, padType: CKPT_A_PAD)
        }
        #expect(try first(bytes) { m throws(ProtocolError) in try ReplyDecoder.restartWritten(m) }
                == RestartWritten(rsid: 4, seq: 41, bytes: 1 << 33))
        let noSeq = reply(CKPT_CMD_RESTART_WRITTEN) { b in
            b.appendU32(CKPT_A_RSID, 4)
            b.appendU64(CKPT_A_BYTES, 1, padType: CKPT_A_PAD)
        }
        let e = try first(noSeq) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.restartWritten(m); return nil } catch { return error }
        }
        #expect(e?.kind == .missingAttribute && e?.field == "CKPT_A_SEQ")
    }

    @Test func restartDoneCompletedAndFailed() throws {
        let completed = reply(CKPT_CMD_RESTART_DONE) { b in
            b.appendU32(CKPT_A_RSID, 4)
            b.appendU64(CKPT_A_RECORDS, 19, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_BYTES, 327_680, padType: CKPT_A_PAD)
        }
        #expect(try first(completed) { m throws(ProtocolError) in try ReplyDecoder.restartDone(m) }
                == RestartDone(rsid: 4, outcome: .completed(RestartCommitReply(records: 19, bytes: 327_680))))
        let failed = reply(CKPT_CMD_RESTART_DONE) { b in
            b.appendU32(CKPT_A_RSID, 4)
            b.appendU32(CKPT_A_ERROR, 14)
            b.appendString(CKPT_A_MESSAGE, "writing pages at 7f0000001000 failed")
        }
        #expect(try first(failed) { m throws(ProtocolError) in try ReplyDecoder.restartDone(m) }
                == RestartDone(rsid: 4, outcome: .failed(errno: 14, message: "writing pages at 7f0000001000 failed")))
    }

    /// Counts and an error together, a message without its errno, an errno out of range, or
    /// counts missing one are protocol violations.
    @Test func restartDoneMixedOrPartial() throws {
        func error(_ attrs: @escaping (MessageBuffer) -> Void) throws -> ProtocolError? {
            try first(reply(CKPT_CMD_RESTART_DONE) { b in b.appendU32(CKPT_A_RSID, 4); attrs(b) }) { m -> ProtocolError? in
                do throws(ProtocolError) { _ = try ReplyDecoder.restartDone(m); return nil } catch { return error }
            }
        }
        let mixed = try error { b in
            b.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_ERROR, 5)
        }
        #expect(mixed?.kind == .unknownAttribute && mixed?.field == "CKPT_A_RECORDS")
        let noErrno = try error { $0.appendString(CKPT_A_MESSAGE, "stopped") }
        #expect(noErrno?.kind == .missingAttribute && noErrno?.field == "CKPT_A_ERROR")
        let zero = try error { $0.appendU32(CKPT_A_ERROR, 0) }
        #expect(zero?.kind == .valueOutOfRange && zero?.field == "CKPT_A_ERROR")
        let half = try error { $0.appendU64(CKPT_A_RECORDS, 8, padType: CKPT_A_PAD) }
        #expect(half?.kind == .missingAttribute && half?.field == "CKPT_A_BYTES")
        let rsidZero = try first(reply(CKPT_CMD_RESTART_DONE) { b in
            b.appendU32(CKPT_A_RSID, 0)
            b.appendU32(CKPT_A_ERROR, 5)
        }) { m -> ProtocolError? in
            do throws(ProtocolError) { _ = try ReplyDecoder.restartDone(m); return nil } catch { return error }
        }
        #expect(rsidZero?.kind == .valueOutOfRange && rsidZero?.field == "CKPT_A_RSID")
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
        #expect(s.heldBytes == nil, "a module before session 38 does not count held bytes")
        #expect(s.holdReservedPages == nil, "nor one before session 39 reserved pages")
        var held = s
        held.heldBytes = 10
        held.holdReservedPages = 11
        let b = MessageBuffer()
        MessageEncoder(messageType: 0x1c).statsReply(held, into: b)
        let again = try first(Array(b.bytes)) { m throws(ProtocolError) in try ReplyDecoder.stats(m) }
        #expect(again.heldBytes == 10 && again.holdReservedPages == 11 && again.fragPagesReused == 9)
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

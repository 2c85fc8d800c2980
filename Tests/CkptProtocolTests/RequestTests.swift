import CCkptUAPI
import Testing
@testable import CkptProtocol

/// Requests as a kernel (or a fake one) sees them, and the answers it sends back.
@Suite struct RequestTests {
    let encoder = MessageEncoder(messageType: 0x1c)

    func decode(_ b: MessageBuffer) throws -> [(String, NetlinkMessage)] {
        var out: [(String, NetlinkMessage)] = []
        try RequestDecoder().decode(datagram: b.bytes, expectedType: 0x1c) { r, m in out.append(("\(r)", m)) }
        return out
    }

    func requestError(_ build: (MessageBuffer) -> Void) -> ProtocolError? {
        let b = MessageBuffer()
        build(b)
        do {
            _ = try decode(b)
            return nil
        } catch let e as ProtocolError {
            return e
        } catch {
            return nil
        }
    }

    @Test func everyRequestRoundTrips() throws {
        let b = MessageBuffer()
        encoder.sinkRegister(header: MessageHeader(seq: 1), into: b)
        encoder.sinkUnregister(header: MessageHeader(seq: 2), into: b)
        encoder.statsGet(header: MessageHeader(seq: 3), into: b)
        encoder.checkpoint(pid: 10, flags: UInt32(CKPT_CHECKPOINT_FLAGS_STOP.rawValue), timeoutMs: 500,
                           header: MessageHeader(seq: 4), into: b)
        encoder.restartBegin(pid: 10, flags: UInt32(CKPT_RESTART_FLAGS_VALIDATE_ONLY.rawValue),
                             header: MessageHeader(seq: 5), into: b)
        let meta = metaBytes(sampleTask, padded: false)
        meta.withUnsafeBytes { m in
            _ = encoder.restartRecord(rsid: 7, RecordFragment(
                crid: 0, seq: 2, type: .task, id: 2, parent: 0, dataLength: 0, dataOffset: 0, meta: m,
                data: UnsafeRawBufferPointer(start: nil, count: 0)), header: MessageHeader(seq: 6), into: b)
        }
        encoder.restartCommit(rsid: 7, seq: 9, summary: StreamSummary(records: 8, bytes: 100, checksum: 5),
                              header: MessageHeader(seq: 7), into: b)
        encoder.restartAbort(rsid: 7, header: MessageHeader(seq: 8), into: b)
        let got = try decode(b)
        #expect(got.map { $0.1.seq } == Array(1...8))
        #expect(got.allSatisfy { $0.1.flags == UInt16(NLM_F_REQUEST | NLM_F_ACK) })
        #expect(got[3].0 == "checkpoint(pid: 10, flags: 1, timeoutMs: 500)")
        #expect(got[4].0 == "restartBegin(pid: 10, flags: 1)")
        #expect(got[5].0.hasPrefix("restartRecord(rsid: 7,"))
        #expect(got[6].0.contains("records: 8, bytes: 100, checksum: 5"))
        #expect(got[7].0 == "restartAbort(rsid: 7)")
    }

    @Test func unknownCheckpointFlagBitsAreRejected() {
        let e = requestError { encoder.checkpoint(pid: 10, flags: UInt32(CKPT_CHECKPOINT_FLAGS_MASK.rawValue) + 1, into: $0) }
        #expect(e?.kind == .valueOutOfRange && e?.field == "CKPT_A_CHECKPOINT_FLAGS" && e?.offset == 28)
    }

    @Test func checkpointWithAParentCarriesItsRanges() throws {
        let parent = PreCopyParent(crid: 0x0102, ranges: [0x1000..<0x3000, 0x7000_0000_0000..<0x7000_0000_1000])
        #expect(parent.encodedRanges() == [0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0x70, 0, 0, 0, 0x10, 0, 0, 0, 0x70, 0, 0])
        let b = MessageBuffer()
        encoder.checkpoint(pid: 10, parent: parent, header: MessageHeader(seq: 4), into: b)
        #expect(try decode(b).first?.0 == "checkpoint(pid: 10, flags: 0, timeoutMs: 0)")
        // The attributes, in order: pid, parent-crid (after its pad), the ranges.
        var reader = NetlinkMessageReader(b.bytes)
        let m = try #require(try reader.next())
        var attrs = NetlinkAttributeReader(UnsafeRawBufferPointer(rebasing: m.payload[4...]), baseOffset: m.payloadOffset + 4,
                                           container: "message")
        var types: [UInt16] = []
        var ranges: [UInt8] = []
        while let a = try attrs.next() {
            types.append(a.type)
            if a.type == UInt16(CKPT_A_DIRTY_RANGES) { ranges = Array(a.value) }
        }
        #expect(types.filter { $0 != UInt16(CKPT_A_PAD) } == [UInt16(CKPT_A_PID), UInt16(CKPT_A_PARENT_CRID), UInt16(CKPT_A_DIRTY_RANGES)])
        #expect(ranges == parent.encodedRanges())
    }

    @Test func unknownRestartFlagBitsAreRejected() {
        let e = requestError { encoder.restartBegin(pid: 10, flags: 0x80, into: $0) }
        #expect(e?.kind == .valueOutOfRange && e?.field == "CKPT_A_RESTART_FLAGS")
    }

    @Test func requestPidZero() {
        let e = requestError { encoder.checkpoint(pid: 0, into: $0) }
        #expect(e?.kind == .valueOutOfRange && e?.field == "CKPT_A_PID" && e?.offset == 20)
    }

    @Test func padAttributeInRequestIsRejected() {
        let e = requestError { b in
            let start = encoder.begin(CKPT_CMD_RESTART_COMMIT, MessageHeader(), defaultFlags: 5, into: b)
            b.appendU32(CKPT_A_RSID, 1)
            b.appendU32(CKPT_A_SEQ, 1)
            b.appendU64(CKPT_A_RECORDS, 1, padType: CKPT_A_PAD)
            b.appendU64(CKPT_A_BYTES, 1, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_CHECKSUM, 1)
            b.endMessage(start)
        }
        // RSID @20, SEQ @28, RECORDS @36 (value at 40: no pad), PAD @48 before BYTES.
        #expect(e?.kind == .unknownAttribute && e?.field == "message: CKPT_A_PAD" && e?.offset == 48)
    }

    @Test func restartRsidZero() {
        let e = requestError { encoder.restartAbort(rsid: 0, into: $0) }
        #expect(e?.kind == .valueOutOfRange && e?.field == "CKPT_A_RSID")
    }

    @Test func streamCommandIsNotARequest() {
        let e = requestError { encoder.streamBegin(crid: 1, pid: 2, into: $0) }
        #expect(e?.kind == .unexpectedCommand && e?.offset == 16)
    }

    @Test func ackAndErrorAnswersParse() throws {
        let request = MessageBuffer()
        encoder.checkpoint(pid: 10, header: MessageHeader(seq: 42, portID: 777), into: request)
        var reader = NetlinkMessageReader(request.bytes)
        let m = try #require(try reader.next())
        let answers = MessageBuffer()
        MessageEncoder.ack(m, into: answers)
        MessageEncoder.ack(m, error: -3, message: "no such task", attributeOffset: 20, into: answers)
        var r2 = NetlinkMessageReader(answers.bytes)
        let ack = try NetlinkErrorMessage(try #require(try r2.next()))
        #expect(ack.isAck && ack.requestSeq == 42 && ack.message == nil)
        let err = try NetlinkErrorMessage(try #require(try r2.next()))
        #expect(err == NetlinkErrorMessage(error: -3, requestSeq: 42, requestType: 0x1c, message: "no such task",
                                           attributeOffset: 20))
    }

    @Test func fakeKernelRepliesDecode() throws {
        let b = MessageBuffer()
        let reply = CheckpointReply(crid: 5, summary: StreamSummary(records: 1, bytes: 2, checksum: 3))
        let frozen = CheckpointReply(crid: 6, summary: StreamSummary(records: 1, bytes: 2, checksum: 3), frozenNs: 4)
        encoder.checkpointReply(crid: 5, into: b)
        encoder.checkpointDone(.completed(reply), into: b)
        encoder.checkpointDone(.completed(frozen), into: b)
        let aborted = CheckpointOutcome.aborted(crid: 5, reason: UInt32(CKPT_ABORT_REASON_EXEC.rawValue),
                                                message: "the task called execve()", errno: 13)
        encoder.checkpointDone(aborted, into: b)
        var stats = CkptStats()
        stats.bytes = 99
        encoder.statsReply(stats, into: b)
        encoder.restartBeginReply(rsid: 4, into: b)
        encoder.restartCommitReply(RestartCommitReply(records: 6, bytes: 7), into: b)
        let written = RestartWritten(rsid: 4, seq: 12, bytes: 8192)
        encoder.restartWritten(written, into: b)
        let done = RestartDone(rsid: 4, outcome: .completed(RestartCommitReply(records: 6, bytes: 7)))
        encoder.restartDone(done, into: b)
        let failed = RestartDone(rsid: 4, outcome: .failed(errno: 3, message: nil))
        encoder.restartDone(failed, into: b)
        var reader = NetlinkMessageReader(b.bytes)
        #expect(try ReplyDecoder.checkpointAdmitted(try #require(try reader.next())) == 5)
        #expect(try ReplyDecoder.checkpointDone(try #require(try reader.next())) == .completed(reply))
        #expect(try ReplyDecoder.checkpointDone(try #require(try reader.next())) == .completed(frozen))
        #expect(try ReplyDecoder.checkpointDone(try #require(try reader.next())) == aborted)
        #expect(try ReplyDecoder.stats(try #require(try reader.next())) == stats)
        #expect(try ReplyDecoder.restartBegin(try #require(try reader.next())) == RestartBegun(rsid: 4, flags: 0))
        #expect(try ReplyDecoder.restartCommit(try #require(try reader.next())) == RestartCommitReply(records: 6, bytes: 7))
        #expect(try ReplyDecoder.restartWritten(try #require(try reader.next())) == written)
        #expect(try ReplyDecoder.restartDone(try #require(try reader.next())) == done)
        #expect(try ReplyDecoder.restartDone(try #require(try reader.next())) == failed)
    }
}

/// restart-record sent as head + the caller's data + padding (an iovec, no copy) is the very
/// datagram `restartRecord` builds, for data of every length modulo 4 and the largest.
@Suite struct RestartRecordHeadTests {
    @Test func headPlusDataPlusPaddingIsTheWholeMessage() {
        let meta = metaBytes(samplePages, padded: false)
        for n in [0, 1, 2, 3, 4, 5, 4096, 65531] {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let whole = MessageBuffer(), head = MessageBuffer()
            var padding = -1
            meta.withUnsafeBytes { m in
                data.withUnsafeBytes { d in
                    let f = RecordFragment(crid: 0, seq: 3, type: .pages, id: 9, parent: 8, dataLength: UInt64(max(n, 1)),
                                           dataOffset: 0, meta: m, data: d)
                    _ = MessageEncoder(messageType: 0x1c).restartRecord(rsid: 5, f, into: whole)
                    padding = MessageEncoder(messageType: 0x1c).restartRecordHead(rsid: 5, f, into: head)
                }
            }
            let sent = Array(head.bytes) + (n > 0 ? data : []) + [UInt8](repeating: 0, count: padding)
            #expect(sent == Array(whole.bytes), "data of \(n) bytes")
            #expect(padding == (4 - n % 4) % 4)
        }
    }
}

/// Replay's path from a captured (padded) meta payload to a restart-record the kernel accepts.
@Suite struct RestartMetaTests {
    @Test func capturedPaddedMetaIsRejectedInRestartRecord() throws {
        let b = MessageBuffer()
        let padded = metaBytes(sampleMM)  // as the kernel sent it: with CKPT_A_META_PAD
        padded.withUnsafeBytes { m in
            _ = MessageEncoder(messageType: 0x1c).restartRecord(rsid: 1, RecordFragment(
                crid: 0, seq: 1, type: .mm, id: 4, parent: 2, dataLength: 0, dataOffset: 0, meta: m,
                data: UnsafeRawBufferPointer(start: nil, count: 0)), into: b)
        }
        var caught: ProtocolError?
        do {
            try RequestDecoder().decode(datagram: b.bytes, expectedType: 0x1c) { _, _ in }
        } catch let e as ProtocolError {
            caught = e
        }
        // META @20, payload @24: the first u64 (START_CODE) needs a pad at 24.
        #expect(caught?.kind == .unknownAttribute && caught?.field == "CKPT_A_META: CKPT_A_META_PAD" && caught?.offset == 24)
    }

    @Test func strippedMetaIsAcceptedAndDecodesTheSame() throws {
        let padded = metaBytes(sampleMM)
        let stripped = MessageBuffer()
        let range = try padded.withUnsafeBytes { try MetaSchema.appendStrippingPads($0, into: stripped) }
        #expect(Array(stripped.bytes(range)) == metaBytes(sampleMM, padded: false))
        let b = MessageBuffer()
        _ = MessageEncoder(messageType: 0x1c).restartRecord(rsid: 1, RecordFragment(
            crid: 0, seq: 1, type: .mm, id: 4, parent: 2, dataLength: 0, dataOffset: 0, meta: stripped.bytes(range),
            data: UnsafeRawBufferPointer(start: nil, count: 0)), into: b)
        var metas: [RecordMeta] = []
        try RequestDecoder().decode(datagram: b.bytes, expectedType: 0x1c) { r, _ in
            if case let .restartRecord(_, f) = r, let m = f.meta { metas.append(try RecordMeta(type: f.type, payload: m)) }
        }
        #expect(metas == [sampleMM])
    }
}

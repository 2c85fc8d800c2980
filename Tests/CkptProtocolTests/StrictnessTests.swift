import CCkptUAPI
import Testing
@testable import CkptProtocol

/// One test per rule: hand-built malformed bytes, each rejected with its exact kind,
/// field and offset.
@Suite struct StrictnessTests {
    /// A valid stream-begin: CRID @20, SEQ @32, PID @40, 48 bytes.
    func begin(_ extra: (MessageBuffer) -> Void = { _ in }, pid: UInt32 = 42, seq: UInt32 = 0) -> [UInt8] {
        message(command: CKPT_CMD_STREAM_BEGIN) { b in
            b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_SEQ, seq)
            b.appendU32(CKPT_A_PID, pid)
            extra(b)
        }
    }

    func expectError(_ bytes: [UInt8], _ kind: ProtocolError.Kind, field: String? = nil, offset: Int,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = decodeError(bytes) else {
            Issue.record("decoded without error, expected \(kind)", sourceLocation: sourceLocation)
            return
        }
        #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
        #expect(e.offset == offset, "\(e)", sourceLocation: sourceLocation)
        if let field { #expect(e.field == field, "\(e)", sourceLocation: sourceLocation) }
        #expect(!e.description.isEmpty)
    }

    func patched(_ bytes: [UInt8], at offset: Int, _ values: [UInt8]) -> [UInt8] {
        var b = bytes
        b.replaceSubrange(offset..<(offset + values.count), with: values)
        return b
    }

    @Test func validBeginDecodes() throws {
        let events = try decodeAll(begin())
        #expect(events.count == 1)
    }

    /// The stream refuses an attribute type newer than this build (a reply would skip it:
    /// ReplyDecoderTests.replySkipsNewerAttributes): what an image is made of is never lost.
    @Test func newerAttributeInStreamRefused() throws {
        let bytes = begin { b in b.appendU32(CKPT_A_MAX + 1, 1) }
        expectError(bytes, .unknownAttribute, offset: 48)
    }

    // MARK: nlmsghdr

    @Test func truncatedMessageHeader() {
        expectError(Array(begin().prefix(10)), .truncatedMessageHeader, field: "nlmsghdr", offset: 0)
    }

    @Test func truncatedSecondMessageHeader() {
        expectError(begin() + [1, 2, 3, 4, 5, 6, 7, 8], .truncatedMessageHeader, offset: 48)
    }

    @Test func messageLengthBelowHeader() {
        expectError(patched(begin(), at: 0, [8, 0, 0, 0]), .badMessageLength, field: "nlmsghdr.nlmsg_len", offset: 0)
    }

    @Test func messageLengthPastDatagram() {
        expectError(patched(begin(), at: 0, [49, 0, 0, 0]), .badMessageLength, offset: 0)
    }

    @Test func secondMessageLengthPastDatagram() {
        expectError(begin() + patched(begin(), at: 0, [200, 0, 0, 0]), .badMessageLength, offset: 48)
    }

    @Test func unexpectedMessageType() {
        let e = decodeError(begin(), type: 0x1c)
        #expect(e?.kind == .unexpectedMessageType && e?.value == 16 && e?.limit == 0x1c && e?.offset == 0)
    }

    @Test func overrun() {
        expectError(patched(begin(), at: 4, [UInt8(NLMSG_OVERRUN), 0]), .overrun, offset: 0)
    }

    @Test func errorMessageInStream() {
        // NLMSG_ERROR, error -EPERM, uncapped echo of a 16-byte request header.
        var bytes: [UInt8] = [36, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        bytes += [16, 0, 0, 0, 0x10, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        bytes[16] = 0xff  // -1 = -EPERM
        let e = decodeError(begin() + bytes)
        #expect(e?.kind == .errorMessage && e?.value == 1 && e?.offset == 48)
    }

    @Test func acksNoopsAndDoneAreSkipped() throws {
        let ack: [UInt8] = [36, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            16, 0, 0, 0, 0x10, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        let done: [UInt8] = [20, 0, 0, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let noop: [UInt8] = [16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try decodeAll(ack + begin() + noop + done + begin()).count == 2)
    }

    @Test func lastMessageMayLackPadding() throws {
        // A message whose length is not a multiple of 4 ends the datagram: accepted when its
        // attributes are whole. Here: a 3-byte data attribute, datagram cut before the padding.
        let meta = metaBytes(sampleRegs)
        var bytes = message(command: CKPT_CMD_RECORD) { b in recordAttrs(b, dataLength: 3, meta: meta, data: [1, 2, 3]) }
        bytes.removeLast()
        bytes[0] -= 1
        #expect(try decodeAll(bytes).count == 1)
    }

    // MARK: genlmsghdr

    @Test func truncatedGenlHeader() {
        var bytes = Array(begin().prefix(18))
        bytes[0] = 18
        expectError(bytes, .truncatedGenlHeader, field: "genlmsghdr", offset: 16)
    }

    @Test func badVersion() {
        expectError(patched(begin(), at: 17, [2]), .badVersion, field: "genlmsghdr.version", offset: 16)
    }

    @Test func badReserved() {
        expectError(patched(begin(), at: 18, [1, 0]), .badReserved, field: "genlmsghdr.reserved", offset: 16)
    }

    @Test func requestCommandInStream() {
        expectError(patched(begin(), at: 16, [UInt8(CKPT_CMD_CHECKPOINT)]), .unexpectedCommand, offset: 16)
    }

    @Test func unknownCommand() {
        expectError(patched(begin(), at: 16, [99]), .unexpectedCommand, offset: 16)
    }

    // MARK: nlattr framing

    @Test func attributeLengthBelowHeader() {
        expectError(patched(begin(), at: 32, [2, 0]), .badAttributeLength, offset: 32)
    }

    @Test func attributeLengthPastMessage() {
        expectError(patched(begin(), at: 40, [12, 0]), .badAttributeLength, offset: 40)
    }

    @Test func trailingBytesAfterLastAttribute() {
        var bytes = begin() + [0, 0]
        bytes[0] = 50
        expectError(bytes, .trailingBytes, offset: 48)
    }

    @Test func unknownAttributeType() {
        expectError(begin { b in b.appendU32(99, 1) }, .unknownAttribute, offset: 48)
    }

    @Test func attributeOfAnotherCommand() {
        expectError(begin { b in b.appendU64(CKPT_A_RECORDS, 1, padType: nil) }, .unknownAttribute,
                    field: "message: CKPT_A_RECORDS", offset: 48)
    }

    @Test func attributeTypeZero() {
        expectError(begin { b in b.appendU32(0, 1) }, .unknownAttribute, offset: 48)
    }

    @Test func duplicateAttribute() {
        expectError(begin { b in b.appendU32(CKPT_A_SEQ, 0) }, .duplicateAttribute, field: "CKPT_A_SEQ", offset: 48)
    }

    @Test func missingAttribute() {
        let bytes = message(command: CKPT_CMD_STREAM_BEGIN) { b in
            b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_SEQ, 0)
        }
        let e = decodeError(bytes)
        #expect(e?.kind == .missingAttribute && e?.field == "CKPT_A_PID" && e?.offset == 0 && e?.crid == 9)
    }

    @Test func u32WithWrongSize() {
        let bytes = message(command: CKPT_CMD_STREAM_BEGIN) { b in
            b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_SEQ, 0)
            b.appendU64(CKPT_A_PID, 42, padType: nil)
        }
        let e = decodeError(bytes)
        #expect(e?.kind == .badAttributeSize && e?.field == "CKPT_A_PID" && e?.offset == 40 && e?.value == 8 && e?.limit == 4)
    }

    @Test func u64WithWrongSize() {
        let bytes = message(command: CKPT_CMD_STREAM_BEGIN) { b in b.appendU32(CKPT_A_CRID, 9) }
        expectError(bytes, .badAttributeSize, field: "CKPT_A_CRID", offset: 20)
    }

    @Test func padWithPayload() {
        let bytes = message(command: CKPT_CMD_STREAM_BEGIN) { b in b.appendU32(CKPT_A_PAD, 0) }
        expectError(bytes, .badAttributeSize, field: "CKPT_A_PAD", offset: 20)
    }

    @Test func nestedFlagOnLeaf() {
        expectError(patched(begin(), at: 43, [0x80]), .badAttributeFlags, offset: 40)
    }

    @Test func netByteOrderFlag() {
        expectError(patched(begin(), at: 43, [0x40]), .badAttributeFlags, offset: 40)
    }

    @Test func metaWithoutNestedFlag() {
        var bytes = message(command: CKPT_CMD_RECORD) { b in recordAttrs(b) }
        bytes[23] = 0  // CKPT_A_META @20: clear NLA_F_NESTED
        expectError(bytes, .badAttributeFlags, field: "CKPT_A_META: NLA_F_NESTED", offset: 20)
    }

    @Test func nestInsideMeta() {
        let bytes = message(command: CKPT_CMD_RECORD) { b in
            let inner = MessageBuffer()
            let n = inner.beginNest(CKPT_A_META_TID)
            inner.appendU32(CKPT_A_META_TID, 1)
            inner.endNest(n)
            recordAttrs(b, meta: Array(inner.bytes))
        }
        expectError(bytes, .nestingTooDeep, offset: 24)
    }

    @Test func stringWithoutNul() {
        let bytes = message(command: CKPT_CMD_STREAM_ABORT) { b in
            b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_SEQ, 3)
            b.appendU32(CKPT_A_REASON, 1)
            Array("oops".utf8).withUnsafeBytes { b.appendAttribute(CKPT_A_MESSAGE, $0) }
        }
        let e = decodeError(bytes)
        #expect(e?.kind == .badString && e?.offset == 48 && e?.crid == 9 && e?.seq == 3)
    }

    @Test func stringWithInteriorNul() {
        let bytes = message(command: CKPT_CMD_STREAM_ABORT) { b in
            b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD)
            b.appendU32(CKPT_A_SEQ, 3)
            b.appendU32(CKPT_A_REASON, 1)
            [0x61, 0, 0x62, 0].withUnsafeBytes { b.appendAttribute(CKPT_A_MESSAGE, $0) }
        }
        expectError(bytes, .badString, field: "CKPT_A_MESSAGE", offset: 48)
    }

    @Test func commTooLong() {
        var task = TaskMeta(pid: 1, tgid: 1, ppid: 0, comm: "sixteen-bytes-xx", uid: 0, gid: 0, euid: 0, egid: 0)
        let bytes = message(command: CKPT_CMD_RECORD) { b in
            recordAttrs(b, recType: RecordType.task.rawValue, dataLength: 0, meta: metaBytes(.task(task)), data: nil)
        }
        // META @20, payload @24: PID @24, TGID @32, PPID @40, COMM @48.
        expectError(bytes, .badString, field: "CKPT_A_META_COMM", offset: 48)
        task.comm = "fifteen-bytes-x"
        let ok = message(command: CKPT_CMD_RECORD) { b in
            recordAttrs(b, recType: RecordType.task.rawValue, dataLength: 0, meta: metaBytes(.task(task)), data: nil)
        }
        #expect(decodeError(ok) == nil)
    }

    // MARK: values

    @Test func pidZero() { expectError(begin(pid: 0), .valueOutOfRange, field: "CKPT_A_PID", offset: 40) }

    @Test func beginSeqNotZero() { expectError(begin(seq: 1), .valueOutOfRange, field: "CKPT_A_SEQ", offset: 32) }

    @Test func abortReasonOutOfRange() {
        for reason: UInt32 in [0, CKPT_ABORT_REASON_MAX.rawValue + 1] {
            let bytes = message(command: CKPT_CMD_STREAM_ABORT) { b in
                b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD)
                b.appendU32(CKPT_A_SEQ, 3)
                b.appendU32(CKPT_A_REASON, reason)
            }
            expectError(bytes, .valueOutOfRange, field: "CKPT_A_REASON", offset: 40)
        }
    }

    /// Record attribute offsets with the default first fragment (regs meta, 8 data bytes):
    /// META @20 (payload @24, TID @24), PAD @32, CRID @36, SEQ @48, REC_TYPE @56,
    /// REC_ID @64, REC_PARENT @72, PAD @80, DATA_LEN @84, PAD @96, DATA_OFFSET @100, DATA @112.
    func record(_ configure: (MessageBuffer) -> Void) -> [UInt8] { message(command: CKPT_CMD_RECORD, configure) }

    @Test func validRecordDecodes() throws {
        let events = try decodeAll(record { recordAttrs($0) })
        #expect(events.count == 1)
        let f = try #require(events.first)
        // numbers: type, id, parent, data-len, data-offset
        #expect(f.kind == "record" && f.numbers == [3, 3, 2, 8, 0] && f.crid == 9 && f.seq == 5)
        #expect(f.data == [1, 2, 3, 4, 5, 6, 7, 8] && f.meta == metaBytes(sampleRegs))
    }

    @Test func recordTypeUnspec() {
        expectError(record { recordAttrs($0, recType: 0) }, .valueOutOfRange, field: "CKPT_A_REC_TYPE", offset: 56)
    }

    @Test func recordTypeUnknown() {
        let unknown = RecordType.allCases.map(\.rawValue).max()! + 1  // one past the last type
        let e = decodeError(record { recordAttrs($0, recType: unknown) })
        #expect(e?.kind == .valueOutOfRange && e?.offset == 56 && e?.value == UInt64(unknown) && e?.crid == 9 && e?.seq == 5)
    }

    @Test func recordIDZero() {
        expectError(record { recordAttrs($0, id: 0) }, .valueOutOfRange, field: "CKPT_A_REC_ID", offset: 64)
    }

    @Test func dataLengthAboveRecordMax() {
        expectError(record { recordAttrs($0, dataLength: UInt64(CKPT_RECORD_DATA_MAX) + 1) }, .valueOutOfRange,
                    field: "CKPT_A_DATA_LEN", offset: 84)
    }

    @Test func dataOffsetAboveRecordMax() {
        expectError(record { recordAttrs($0, dataLength: 8, dataOffset: UInt64(CKPT_RECORD_DATA_MAX) + 1, meta: nil) },
                    .valueOutOfRange, field: "CKPT_A_DATA_OFFSET", offset: 84)
    }

    @Test func dataBeyondRecord() {
        // data-len 8, offset 4, 8 bytes of data: ends at 12. No meta: CRID @20 ... DATA @96.
        let e = decodeError(record { recordAttrs($0, dataLength: 8, dataOffset: 4, meta: nil) })
        #expect(e?.kind == .dataBeyondRecord && e?.offset == 96 && e?.value == 12 && e?.limit == 8)
    }

    @Test func metaInLaterFragment() {
        expectError(record { recordAttrs($0, dataLength: 16, dataOffset: 8) }, .metaNotInFirstFragment,
                    field: "CKPT_A_META", offset: 20)
    }

    @Test func metaMissingInFirstFragment() {
        expectError(record { recordAttrs($0, meta: nil) }, .missingAttribute, field: "CKPT_A_META", offset: 0)
    }

    @Test func dataWithZeroDataLength() {
        // data-len 0 with an empty CKPT_A_DATA: DATA @112 (the 8 bytes variant would be dataBeyondRecord).
        expectError(record { recordAttrs($0, dataLength: 0, data: []) }, .dataPresenceMismatch, offset: 112)
    }

    @Test func dataChecksumWithoutData() {
        // data-len 0, no data, a data checksum: the checksum is refused, where it is.
        let bytes = record { recordAttrs($0, dataLength: 0, data: nil); $0.appendU32(CKPT_A_DATA_CHECKSUM, 7) }
        let e = decodeError(bytes)
        #expect(e?.kind == .checksumWithoutData && e?.field == "CKPT_A_DATA_CHECKSUM")
        #expect(decodeError(record { recordAttrs($0, dataLength: 0, data: nil) }) == nil)
        #expect(decodeError(record { recordAttrs($0); $0.appendU32(CKPT_A_DATA_CHECKSUM, 7) }) == nil)
    }

    @Test func noDataWithNonzeroDataLength() {
        expectError(record { recordAttrs($0, dataLength: 8, data: nil) }, .dataPresenceMismatch, offset: 0)
    }

    @Test func missingRecordAttribute() {
        expectError(record { recordAttrs($0, skip: CKPT_A_REC_PARENT) }, .missingAttribute, field: "CKPT_A_REC_PARENT",
                    offset: 0)
    }

    // MARK: meta

    @Test func metaFieldOfAnotherType() {
        // pages meta carrying a tid.
        let meta = metaBytes(samplePages) + { let b = MessageBuffer(); b.appendU32(CKPT_A_META_TID, 1); return Array(b.bytes) }()
        // pages meta: ADDR @24 (value @28? no: ADDR header @24 would put its value at 28, so PAD @24, ADDR @28),
        // NR_PAGES @40, TID @48.
        expectError(record { recordAttrs($0, recType: RecordType.pages.rawValue, dataLength: 8192, meta: meta,
                                         data: [UInt8](repeating: 0, count: 8)) },
                    .unknownAttribute, field: "CKPT_A_META: CKPT_A_META_TID", offset: 48)
    }

    @Test func metaRequiredFieldMissing() {
        let b = MessageBuffer()
        b.appendU64(CKPT_A_META_ADDR, 0x1000, padType: CKPT_A_META_PAD)
        expectError(record { recordAttrs($0, recType: RecordType.pages.rawValue, dataLength: 8, meta: Array(b.bytes)) },
                    .missingAttribute, field: "CKPT_A_META_NR_PAGES", offset: 20)
    }

    @Test func metaDuplicateField() {
        let b = MessageBuffer()
        b.appendU32(CKPT_A_META_TID, 1)
        b.appendU32(CKPT_A_META_TID, 2)
        expectError(record { recordAttrs($0, meta: Array(b.bytes)) }, .duplicateAttribute, field: "CKPT_A_META_TID",
                    offset: 32)
    }

    @Test func metaUnknownType() {
        let b = MessageBuffer()
        b.appendU32(CKPT_A_META_TID, 1)
        b.appendU32(CKPT_A_META_MAX + 1, 2)
        expectError(record { recordAttrs($0, meta: Array(b.bytes)) }, .unknownAttribute, offset: 32)
    }

    @Test func metaBadFraming() {
        let b = MessageBuffer()
        b.appendU32(CKPT_A_META_TID, 1)
        b.appendRaw([0, 0])  // two stray bytes inside the nest
        expectError(record { recordAttrs($0, meta: Array(b.bytes)) }, .trailingBytes, field: "CKPT_A_META", offset: 32)
    }

    @Test func nrPagesOutOfRange() {
        for n: UInt32 in [0, UInt32(CKPT_PAGES_RUN_MAX) + 1] {
            let meta = metaBytes(.pages(PagesMeta(addr: 0x1000, nrPages: n)))
            expectError(record { recordAttrs($0, recType: RecordType.pages.rawValue, dataLength: 8, meta: meta) },
                        .valueOutOfRange, field: "CKPT_A_META_NR_PAGES", offset: 40)
        }
    }

    @Test func pageSizeNotPowerOfTwo() {
        let meta = metaBytes(.header(HeaderMeta(arch: "x86_64", pageSize: 3000, release: "6", timeNs: 1)))
        // ARCH @24 (12 bytes), PAGE_SIZE @36.
        expectError(record { recordAttrs($0, recType: RecordType.header.rawValue, dataLength: 0, meta: meta, data: nil) },
                    .valueOutOfRange, field: "CKPT_A_META_PAGE_SIZE", offset: 36)
    }

    @Test func everyKindHasAnExplanation() {
        for kind in ProtocolError.Kind.allCases { #expect(!kind.explanation.isEmpty) }
    }
}

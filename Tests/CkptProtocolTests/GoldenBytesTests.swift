import CCkptUAPI
import Testing
@testable import CkptProtocol

/// Encoder output against bytes written out by hand, field by field (x86-64, little endian).
@Suite struct GoldenBytesTests {
    @Test func streamBegin() {
        let b = MessageBuffer()
        MessageEncoder.usersock.streamBegin(crid: 0x1122_3344_5566_7788, pid: 42, header: MessageHeader(seq: 7), into: b)
        let expected: [UInt8] = [
            // nlmsghdr, 16 bytes: len 48, type 16 (CKPT_USERSOCK_TYPE), flags 0, seq 7, pid 0
            0x30, 0, 0, 0, 0x10, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr, 4 bytes: cmd 4 (CKPT_CMD_STREAM_BEGIN), version 1, reserved 0
            4, 1, 0, 0,
            // @20 CKPT_A_CRID (6), len 12: value at 24 is 8-aligned, so no pad
            12, 0, 6, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
            // @32 CKPT_A_SEQ (7), len 8: 0
            8, 0, 7, 0, 0, 0, 0, 0,
            // @40 CKPT_A_PID (2), len 8: 42
            8, 0, 2, 0, 42, 0, 0, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
    }

    @Test func recordContinuationFragmentWithPads() {
        let b = MessageBuffer()
        let data: [UInt8] = [0x61, 0x62, 0x63]
        _ = data.withUnsafeBytes { d in
            MessageEncoder.usersock.record(RecordFragment(
                crid: 9, seq: 5, type: .regs, id: 3, parent: 2, dataLength: 7, dataOffset: 4, meta: nil, data: d), into: b)
        }
        let expected: [UInt8] = [
            // nlmsghdr, 16 bytes: len 104, type 16, flags 0, seq 0, pid 0
            104, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 5 (CKPT_CMD_RECORD), version 1
            5, 1, 0, 0,
            // @20 CKPT_A_CRID (6) u64 9 (no meta in a continuation fragment)
            12, 0, 6, 0, 9, 0, 0, 0, 0, 0, 0, 0,
            // @32 CKPT_A_SEQ (7) 5
            8, 0, 7, 0, 5, 0, 0, 0,
            // @40 CKPT_A_REC_TYPE (8) 3 = regs
            8, 0, 8, 0, 3, 0, 0, 0,
            // @48 CKPT_A_REC_ID (9) 3
            8, 0, 9, 0, 3, 0, 0, 0,
            // @56 CKPT_A_REC_PARENT (10) 2
            8, 0, 10, 0, 2, 0, 0, 0,
            // @64 CKPT_A_PAD (1), len 4: a u64 header at 64 would put its value at 68
            4, 0, 1, 0,
            // @68 CKPT_A_DATA_LEN (11) u64 7, value at 72
            12, 0, 11, 0, 7, 0, 0, 0, 0, 0, 0, 0,
            // @80 CKPT_A_PAD again, @84 CKPT_A_DATA_OFFSET (12) u64 4, value at 88
            4, 0, 1, 0,
            12, 0, 12, 0, 4, 0, 0, 0, 0, 0, 0, 0,
            // @96 CKPT_A_DATA (14), len 7: "abc" + 1 byte of padding
            7, 0, 14, 0, 0x61, 0x62, 0x63, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
    }

    @Test func firstFragmentMetaNestStartsEightAligned() {
        let b = MessageBuffer()
        let meta = metaBytes(sampleRegs)
        _ = meta.withUnsafeBytes { m in
            MessageEncoder.usersock.record(RecordFragment(
                crid: 9, seq: 5, type: .regs, id: 3, parent: 2, dataLength: 0, dataOffset: 0, meta: m,
                data: UnsafeRawBufferPointer(start: nil, count: 0)), into: b)
        }
        let bytes = Array(b.bytes)
        let expectedPrefix: [UInt8] = [
            // nlmsghdr: len 112 (... SEQ, REC_TYPE, REC_ID, REC_PARENT, PAD, DATA_LEN, PAD, DATA_OFFSET; no DATA)
            112, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            5, 1, 0, 0,
            // @20 CKPT_A_META (13) | NLA_F_NESTED (0x8000), len 12; payload at 24
            12, 0, 13, 0x80,
            // @24 CKPT_A_META_TID (14) u32 100
            8, 0, 14, 0, 100, 0, 0, 0,
            // @32 CKPT_A_PAD: the CRID value would be at 36
            4, 0, 1, 0,
            // @36 CKPT_A_CRID (6) 9, value at 40
            12, 0, 6, 0, 9, 0, 0, 0, 0, 0, 0, 0,
        ]
        #expect(hex(Array(bytes.prefix(expectedPrefix.count))) == hex(expectedPrefix))
        #expect(bytes.count == 112)
    }

    @Test func checkpointRequestHasNoPads() {
        let b = MessageBuffer()
        MessageEncoder(messageType: 0x1c).checkpoint(pid: 1234, flags: UInt32(CKPT_CHECKPOINT_FLAGS_STOP.rawValue),
                                                     timeoutMs: 5000, header: MessageHeader(seq: 1, portID: 0), into: b)
        let expected: [UInt8] = [
            // nlmsghdr: len 44, type 0x1c (family id), flags 5 (NLM_F_REQUEST | NLM_F_ACK), seq 1, pid 0
            44, 0, 0, 0, 0x1c, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 3 (CKPT_CMD_CHECKPOINT), version 1
            3, 1, 0, 0,
            // CKPT_A_PID (2) 1234
            8, 0, 2, 0, 0xd2, 0x04, 0, 0,
            // CKPT_A_CHECKPOINT_FLAGS (3) 1 = STOP
            8, 0, 3, 0, 1, 0, 0, 0,
            // CKPT_A_TIMEOUT_MS (5) 5000
            8, 0, 5, 0, 0x88, 0x13, 0, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
    }

    @Test func restartCommitRequestU64sUnpadded() {
        let b = MessageBuffer()
        MessageEncoder(messageType: 0x1c).restartCommit(
            rsid: 2, seq: 10, summary: StreamSummary(records: 3, bytes: 4, checksum: 0xAABBCCDD), into: b)
        let expected: [UInt8] = [
            // nlmsghdr: len 68, type 0x1c, flags 5, seq 0, pid 0
            68, 0, 0, 0, 0x1c, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 10 (CKPT_CMD_RESTART_COMMIT)
            10, 1, 0, 0,
            // CKPT_A_RSID (20) 2, CKPT_A_SEQ (7) 10
            8, 0, 20, 0, 2, 0, 0, 0,
            8, 0, 7, 0, 10, 0, 0, 0,
            // @36 CKPT_A_RECORDS (15) u64 3: value at 40, no pad; CKPT_A_BYTES (16) 4
            12, 0, 15, 0, 3, 0, 0, 0, 0, 0, 0, 0,
            12, 0, 16, 0, 4, 0, 0, 0, 0, 0, 0, 0,
            // CKPT_A_CHECKSUM (17)
            8, 0, 17, 0, 0xDD, 0xCC, 0xBB, 0xAA,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
    }

    /// An NLMSG_ERROR as the kernel sends it with NETLINK_EXT_ACK and NETLINK_CAP_ACK.
    @Test func errorMessageWithExtack() throws {
        let bytes: [UInt8] = [
            // nlmsghdr: len 56, type 2 (NLMSG_ERROR), flags 0x300 (NLM_F_CAPPED | NLM_F_ACK_TLVS), seq 0, pid 0
            56, 0, 0, 0, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0,
            // nlmsgerr.error -22 (EINVAL)
            0xea, 0xff, 0xff, 0xff,
            // echoed request header (capped): len 44, type 0x1c, flags 5, seq 9, pid 0
            44, 0, 0, 0, 0x1c, 0, 5, 0, 9, 0, 0, 0, 0, 0, 0, 0,
            // NLMSGERR_ATTR_MSG (1), len 12: "bad pid\0"
            12, 0, 1, 0, 0x62, 0x61, 0x64, 0x20, 0x70, 0x69, 0x64, 0,
            // NLMSGERR_ATTR_OFFS (2), len 8: 20
            8, 0, 2, 0, 20, 0, 0, 0,
        ]
        try bytes.withUnsafeBytes { raw in
            var reader = NetlinkMessageReader(raw)
            let m = try #require(try reader.next())
            let e = try NetlinkErrorMessage(m)
            #expect(e.errno == 22)
            #expect(e.requestSeq == 9)
            #expect(e.message == "bad pid")
            #expect(e.attributeOffset == 20)
        }
        let error = try #require(decodeError(bytes))
        #expect(error.kind == .errorMessage && error.value == 22 && error.message == "bad pid" && error.offset == 0)
    }

    /// The fake kernel's restart-written, as the kernel's `nla_put_u64_64bit` lays it out,
    /// and back.
    @Test func restartWritten() throws {
        let b = MessageBuffer()
        let written = RestartWritten(rsid: 3, seq: 41, bytes: 0x1_0000_2000)
        MessageEncoder(messageType: 0x1c).restartWritten(written, into: b)
        let expected: [UInt8] = [
            // nlmsghdr, 16 bytes: len 48, type 0x1c (the family id), flags 0, seq 0 (an event), pid 0
            0x30, 0, 0, 0, 0x1c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 14 (CKPT_CMD_RESTART_WRITTEN), version 1
            14, 1, 0, 0,
            // @20 CKPT_A_RSID (20) 3
            8, 0, 20, 0, 3, 0, 0, 0,
            // @28 CKPT_A_SEQ (7) 41
            8, 0, 7, 0, 41, 0, 0, 0,
            // @36 CKPT_A_BYTES (16) u64, value at 40 is 8-aligned: no pad
            12, 0, 16, 0, 0x00, 0x20, 0, 0, 1, 0, 0, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
        var reader = NetlinkMessageReader(b.bytes)
        #expect(try ReplyDecoder.restartWritten(try #require(try reader.next())) == written)
    }

    /// checkpoint-read: the crid, nlmsg_seq the checkpoint request's.
    @Test func checkpointRead() throws {
        let b = MessageBuffer()
        MessageEncoder(messageType: 0x1c).checkpointRead(crid: 0x1_0000_0005, header: MessageHeader(seq: 9), into: b)
        let expected: [UInt8] = [
            // nlmsghdr: len 32, type 0x1c, flags 0, seq 9 (the checkpoint request's), pid 0
            32, 0, 0, 0, 0x1c, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 16 (CKPT_CMD_CHECKPOINT_READ), version 1
            16, 1, 0, 0,
            // @20 CKPT_A_CRID (6) u64, value at 24 is 8-aligned: no pad
            12, 0, 6, 0, 5, 0, 0, 0, 1, 0, 0, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
        var reader = NetlinkMessageReader(b.bytes)
        let m = try #require(try reader.next())
        #expect(m.seq == 9)
        #expect(try ReplyDecoder.checkpointRead(m) == 0x1_0000_0005)
    }

    /// checkpoint-reserved: the crid and the reserve's pages, nlmsg_seq the checkpoint
    /// request's; the second u64 padded onto 8 bytes as `nla_put_u64_64bit` does.
    @Test func checkpointReserved() throws {
        let b = MessageBuffer()
        MessageEncoder(messageType: 0x1c).checkpointReserved(crid: 0x1_0000_0005, pages: 4100,
                                                             header: MessageHeader(seq: 9), into: b)
        let expected: [UInt8] = [
            // nlmsghdr: len 48, type 0x1c, flags 0, seq 9 (the checkpoint request's), pid 0
            48, 0, 0, 0, 0x1c, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 17 (CKPT_CMD_CHECKPOINT_RESERVED), version 1
            17, 1, 0, 0,
            // @20 CKPT_A_CRID (6) u64, value at 24
            12, 0, 6, 0, 5, 0, 0, 0, 1, 0, 0, 0,
            // @32 CKPT_A_PAD (1), so that the next value is at 40
            4, 0, 1, 0,
            // @36 CKPT_A_RESERVED_PAGES (27) u64 4100
            12, 0, 27, 0, 0x04, 0x10, 0, 0, 0, 0, 0, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
        var reader = NetlinkMessageReader(b.bytes)
        let m = try #require(try reader.next())
        let got = try ReplyDecoder.checkpointReserved(m)
        #expect(m.seq == 9 && got.crid == 0x1_0000_0005 && got.pages == 4100)
    }

    /// checkpoint-go: the crid only, acked, no pad (the kernel's strict policy rejects one).
    @Test func checkpointGoRequest() {
        let b = MessageBuffer()
        MessageEncoder(messageType: 0x1c).checkpointGo(crid: 0x1_0000_0005, header: MessageHeader(seq: 3, portID: 0), into: b)
        let expected: [UInt8] = [
            // nlmsghdr: len 32, type 0x1c, flags 5 (NLM_F_REQUEST | NLM_F_ACK), seq 3, pid 0
            32, 0, 0, 0, 0x1c, 0, 5, 0, 3, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 18 (CKPT_CMD_CHECKPOINT_GO), version 1
            18, 1, 0, 0,
            // @20 CKPT_A_CRID (6) u64, value at 24 is 8-aligned
            12, 0, 6, 0, 5, 0, 0, 0, 1, 0, 0, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
    }

    /// restart-done of a failed writer: rsid, errno, reason; nlmsg_seq the commit's.
    @Test func restartDoneFailed() throws {
        let b = MessageBuffer()
        let done = RestartDone(rsid: 3, outcome: .failed(errno: 14, message: "bad"))
        MessageEncoder(messageType: 0x1c).restartDone(done, header: MessageHeader(seq: 9), into: b)
        let expected: [UInt8] = [
            // nlmsghdr: len 44, type 0x1c, flags 0, seq 9 (the commit request's), pid 0
            44, 0, 0, 0, 0x1c, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd 15 (CKPT_CMD_RESTART_DONE), version 1
            15, 1, 0, 0,
            // @20 CKPT_A_RSID (20) 3
            8, 0, 20, 0, 3, 0, 0, 0,
            // @28 CKPT_A_ERROR (22) 14 (EFAULT, positive)
            8, 0, 22, 0, 14, 0, 0, 0,
            // @36 CKPT_A_MESSAGE (19), len 8: "bad" and its NUL
            8, 0, 19, 0, 0x62, 0x61, 0x64, 0,
        ]
        #expect(hex(Array(b.bytes)) == hex(expected))
        var reader = NetlinkMessageReader(b.bytes)
        let m = try #require(try reader.next())
        #expect(m.seq == 9)
        #expect(try ReplyDecoder.restartDone(m) == done)
    }
}

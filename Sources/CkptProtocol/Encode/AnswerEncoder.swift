import CCkptUAPI

/// The kernel's side of requests, for fake kernels in tests and the harness: replies
/// (u64s padded as `nla_put_u64_64bit` does) and acks/errors with extack.
extension MessageEncoder {
    @discardableResult
    public func checkpointReply(crid: UInt64, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_CHECKPOINT, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        return b.endMessage(start)
    }

    /// `CKPT_CMD_CHECKPOINT_DONE`, sent with the request's nlmsg_seq.
    @discardableResult
    public func checkpointDone(_ outcome: CheckpointOutcome, header: MessageHeader = .init(),
                               into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_CHECKPOINT_DONE, header, defaultFlags: 0, into: b)
        switch outcome {
        case let .completed(reply):
            b.appendU64(CKPT_A_CRID, reply.crid, padType: Self.pad)
            b.appendU64(CKPT_A_RECORDS, reply.summary.records, padType: Self.pad)
            b.appendU64(CKPT_A_BYTES, reply.summary.bytes, padType: Self.pad)
            b.appendU32(CKPT_A_CHECKSUM, reply.summary.checksum)
            if let frozen = reply.frozenNs { b.appendU64(CKPT_A_FROZEN_NS, frozen, padType: Self.pad) }
        case let .aborted(crid, reason, message, errno):
            b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
            b.appendU32(CKPT_A_REASON, reason)
            b.appendString(CKPT_A_MESSAGE, message)
            b.appendU32(CKPT_A_ERROR, UInt32(errno))
        }
        return b.endMessage(start)
    }

    /// `CKPT_CMD_CHECKPOINT_READ`, sent with the request's nlmsg_seq.
    @discardableResult
    public func checkpointRead(crid: UInt64, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_CHECKPOINT_READ, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        return b.endMessage(start)
    }

    /// `CKPT_CMD_CHECKPOINT_RESERVED`, sent with the request's nlmsg_seq.
    @discardableResult
    public func checkpointReserved(crid: UInt64, pages: UInt64, header: MessageHeader = .init(),
                                   into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_CHECKPOINT_RESERVED, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        b.appendU64(CKPT_A_RESERVED_PAGES, pages, padType: Self.pad)
        return b.endMessage(start)
    }

    @discardableResult
    /// `flags` nil: the reply of a module older than the session writer.
    public func restartBeginReply(rsid: UInt32, flags: UInt32? = 0, header: MessageHeader = .init(),
                                  into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_BEGIN, header, defaultFlags: 0, into: b)
        b.appendU32(CKPT_A_RSID, rsid)
        if let flags { b.appendU32(CKPT_A_RESTART_FLAGS, flags) }
        return b.endMessage(start)
    }

    @discardableResult
    public func restartCommitReply(_ reply: RestartCommitReply, header: MessageHeader = .init(),
                                   into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_COMMIT, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_RECORDS, reply.records, padType: Self.pad)
        b.appendU64(CKPT_A_BYTES, reply.bytes, padType: Self.pad)
        return b.endMessage(start)
    }

    /// `CKPT_CMD_RESTART_WRITTEN`, an event: nlmsg_seq 0.
    @discardableResult
    public func restartWritten(_ w: RestartWritten, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_WRITTEN, header, defaultFlags: 0, into: b)
        b.appendU32(CKPT_A_RSID, w.rsid)
        b.appendU32(CKPT_A_SEQ, w.seq)
        b.appendU64(CKPT_A_BYTES, w.bytes, padType: Self.pad)
        return b.endMessage(start)
    }

    /// `CKPT_CMD_RESTART_DONE`, sent with the commit request's nlmsg_seq (0 when the
    /// session failed before a commit was accepted).
    @discardableResult
    public func restartDone(_ done: RestartDone, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_DONE, header, defaultFlags: 0, into: b)
        b.appendU32(CKPT_A_RSID, done.rsid)
        switch done.outcome {
        case let .completed(reply):
            b.appendU64(CKPT_A_RECORDS, reply.records, padType: Self.pad)
            b.appendU64(CKPT_A_BYTES, reply.bytes, padType: Self.pad)
        case let .failed(errno, message):
            b.appendU32(CKPT_A_ERROR, UInt32(errno))
            if let message { b.appendString(CKPT_A_MESSAGE, message) }
        }
        return b.endMessage(start)
    }

    @discardableResult
    public func statsReply(_ s: CkptStats, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_STATS_GET, header, defaultFlags: 0, into: b)
        let nest = b.beginNest(CKPT_A_STATS)
        let pad = Int(CKPT_A_STATS_PAD)
        b.appendU64(CKPT_A_STATS_STREAMS, s.streams, padType: pad)
        b.appendU64(CKPT_A_STATS_RECORDS, s.records, padType: pad)
        b.appendU64(CKPT_A_STATS_BYTES, s.bytes, padType: pad)
        b.appendU64(CKPT_A_STATS_ABORTS, s.aborts, padType: pad)
        b.appendU64(CKPT_A_STATS_WAIT_NS, s.waitNs, padType: pad)
        b.appendU64(CKPT_A_STATS_RESTARTS, s.restarts, padType: pad)
        b.appendU64(CKPT_A_STATS_RESTART_REJECTS, s.restartRejects, padType: pad)
        b.appendU64(CKPT_A_STATS_FRAG_PAGES_NEW, s.fragPagesNew, padType: pad)
        b.appendU64(CKPT_A_STATS_FRAG_PAGES_REUSED, s.fragPagesReused, padType: pad)
        if let held = s.heldBytes { b.appendU64(CKPT_A_STATS_HELD_BYTES, held, padType: pad) }
        if let reserved = s.holdReservedPages { b.appendU64(CKPT_A_STATS_HOLD_RESERVED_PAGES, reserved, padType: pad) }
        b.endNest(nest)
        return b.endMessage(start)
    }

    /// `NLMSG_ERROR` answering `request` (whose header is echoed, capped as with
    /// `NETLINK_CAP_ACK`): `error` 0 is an ack; a negative errno is a failure, optionally
    /// with extack TLVs (`NLMSGERR_ATTR_MSG`, `NLMSGERR_ATTR_OFFS`), as `netlink_ack` builds it.
    ///
    /// ```
    ///  | nlmsghdr type NLMSG_ERROR flags NLM_F_CAPPED [| NLM_F_ACK_TLVS] seq = request's |
    ///  | error i32 | request's nlmsghdr (16) | [MSG string] [OFFS u32] |
    /// ```
    @discardableResult
    public static func ack(
        _ request: NetlinkMessage, error: Int32 = 0, message: String? = nil, attributeOffset: UInt32? = nil,
        into b: MessageBuffer
    ) -> Range<Int> {
        let hasTLVs = error != 0 && (message != nil || attributeOffset != nil)
        var flags = UInt16(NLM_F_CAPPED)
        if hasTLVs { flags |= UInt16(NLM_F_ACK_TLVS) }
        let start = b.beginMessage(type: UInt16(NLMSG_ERROR), flags: flags, seq: request.seq, portID: request.portID)
        b.appendInteger(error)
        // The echoed header, with the request's own length.
        b.appendInteger(UInt32(NetlinkLayout.messageHeaderSize + request.payload.count))
        b.appendInteger(request.type)
        b.appendInteger(request.flags)
        b.appendInteger(request.seq)
        b.appendInteger(request.portID)
        if hasTLVs {
            if let message { b.appendString(Int(NLMSGERR_ATTR_MSG.rawValue), message) }
            if let attributeOffset { b.appendU32(Int(NLMSGERR_ATTR_OFFS.rawValue), attributeOffset) }
        }
        return b.endMessage(start)
    }
}

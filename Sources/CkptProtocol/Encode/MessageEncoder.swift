import CCkptUAPI

/// The `nlmsghdr` fields a caller chooses. `flags` nil means the message kind's default:
/// 0 for stream events and replies, `NLM_F_REQUEST | NLM_F_ACK` for requests.
public struct MessageHeader: Sendable {
    public var seq: UInt32
    public var portID: UInt32
    public var flags: UInt16?

    public init(seq: UInt32 = 0, portID: UInt32 = 0, flags: UInt16? = nil) {
        self.seq = seq
        self.portID = portID
        self.flags = flags
    }
}

/// Builds ckpt messages into a caller-owned `MessageBuffer`, appending one message per
/// call and returning its byte range (so several messages can share one datagram).
///
/// Layouts (offsets from the message start; pads are `nla_put_u64_64bit`'s):
/// ```
///  stream-begin   0 nlmsghdr | 16 genlmsghdr | 20 CRID u64 | 32 SEQ u32 | 40 PID u32 | 48
///  record         0 nlmsghdr | 16 genlmsghdr | 20 META nest (first fragment only; its
///                 payload starts at 24, 8-aligned) | CRID | SEQ | REC_TYPE | REC_ID |
///                 REC_PARENT | [PAD] DATA_LEN | [PAD] DATA_OFFSET | DATA (if any)
///  stream-end     nlmsghdr | genlmsghdr | CRID | SEQ | [PAD] RECORDS | BYTES | CHECKSUM
///  stream-abort   nlmsghdr | genlmsghdr | CRID | SEQ | REASON | [MESSAGE]
/// ```
/// Stream events and replies mirror the kernel (u64s 8-aligned with `CKPT_A_PAD`);
/// requests carry no pad attributes, because the kernel's strict policies reject them.
///
/// Once `buffer` has grown to the largest message, encoding allocates nothing.
public struct MessageEncoder: Sendable {
    /// `nlmsg_type`: the family id resolved by the controller, or `CKPT_USERSOCK_TYPE`.
    public var messageType: UInt16
    /// `genlmsghdr.version`; `CKPT_FAMILY_VERSION` unless a test wants otherwise.
    public var version: UInt8

    public init(messageType: UInt16, version: UInt8 = UInt8(CKPT_FAMILY_VERSION)) {
        self.messageType = messageType
        self.version = version
    }

    /// The encoder for NETLINK_USERSOCK (`CKPT_USERSOCK_TYPE`).
    public static var usersock: MessageEncoder { MessageEncoder(messageType: UInt16(CKPT_USERSOCK_TYPE)) }

    static let requestFlags = UInt16(NLM_F_REQUEST | NLM_F_ACK)
    static let pad = Int(CKPT_A_PAD)

    /// Begins a message with the genl header; `defaultFlags` applies when `header.flags` is nil.
    public func begin(_ command: Int, _ header: MessageHeader, defaultFlags: UInt16, into b: MessageBuffer) -> Int {
        let start = b.beginMessage(type: messageType, flags: header.flags ?? defaultFlags, seq: header.seq,
                                   portID: header.portID)
        b.appendGenlHeader(command: UInt8(command), version: version)
        return start
    }

    // MARK: kernel -> sink

    @discardableResult
    public func streamBegin(crid: UInt64, seq: UInt32 = 0, pid: UInt32, header: MessageHeader = .init(),
                            into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_STREAM_BEGIN, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        b.appendU32(CKPT_A_SEQ, seq)
        b.appendU32(CKPT_A_PID, pid)
        return b.endMessage(start)
    }

    /// One fragment as `CKPT_CMD_RECORD`. `fragment.meta` (when non-nil) is copied verbatim
    /// into a `CKPT_A_META` nest whose payload starts 8-aligned; `fragment.data` (when
    /// non-empty) becomes `CKPT_A_DATA`.
    @discardableResult
    public func record(_ fragment: RecordFragment, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RECORD, header, defaultFlags: 0, into: b)
        appendFragment(fragment, idType: CKPT_A_CRID, padType: Self.pad, into: b)
        return b.endMessage(start)
    }

    @discardableResult
    public func streamEnd(crid: UInt64, seq: UInt32, summary: StreamSummary, header: MessageHeader = .init(),
                          into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_STREAM_END, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        b.appendU32(CKPT_A_SEQ, seq)
        b.appendU64(CKPT_A_RECORDS, summary.records, padType: Self.pad)
        b.appendU64(CKPT_A_BYTES, summary.bytes, padType: Self.pad)
        b.appendU32(CKPT_A_CHECKSUM, summary.checksum)
        return b.endMessage(start)
    }

    @discardableResult
    public func streamAbort(crid: UInt64, seq: UInt32, reason: UInt32, message: String? = nil,
                            header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_STREAM_ABORT, header, defaultFlags: 0, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        b.appendU32(CKPT_A_SEQ, seq)
        b.appendU32(CKPT_A_REASON, reason)
        if let message { b.appendString(CKPT_A_MESSAGE, message) }
        return b.endMessage(start)
    }

    /// Any stream event (the inverse of `StreamDecoder`).
    @discardableResult
    public func event(_ event: StreamEvent, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        switch event {
        case let .begin(crid, seq, pid): streamBegin(crid: crid, seq: seq, pid: pid, header: header, into: b)
        case let .record(fragment): record(fragment, header: header, into: b)
        case let .end(crid, seq, summary): streamEnd(crid: crid, seq: seq, summary: summary, header: header, into: b)
        case let .abort(crid, seq, reason, message):
            streamAbort(crid: crid, seq: seq, reason: reason, message: message, header: header, into: b)
        }
    }

    // MARK: requester -> kernel

    @discardableResult
    public func sinkRegister(header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        b.endMessage(begin(CKPT_CMD_SINK_REGISTER, header, defaultFlags: Self.requestFlags, into: b))
    }

    @discardableResult
    public func sinkUnregister(header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        b.endMessage(begin(CKPT_CMD_SINK_UNREGISTER, header, defaultFlags: Self.requestFlags, into: b))
    }

    @discardableResult
    public func statsGet(header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        b.endMessage(begin(CKPT_CMD_STATS_GET, header, defaultFlags: Self.requestFlags, into: b))
    }

    /// `CKPT_CMD_CHECKPOINT { PID, [CHECKPOINT_FLAGS], [TIMEOUT_MS], [PARENT_CRID,
    /// DIRTY_RANGES] }`; flags/timeout are sent only when nonzero, the last two with a parent.
    @discardableResult
    public func checkpoint(pid: UInt32, flags: UInt32 = 0, timeoutMs: UInt32 = 0, parent: PreCopyParent? = nil,
                           header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_CHECKPOINT, header, defaultFlags: Self.requestFlags, into: b)
        b.appendU32(CKPT_A_PID, pid)
        if flags != 0 { b.appendU32(CKPT_A_CHECKPOINT_FLAGS, flags) }
        if timeoutMs != 0 { b.appendU32(CKPT_A_TIMEOUT_MS, timeoutMs) }
        if let parent {
            b.appendU64(CKPT_A_PARENT_CRID, parent.crid, padType: Self.pad)
            parent.encodedRanges().withUnsafeBytes { b.appendAttribute(Int(CKPT_A_DIRTY_RANGES), $0) }
        }
        return b.endMessage(start)
    }

    @discardableResult
    public func restartBegin(pid: UInt32, flags: UInt32 = 0, header: MessageHeader = .init(),
                             into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_BEGIN, header, defaultFlags: Self.requestFlags, into: b)
        b.appendU32(CKPT_A_PID, pid)
        if flags != 0 { b.appendU32(CKPT_A_RESTART_FLAGS, flags) }
        return b.endMessage(start)
    }

    /// One fragment as `CKPT_CMD_RESTART_RECORD` of session `rsid` (`fragment.crid` is
    /// ignored). No pad attributes; `fragment.meta` must carry none either (encode it with
    /// `RecordMeta.encode(into:padded: false)`).
    @discardableResult
    public func restartRecord(rsid: UInt32, _ fragment: RecordFragment, header: MessageHeader = .init(),
                              into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_RECORD, header, defaultFlags: Self.requestFlags, into: b)
        var f = fragment
        f.crid = UInt64(rsid)
        appendFragment(f, idType: CKPT_A_RSID, padType: nil, into: b)
        return b.endMessage(start)
    }

    /// `restartRecord` without copying the data: the message up to the `CKPT_A_DATA` header,
    /// with nlmsg_len counting the data and its padding, which the caller sends after these
    /// bytes from `fragment.data` itself (`GenlClient.send(_:trailing:)`). Returns the
    /// padding (zero bytes to send after the data). The bytes sent are the same as
    /// `restartRecord`'s (MessageEncoderTests).
    public func restartRecordHead(rsid: UInt32, _ fragment: RecordFragment, header: MessageHeader = .init(),
                                  into b: MessageBuffer) -> Int {
        let start = begin(CKPT_CMD_RESTART_RECORD, header, defaultFlags: Self.requestFlags, into: b)
        var f = fragment
        f.crid = UInt64(rsid)
        appendFragment(f, idType: CKPT_A_RSID, padType: nil, withData: false, into: b)
        guard f.data.count > 0 else {
            _ = b.endMessage(start)
            return 0
        }
        return b.appendTrailingAttributeHeader(CKPT_A_DATA, valueLength: f.data.count, messageStart: start)
    }

    @discardableResult
    public func restartCommit(rsid: UInt32, seq: UInt32, summary: StreamSummary, header: MessageHeader = .init(),
                              into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_COMMIT, header, defaultFlags: Self.requestFlags, into: b)
        b.appendU32(CKPT_A_RSID, rsid)
        b.appendU32(CKPT_A_SEQ, seq)
        b.appendU64(CKPT_A_RECORDS, summary.records, padType: nil)
        b.appendU64(CKPT_A_BYTES, summary.bytes, padType: nil)
        b.appendU32(CKPT_A_CHECKSUM, summary.checksum)
        return b.endMessage(start)
    }

    /// `CKPT_CMD_CHECKPOINT_GO { CRID }`: the go of an await-go checkpoint this socket asked for.
    @discardableResult
    public func checkpointGo(crid: UInt64, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_CHECKPOINT_GO, header, defaultFlags: Self.requestFlags, into: b)
        b.appendU64(CKPT_A_CRID, crid, padType: Self.pad)
        return b.endMessage(start)
    }

    @discardableResult
    public func restartAbort(rsid: UInt32, header: MessageHeader = .init(), into b: MessageBuffer) -> Range<Int> {
        let start = begin(CKPT_CMD_RESTART_ABORT, header, defaultFlags: Self.requestFlags, into: b)
        b.appendU32(CKPT_A_RSID, rsid)
        return b.endMessage(start)
    }

    // MARK: shared

    private func appendFragment(_ f: RecordFragment, idType: Int, padType: Int?, withData: Bool = true, into b: MessageBuffer) {
        if let meta = f.meta {
            let nest = b.beginNest(CKPT_A_META)
            b.appendRaw(meta)
            b.endNest(nest)
        }
        if idType == CKPT_A_RSID {
            b.appendU32(CKPT_A_RSID, UInt32(truncatingIfNeeded: f.crid))
        } else {
            b.appendU64(CKPT_A_CRID, f.crid, padType: padType)
        }
        b.appendU32(CKPT_A_SEQ, f.seq)
        b.appendU32(CKPT_A_REC_TYPE, f.type.rawValue)
        b.appendU32(CKPT_A_REC_ID, f.id)
        b.appendU32(CKPT_A_REC_PARENT, f.parent)
        b.appendU64(CKPT_A_DATA_LEN, f.dataLength, padType: padType)
        b.appendU64(CKPT_A_DATA_OFFSET, f.dataOffset, padType: padType)
        if withData, f.data.count > 0 { b.appendAttribute(CKPT_A_DATA, f.data) }
        // The kernel's policy for restart-record has no place for it: never sent there.
        if idType == CKPT_A_CRID, f.data.count > 0, let sum = f.dataChecksum { b.appendU32(CKPT_A_DATA_CHECKSUM, sum) }
    }
}

import CCkptUAPI

/// Which top-level attributes each ckpt message may carry (`allowed`) and must carry
/// (`required`), per command and direction: the `operations:` of the YNL spec.
/// `CKPT_A_PAD` is allowed wherever a u64 may follow it. Conditional rules (meta only in
/// a first fragment, data only when data-len > 0) are the record decoder's.
public struct CommandSchema: Sendable {
    public var required: AttributeMask
    public var optional: AttributeMask
    public var allowed: AttributeMask { required.union(optional) }

    static let pad = AttributeMask(CKPT_A_PAD)

    // Kernel -> sink.
    public static let streamBegin = CommandSchema(
        required: AttributeMask(CKPT_A_CRID, CKPT_A_SEQ, CKPT_A_PID), optional: pad)
    public static let record = CommandSchema(
        required: AttributeMask(
            CKPT_A_CRID, CKPT_A_SEQ, CKPT_A_REC_TYPE, CKPT_A_REC_ID, CKPT_A_REC_PARENT, CKPT_A_DATA_LEN,
            CKPT_A_DATA_OFFSET),
        optional: AttributeMask(CKPT_A_PAD, CKPT_A_META, CKPT_A_DATA, CKPT_A_DATA_CHECKSUM))
    public static let streamEnd = CommandSchema(
        required: AttributeMask(CKPT_A_CRID, CKPT_A_SEQ, CKPT_A_RECORDS, CKPT_A_BYTES, CKPT_A_CHECKSUM),
        optional: pad)
    public static let streamAbort = CommandSchema(
        required: AttributeMask(CKPT_A_CRID, CKPT_A_SEQ, CKPT_A_REASON),
        optional: AttributeMask(CKPT_A_PAD, CKPT_A_MESSAGE))

    // Requester -> kernel (no pad: the kernel's strict policies reject it).
    public static let checkpointRequest = CommandSchema(
        required: AttributeMask(CKPT_A_PID), optional: AttributeMask(CKPT_A_CHECKPOINT_FLAGS, CKPT_A_TIMEOUT_MS, CKPT_A_PARENT_CRID,
                                                                           CKPT_A_DIRTY_RANGES))
    public static let restartBeginRequest = CommandSchema(
        required: AttributeMask(CKPT_A_PID), optional: AttributeMask(CKPT_A_RESTART_FLAGS))
    public static let restartRecordRequest = CommandSchema(
        required: AttributeMask(
            CKPT_A_RSID, CKPT_A_SEQ, CKPT_A_REC_TYPE, CKPT_A_REC_ID, CKPT_A_REC_PARENT, CKPT_A_DATA_LEN,
            CKPT_A_DATA_OFFSET),
        optional: AttributeMask(CKPT_A_META, CKPT_A_DATA))
    public static let restartCommitRequest = CommandSchema(
        required: AttributeMask(CKPT_A_RSID, CKPT_A_SEQ, CKPT_A_RECORDS, CKPT_A_BYTES, CKPT_A_CHECKSUM),
        optional: AttributeMask())
    public static let restartAbortRequest = CommandSchema(required: AttributeMask(CKPT_A_RSID), optional: AttributeMask())
    /// `CKPT_CMD_CHECKPOINT_GO`: read the task of this socket's await-go checkpoint now.
    public static let checkpointGoRequest = CommandSchema(required: AttributeMask(CKPT_A_CRID), optional: AttributeMask())
    public static let emptyRequest = CommandSchema(required: AttributeMask(), optional: AttributeMask())

    // Kernel -> requester replies (u64s padded like every kernel message).
    /// The admission: the stream's id. Its result comes later, as `checkpointDone`.
    public static let checkpointReply = CommandSchema(required: AttributeMask(CKPT_A_CRID), optional: pad)
    /// `CKPT_CMD_CHECKPOINT_DONE`: counts when the stream ended, reason/message/error when it
    /// aborted (which set is present is checked by `ReplyDecoder.checkpointDone`).
    public static let checkpointDone = CommandSchema(
        required: AttributeMask(CKPT_A_CRID),
        optional: AttributeMask(CKPT_A_PAD, CKPT_A_RECORDS, CKPT_A_BYTES, CKPT_A_CHECKSUM, CKPT_A_FROZEN_NS,
                                CKPT_A_REASON, CKPT_A_MESSAGE, CKPT_A_ERROR))
    /// `CKPT_CMD_CHECKPOINT_READ`: a holding stream's task, stopped by its requester, has
    /// been read; the requester may continue it.
    public static let checkpointRead = CommandSchema(required: AttributeMask(CKPT_A_CRID), optional: pad)
    /// `CKPT_CMD_CHECKPOINT_RESERVED`: an await-go stream's reserve is allocated (its pages);
    /// it waits for the requester's go.
    public static let checkpointReserved = CommandSchema(
        required: AttributeMask(CKPT_A_CRID, CKPT_A_RESERVED_PAGES), optional: pad)
    /// RESTART_FLAGS: absent from a module older than the session writer.
    public static let restartBeginReply = CommandSchema(
        required: AttributeMask(CKPT_A_RSID), optional: AttributeMask(CKPT_A_PAD, CKPT_A_RESTART_FLAGS))
    public static let restartCommitReply = CommandSchema(
        required: AttributeMask(CKPT_A_RECORDS, CKPT_A_BYTES), optional: pad)
    public static let statsReply = CommandSchema(required: AttributeMask(CKPT_A_STATS), optional: pad)
    /// `CKPT_CMD_RESTART_WRITTEN`, to the socket of a direct session: how far its writer got.
    public static let restartWritten = CommandSchema(
        required: AttributeMask(CKPT_A_RSID, CKPT_A_SEQ, CKPT_A_BYTES), optional: pad)
    /// `CKPT_CMD_RESTART_DONE`: records and bytes when the writer finished a commit, error
    /// and message when it failed (which set is present is checked by
    /// `ReplyDecoder.restartDone`).
    public static let restartDone = CommandSchema(
        required: AttributeMask(CKPT_A_RSID),
        optional: AttributeMask(CKPT_A_PAD, CKPT_A_RECORDS, CKPT_A_BYTES, CKPT_A_MESSAGE, CKPT_A_ERROR))

    /// The request schema of a command (what a kernel, or a fake one, accepts).
    public static func request(_ command: UInt8) -> CommandSchema? {
        switch Int(command) {
        case CKPT_CMD_SINK_REGISTER, CKPT_CMD_SINK_UNREGISTER, CKPT_CMD_STATS_GET: emptyRequest
        case CKPT_CMD_CHECKPOINT: checkpointRequest
        case CKPT_CMD_RESTART_BEGIN: restartBeginRequest
        case CKPT_CMD_RESTART_RECORD: restartRecordRequest
        case CKPT_CMD_RESTART_COMMIT: restartCommitRequest
        case CKPT_CMD_RESTART_ABORT: restartAbortRequest
        case CKPT_CMD_CHECKPOINT_GO: checkpointGoRequest
        default: nil
        }
    }

    /// The schema of a command's reply, or of an event the kernel sends a requester
    /// (checkpoint-read, -reserved, -done, restart-written, restart-done); nil for commands
    /// answered by an ack only.
    public static func reply(_ command: UInt8) -> CommandSchema? {
        switch Int(command) {
        case CKPT_CMD_CHECKPOINT: checkpointReply
        case CKPT_CMD_CHECKPOINT_DONE: checkpointDone
        case CKPT_CMD_CHECKPOINT_READ: checkpointRead
        case CKPT_CMD_CHECKPOINT_RESERVED: checkpointReserved
        case CKPT_CMD_RESTART_BEGIN: restartBeginReply
        case CKPT_CMD_RESTART_COMMIT: restartCommitReply
        case CKPT_CMD_STATS_GET: statsReply
        case CKPT_CMD_RESTART_WRITTEN: restartWritten
        case CKPT_CMD_RESTART_DONE: restartDone
        default: nil
        }
    }
}

import CCkptUAPI
import CkptProtocol

/// What the kernel has said so far about the checkpoints one requester socket has
/// outstanding, by request nlmsg_seq: checkpoint-reserved (an await-go stream's reserve is
/// made: its pages), checkpoint-read (its task has been read) and checkpoint-done (how its
/// stream ended). They arrive on the requesting socket in any interleaving with other
/// answers (a tree's next request's ack, another stream's done), so whoever reads that
/// socket keeps them here until the waiter for that seq takes them.
struct CheckpointEvents {
    private var outstanding: Set<UInt32> = []
    private var reads: Set<UInt32> = []
    private var reserves: [UInt32: UInt64] = [:]
    private var outcomes: [UInt32: CheckpointOutcome] = [:]

    /// From the request's send on: its events are kept from then.
    mutating func expect(_ seq: UInt32) { outstanding.insert(seq) }

    /// The request's events are not wanted any more (its done was taken, or it failed).
    mutating func forget(_ seq: UInt32) {
        outstanding.remove(seq)
        reads.remove(seq)
        reserves[seq] = nil
        outcomes[seq] = nil
    }

    /// Keeps `m` when it is checkpoint-reserved, -read or -done of an outstanding request;
    /// false for anything else (the admission reply, other seqs), which the caller handles.
    mutating func keep(_ m: NetlinkMessage) throws(ProtocolError) -> Bool {
        guard outstanding.contains(m.seq) else { return false }
        switch Int(try MessageFraming.command(of: m)) {
        case CKPT_CMD_CHECKPOINT_READ:
            _ = try ReplyDecoder.checkpointRead(m)
            reads.insert(m.seq)
        case CKPT_CMD_CHECKPOINT_RESERVED:
            reserves[m.seq] = try ReplyDecoder.checkpointReserved(m).pages
        case CKPT_CMD_CHECKPOINT_DONE:
            outcomes[m.seq] = try ReplyDecoder.checkpointDone(m)
        default:
            return false
        }
        return true
    }

    func wasRead(_ seq: UInt32) -> Bool { reads.contains(seq) }
    /// The pages of the request's reserve once checkpoint-reserved came, else nil.
    func reserved(_ seq: UInt32) -> UInt64? { reserves[seq] }
    func outcome(_ seq: UInt32) -> CheckpointOutcome? { outcomes[seq] }
}

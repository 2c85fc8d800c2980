extension RestartReplayer {
    /// The windows' bookkeeping, without I/O: record requests outstanding (sent, not yet
    /// acknowledged), oldest first, with their records; and in a direct session the pages
    /// fragments queued for the kernel's writer and not yet reported written.
    struct Session {
        let window: Int
        /// Pages fragments allowed unwritten; nil when the kernel queues none for its writer
        /// and reports no writes (staged or validate-only sessions).
        let writeWindow: Int?
        var pending: [(requestSeq: UInt32, recordID: UInt32)] = []
        /// Session seqs of the pages fragments sent and not yet reported written, ascending.
        var unwritten: [UInt32] = []
        /// `CKPT_A_SEQ` of the next message of the session (0 first).
        var nextSeq: UInt32 = 0
        var peak = 0
        var peakUnwritten = 0
        /// Page bytes the kernel's writer reported written so far.
        var bytesWritten: UInt64 = 0

        init(window: Int, writeWindow: Int?) {
            self.window = window
            self.writeWindow = writeWindow
            pending.reserveCapacity(window)
            unwritten.reserveCapacity(writeWindow ?? 0)
        }

        var isFull: Bool { pending.count >= window }

        /// Whether a fragment must wait before it is sent: for an ack slot, and when it
        /// carries pages (`carriesPages`), for the writer to catch up.
        func mustWait(carriesPages: Bool) -> Bool {
            if isFull { return true }
            guard carriesPages, let writeWindow else { return false }
            return unwritten.count >= writeWindow
        }

        mutating func sent(requestSeq: UInt32, recordID: UInt32, carriesPages: Bool) {
            pending.append((requestSeq, recordID))
            if carriesPages, writeWindow != nil {
                unwritten.append(nextSeq)
                peakUnwritten = max(peakUnwritten, unwritten.count)
            }
            nextSeq &+= 1
            peak = max(peak, pending.count)
        }

        /// Marks `requestSeq` answered; false when it was not outstanding.
        mutating func acked(_ requestSeq: UInt32) -> Bool {
            guard let i = pending.firstIndex(where: { $0.requestSeq == requestSeq }) else { return false }
            pending.remove(at: i)
            return true
        }

        /// restart-written: every pages fragment up to session seq `seq` is in the target.
        /// Reports are cumulative, so one left out is covered by the next. O(unwritten).
        mutating func written(upTo seq: UInt32, bytes: UInt64) {
            unwritten.removeFirst(unwritten.prefix { $0 <= seq }.count)
            bytesWritten = max(bytesWritten, bytes)
        }

        func record(of requestSeq: UInt32) -> UInt32? {
            pending.first { $0.requestSeq == requestSeq }?.recordID
        }
    }
}

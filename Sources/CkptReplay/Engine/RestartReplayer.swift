import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptSystem
import CkptTransport
import SystemPackage

/// `ckpt replay IMAGE --pid PID`: streams an image back to the kernel's restart commands.
///
/// ```
///  restart-begin {pid, flags}  ──> rsid
///  restart-record seq 0 ──┐
///  restart-record seq 1   │ up to `window` requests outstanding; each ack frees a slot
///  ...                    │ (send 0 1 2 3 | ack 0 | send 4 | ack 1 | ... | drain)
///  restart-record seq n ──┘
///  restart-commit {seq n+1, records, bytes, checksum}  ──> {records, bytes}
/// ```
///
/// Each record is cut into fragments of at most `maxData` bytes (`ImageFragments`), its meta
/// re-encoded without pad attributes (the kernel's strict request policy rejects them), so
/// the commit's bytes and checksum are computed over what is sent (`StreamSummaryBuilder`),
/// which is what the kernel recomputes. The first rejection aborts the session and comes
/// back as `.rejected` with the kernel's extack text and the record it refused; so does a
/// damaged record found mid-walk (`.image`). Nothing reaches the target before the commit.
public final class RestartReplayer {
    public let link: RestartLink
    /// Record requests allowed outstanding (sent, not yet acknowledged).
    public let window: Int
    public let maxData: Int

    /// What a replay did.
    public struct Result: Equatable, Sendable {
        public var rsid: UInt32
        /// Records, bytes (meta + data) and checksum of what was sent: the commit's numbers.
        public var summary: StreamSummary
        /// The kernel's commit reply.
        public var reply: RestartCommitReply
        /// Restart-record requests sent.
        public var fragments: UInt64
        /// The most requests that were ever outstanding at once (at most `window`).
        public var peakOutstanding: Int
    }

    /// Fragments read ahead of the sender (each `maxData` bytes of memory).
    public let pipeDepth: Int

    public init(link: RestartLink, window: Int = 32, maxData: Int = Int(CKPT_DATA_MAX), pipeDepth: Int = 8) {
        precondition(window >= 1, "window must be at least 1")
        precondition(pipeDepth >= 1, "pipeDepth must be at least 1")
        precondition(maxData >= 1 && maxData <= Int(CKPT_DATA_MAX), "the kernel takes at most CKPT_DATA_MAX bytes a fragment")
        self.link = link
        self.window = window
        self.maxData = maxData
        self.pipeDepth = pipeDepth
    }

    /// Replays every record of `reader` into `pid`. `direct` sets `CKPT_RESTART_FLAGS_DIRECT`
    /// (the kernel writes each fragment as it validates, staging nothing: for a process made
    /// to be restored into, discarded if this fails). `validateOnly` sets
    /// `CKPT_RESTART_FLAGS_VALIDATE_ONLY` (the kernel checks everything, writes nothing).
    /// `parent`: the pre-copy image `reader`'s parent-pages records refer to; their pages are
    /// sent from it (`ImageFragments.walk(parent:)`).
    public func replay(
        _ reader: ImageReader, pid: UInt32, validateOnly: Bool = false, direct: Bool = false,
        parent: ImageReader? = nil, progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws(ReplayError) -> Result {
        var flags = validateOnly ? UInt32(CKPT_RESTART_FLAGS_VALIDATE_ONLY.rawValue) : 0
        if direct { flags |= UInt32(CKPT_RESTART_FLAGS_DIRECT.rawValue) }
        let rsid: UInt32
        do throws(TransportError) { rsid = try link.begin(pid: pid, flags: flags) } catch { throw Self.map(error, .begin, recordID: nil) }

        // The walk (read, CRC) runs here; sending (encode, the kernel's checks and writes)
        // on a thread of its own, `pipeDepth` fragments apart at most.
        let pipe = FragmentPipe(capacity: pipeDepth, maxData: maxData)
        let sender = Sender(replayer: self, rsid: rsid, pipe: pipe)
        let thread = JoinableThread { sender.run() }
        var builder = StreamSummaryBuilder()
        var walkError: ReplayError?
        do {
            var slot = 0
            try ImageFragments(reader: reader, maxData: maxData).walk(
                meta: ImageFragments.forRestart, progress: progress, parent: parent.map { ParentImagePages(reader: $0) },
                buffer: { slot = try pipe.acquire(); return pipe.buffer(slot) }
            ) { f, check in
                if let meta = f.meta { builder.beginRecord(meta: meta) }
                builder.data(count: f.data.count, crc: check.crc)
                pipe.publish(slot, .init(type: f.type, id: f.id, parent: f.parent, dataLength: f.dataLength,
                                         dataOffset: f.dataOffset, data: f.data, hasMeta: f.meta != nil),
                             meta: f.meta)
            }
            pipe.close()
        } catch {
            walkError = error as? ReplayError ?? .image(.misuse(path: reader.path, offset: 0, recordID: nil, call: "replay",
                                                                 expected: "a ReplayError", found: "\(error)"))
            pipe.fail(walkError!)
        }
        thread.join()
        // The sender's failure first: a walk stopped by it only repeats it.
        if let failure = sender.failure ?? walkError {
            link.abort(rsid: rsid)
            throw failure
        }
        let session = sender.session
        let summary = builder.summary
        let reply: RestartCommitReply
        do throws(TransportError) {
            reply = try link.commit(rsid: rsid, seq: session.nextSeq, summary: summary)
        } catch {
            link.abort(rsid: rsid)
            throw Self.map(error, .commit, recordID: nil)
        }
        return Result(rsid: rsid, summary: summary, reply: reply, fragments: UInt64(session.nextSeq),
                      peakOutstanding: session.peak)
    }

    /// The window's bookkeeping: request seqs outstanding, oldest first, with their records.
    struct Session {
        let window: Int
        var pending: [(requestSeq: UInt32, recordID: UInt32)] = []
        /// `CKPT_A_SEQ` of the next message of the session (0 first).
        var nextSeq: UInt32 = 0
        var peak = 0

        init(window: Int) {
            self.window = window
            pending.reserveCapacity(window)
        }

        var isFull: Bool { pending.count >= window }

        mutating func sent(requestSeq: UInt32, recordID: UInt32) {
            pending.append((requestSeq, recordID))
            nextSeq &+= 1
            peak = max(peak, pending.count)
        }

        /// Marks `requestSeq` answered; false when it was not outstanding.
        mutating func acked(_ requestSeq: UInt32) -> Bool {
            guard let i = pending.firstIndex(where: { $0.requestSeq == requestSeq }) else { return false }
            pending.remove(at: i)
            return true
        }

        func record(of requestSeq: UInt32) -> UInt32? {
            pending.first { $0.requestSeq == requestSeq }?.recordID
        }
    }

    /// The sending half of a replay, run on its own thread: takes fragments from the pipe
    /// in order, sends each (keeping at most `window` unacknowledged), then waits for the
    /// last acks. On a failure it stops the pipe (the walk's next `acquire` throws) and
    /// keeps the error for the caller.
    ///
    /// `@unchecked Sendable`, sound because the calling thread does not touch it between
    /// starting the thread and `join()`, and pthread_join orders the sender's writes
    /// (`session`, `failure`) before the caller's reads.
    final class Sender: @unchecked Sendable {
        let replayer: RestartReplayer
        let rsid: UInt32
        let pipe: FragmentPipe
        var session: Session
        var failure: ReplayError?

        init(replayer: RestartReplayer, rsid: UInt32, pipe: FragmentPipe) {
            self.replayer = replayer
            self.rsid = rsid
            self.pipe = pipe
            session = Session(window: replayer.window)
        }

        func run() {
            do throws(ReplayError) {
                while let slot = pipe.take() {
                    var sendError: ReplayError?
                    pipe.withFragment(slot) { fragment in
                        do throws(ReplayError) { try send(fragment) } catch { sendError = error }
                    }
                    pipe.release(slot)
                    if let sendError { throw sendError }
                }
                // The walk stopped (a damaged record): the caller aborts; no acks to wait for.
                if pipe.failed != nil { return }
                while !session.pending.isEmpty { try replayer.waitOne(&session) }
            } catch {
                failure = error
                pipe.fail(error)
            }
        }

        private func send(_ fragment: RecordFragment) throws(ReplayError) {
            var f = fragment
            f.crid = UInt64(rsid)
            f.seq = session.nextSeq
            while session.isFull { try replayer.waitOne(&session) }
            let requestSeq: UInt32
            do throws(TransportError) { requestSeq = try replayer.link.sendRecord(rsid: rsid, f) } catch {
                throw RestartReplayer.map(error, .record, recordID: f.id)
            }
            session.sent(requestSeq: requestSeq, recordID: f.id)
        }
    }

    func waitOne(_ session: inout Session) throws(ReplayError) {
        do throws(TransportError) {
            _ = session.acked(try link.nextAck())
        } catch {
            if case let .kernel(_, _, _, requestSeq) = error {
                throw Self.map(error, .record, recordID: session.record(of: requestSeq))
            }
            throw Self.map(error, .record, recordID: nil)
        }
    }

    static func map(_ error: TransportError, _ stage: ReplayStage, recordID: UInt32?) -> ReplayError {
        switch error {
        case let .kernel(errno, message, _, _): .rejected(stage: stage, recordID: recordID, errno: errno, message: message)
        case let .familyNotFound(name): .familyUnavailable(TransportError.familyNotFound(name).description)
        default: .transport(stage: stage, error)
        }
    }
}

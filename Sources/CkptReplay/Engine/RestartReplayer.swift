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
///  restart-record seq n ──┘ direct: also at most `writeWindow` pages fragments unwritten;
///                           restart-written {seq s} frees those of seq <= s
///  restart-commit {seq n+1, records, bytes, checksum}  ──> {records, bytes}: accepted
///  <── restart-done {records, bytes} (the session's writer finished) or {error, message}
/// ```
///
/// Each record is cut into fragments of at most `maxData` bytes (`ImageFragments`), its meta
/// re-encoded without pad attributes (the kernel's strict request policy rejects them), so
/// the commit's bytes and checksum are computed over what is sent (`StreamSummaryBuilder`),
/// which is what the kernel recomputes. The first rejection aborts the session and comes
/// back as `.rejected` with the kernel's extack text and the record it refused; so does a
/// damaged record found mid-walk (`.image`), and a restart-done reporting that the
/// session's writer failed (`.rejected` with its errno and reason). Without `direct`,
/// nothing reaches the target before the commit.
public final class RestartReplayer {
    public let link: RestartLink
    /// Record requests allowed outstanding (sent, not yet acknowledged).
    public let window: Int
    /// In a direct session, pages fragments allowed sent and not yet reported written
    /// (`writeWindow * maxData` at most `CKPT_RESTART_QUEUE_MAX`).
    public let writeWindow: Int
    public let maxData: Int

    /// What a replay did.
    public struct Result: Equatable, Sendable {
        public var rsid: UInt32
        /// Records, bytes (meta + data) and checksum of what was sent: the commit's numbers.
        public var summary: StreamSummary
        /// Records and bytes of restart-done: the commit the session's writer finished.
        public var reply: RestartCommitReply
        /// Restart-record requests sent.
        public var fragments: UInt64
        /// The most requests that were ever outstanding at once (at most `window`).
        public var peakOutstanding: Int
        /// Direct sessions: the most pages fragments ever sent and not yet reported
        /// written (at most `writeWindow`); 0 otherwise.
        public var peakUnwritten: Int
    }

    /// `writeWindow`'s default: full fragments for half of `CKPT_RESTART_QUEUE_MAX` (64:
    /// 4 MiB, or 3.75 MiB of `ckpt restore`'s 15-page fragments). The kernel fails a direct
    /// session (ENOSPC) whose queue for its writer would pass `CKPT_RESTART_QUEUE_MAX`
    /// bytes, charged to our memory cgroup; half leaves the margin. The writer reports
    /// progress (restart-written) when its queue ran empty, and may leave a report out when
    /// our receive buffer is full, so a full window can drain completely before we hear of
    /// it; the writer then idles for one round trip until the next fragments arrive: at 64
    /// fragments that gap comes once per ~4 MiB written.
    public static let defaultWriteWindow = Int(CKPT_RESTART_QUEUE_MAX) / 2 / Int(CKPT_DATA_MAX)

    /// Fragments read ahead of the sender (each `maxData` bytes of memory).
    public let pipeDepth: Int
    /// Before a pages fragment goes to the kernel, the part of it that lies in a private file
    /// mapping of the process is made the process's own copy from here
    /// (`PrivateFileCopies`): the kernel's writer writes only such pages there. Off only for
    /// links that reach no process (tests), where the kernel's refusal would be the outcome.
    public let copiesPrivateFilePages: Bool

    public init(link: RestartLink, window: Int = 32, writeWindow: Int = RestartReplayer.defaultWriteWindow,
                maxData: Int = Int(CKPT_DATA_MAX), pipeDepth: Int = 8, copiesPrivateFilePages: Bool = false) {
        precondition(window >= 1, "window must be at least 1")
        precondition(writeWindow >= 1, "writeWindow must be at least 1")
        precondition(writeWindow * maxData <= Int(CKPT_RESTART_QUEUE_MAX),
                     "a direct session queues at most CKPT_RESTART_QUEUE_MAX bytes for the kernel's writer")
        precondition(pipeDepth >= 1, "pipeDepth must be at least 1")
        precondition(maxData >= 1 && maxData <= Int(CKPT_DATA_MAX), "the kernel takes at most CKPT_DATA_MAX bytes a fragment")
        self.link = link
        self.window = window
        self.writeWindow = writeWindow
        self.maxData = maxData
        self.pipeDepth = pipeDepth
        self.copiesPrivateFilePages = copiesPrivateFilePages
    }

    /// Replays every record of `reader` into `pid`. `direct` sets `CKPT_RESTART_FLAGS_DIRECT`
    /// (the kernel's writer writes each pages fragment once it validated, staging only what
    /// is queued for it: for a process made to be restored into, discarded if this fails).
    /// `validateOnly` sets `CKPT_RESTART_FLAGS_VALIDATE_ONLY` (the kernel checks
    /// everything, writes nothing). Returns once restart-done said the writer finished.
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
        // After the kernel's checks of the pid: its refusal says more than /proc's would.
        var copies: PrivateFileCopies?
        if copiesPrivateFilePages && !validateOnly {
            do throws(ReplayError) { copies = try PrivateFileCopies(pid: Int32(bitPattern: pid)) } catch {
                link.abort(rsid: rsid)
                throw error
            }
        }

        // The walk (read, CRC) runs here; sending (encode, the kernel's checks and writes)
        // on a thread of its own, `pipeDepth` fragments apart at most.
        let pipe = FragmentPipe(capacity: pipeDepth, maxData: maxData)
        // Validate-only queues nothing for the writer, so no restart-written would come.
        let sender = Sender(replayer: self, rsid: rsid, pipe: pipe, queuesWrites: direct && !validateOnly, copies: copies)
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
        do throws(ReplayError) {
            do throws(TransportError) {
                _ = try link.commit(rsid: rsid, seq: session.nextSeq, summary: summary)
            } catch {
                throw Self.map(error, .commit, recordID: nil)
            }
            reply = try awaitDone()
        } catch {
            link.abort(rsid: rsid)
            throw error
        }
        return Result(rsid: rsid, summary: summary, reply: reply, fragments: UInt64(session.nextSeq),
                      peakOutstanding: session.peak, peakUnwritten: session.peakUnwritten)
    }

    /// After the commit was accepted: restart-done, the writer's outcome. Acks and
    /// restart-written read before it are stale (every request was answered).
    func awaitDone() throws(ReplayError) -> RestartCommitReply {
        while true {
            let answer: RestartAnswer
            do throws(TransportError) { answer = try link.nextAnswer() } catch { throw Self.map(error, .commit, recordID: nil) }
            guard case let .done(done) = answer else { continue }
            switch done.outcome {
            case let .completed(reply):
                return reply
            case let .failed(errno, message):
                throw .rejected(stage: .commit, recordID: nil, errno: Errno(rawValue: errno), message: message)
            }
        }
    }

    /// The sending half of a replay, run on its own thread: takes fragments from the pipe
    /// in order, sends each (keeping at most `window` unacknowledged and, direct, at most
    /// `writeWindow` pages fragments unwritten), then waits for the last acks (not for the
    /// writes: the commit finishes them). On a failure it stops the pipe (the walk's next
    /// `acquire` throws) and keeps the error for the caller.
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
        /// Used by this thread alone (after the caller made it).
        let copies: PrivateFileCopies?
        /// The address of the pages record whose fragments are being sent.
        var runAddress: UInt64 = 0

        init(replayer: RestartReplayer, rsid: UInt32, pipe: FragmentPipe, queuesWrites: Bool, copies: PrivateFileCopies?) {
            self.replayer = replayer
            self.rsid = rsid
            self.pipe = pipe
            self.copies = copies
            session = Session(window: replayer.window, writeWindow: queuesWrites ? replayer.writeWindow : nil)
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
            // What the writer is given: the data of a pages record (parent pages are sent as
            // pages records too).
            let carriesPages = f.type == .pages && !f.data.isEmpty
            if let copies, f.type == .pages {
                if let m = f.meta {
                    do throws(ProtocolError) {
                        if case let .pages(p) = try RecordMeta(type: f.type, payload: m) { runAddress = p.addr }
                    } catch {
                        throw .meta(recordID: f.id, error)
                    }
                }
                // Wrapping: an address past the end is the kernel's to refuse (no copy is made).
                if carriesPages { try copies.ownCopies(address: runAddress &+ f.dataOffset, count: f.data.count) }
            }
            while session.mustWait(carriesPages: carriesPages) { try replayer.waitOne(&session) }
            let requestSeq: UInt32
            do throws(TransportError) { requestSeq = try replayer.link.sendRecord(rsid: rsid, f) } catch {
                throw RestartReplayer.map(error, .record, recordID: f.id)
            }
            session.sent(requestSeq: requestSeq, recordID: f.id, carriesPages: carriesPages)
        }
    }

    /// Takes the session's next answer while records are being sent.
    func waitOne(_ session: inout Session) throws(ReplayError) {
        let answer: RestartAnswer
        do throws(TransportError) {
            answer = try link.nextAnswer()
        } catch {
            if case let .kernel(_, _, _, requestSeq) = error {
                throw Self.map(error, .record, recordID: session.record(of: requestSeq))
            }
            throw Self.map(error, .record, recordID: nil)
        }
        switch answer {
        case let .ack(requestSeq):
            _ = session.acked(requestSeq)
        case let .written(seq, bytes):
            session.written(upTo: seq, bytes: bytes)
        case let .done(done):
            throw Self.endedEarly(done)
        }
    }

    /// A restart-done before the commit: the writer failed (its errno and reason say more
    /// than the "failed earlier" rejections of the requests after it) or the session was
    /// stopped. One reporting a finished commit breaks the protocol.
    static func endedEarly(_ done: RestartDone) -> ReplayError {
        switch done.outcome {
        case let .failed(errno, message):
            .rejected(stage: .record, recordID: nil, errno: Errno(rawValue: errno), message: message)
        case .completed:
            .transport(stage: .record, .protocolViolation(ProtocolError(
                .unexpectedCommand, field: "CKPT_CMD_RESTART_DONE", offset: 0,
                message: "restart-done reports a finished commit before the commit was sent")))
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

import ArgumentParser
import CkptImage
import CkptProtocol
import CkptReplay
import CkptRestore
import CkptTransport

/// `ckpt replay IMAGE --pid PID`: restores an image's memory into a stopped process through
/// the kernel's restart commands; `--usersock PORT` re-emits it as a capture stream instead.
public struct ReplayCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "replay",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Restore an image into a stopped process, or re-emit it into a listener.",
        discussion: """
            The image is verified first (as `ckpt verify` does); then a restart session is opened for PID (restart-begin), every record is sent in fragments with up to --window requests awaiting the kernel's ack at a time (restart-record), and restart-commit makes the kernel write the staged pages. The kernel checks everything on arrival (architecture, page size, that each vma matches the target's mapping, that pages lie in private writable mappings) and writes nothing unless the whole image validated. On a rejection the session is aborted and the kernel's reason (extack) is printed. An image with shared memory (MAP_SHARED anonymous, shm, memfd: memory the kernel does not capture) is refused before a session opens; a shared mapping of a named file is not refused: its memory is the file, which the twin maps as well. Pages absent from the image (never touched before the checkpoint) that the target has since written are then put back as they were: zero in an anonymous mapping, the file's bytes in a private file mapping (found through /proc/PID/pagemap, written through /proc/PID/mem; a mapping over 16 GiB is not scanned, with a warning). Registers, threads and descriptors stay the target's: use ckpt restore for a process that must be exactly the image.

            The target must be stopped (kill -STOP PID) and its mappings must match the image's: the same process, or a fresh instance of the same program started with ASLR off (setarch -R). Restart restores memory contents only: it never creates tasks, maps memory, or changes registers or files.

            --usersock PORT sends the image instead as a capture stream (stream-begin, records, stream-end, nlmsg_type CKPT_USERSOCK_TYPE) to a NETLINK_USERSOCK listener such as `ckpt listen --usersock`, blocking while it is full. No kernel module needed: the listener writes an image with the same records and checksum.

            Examples:
              kill -STOP 1234; ckpt replay /var/lib/ckpt/7.ckpt --pid 1234; kill -CONT 1234
              ckpt replay /var/lib/ckpt/7.ckpt --pid 1234 --validate-only  # check only
              ckpt listen --usersock --dir /tmp/copy --exit-after 1 &  # `usersock port N`
              ckpt replay /var/lib/ckpt/7.ckpt --usersock N

            Exit codes: 0 restored (or validated, or re-emitted); 1 the kernel rejected the image or the target (message says why), or no image with that crid; 64 usage; 65 the image is damaged, truncated or of another format version; 69 the ckpt module is not loaded; 74 the file cannot be read or the socket failed (no listener on that port).
            """)

    @Argument(help: ArgumentHelp("The image file, or a crid looked up in --dir.", valueName: "image"))
    var imageArgument: String

    @OptionGroup var location: ImageLocationOptions

    @Option(help: "The stopped process to restore into (in this pid namespace).")
    var pid: Int32?

    @Option(help: ArgumentHelp("Re-emit the image as a capture stream to this NETLINK_USERSOCK port instead of restoring it.", valueName: "port"))
    var usersock: UInt32?

    @Flag(help: "With --pid: have the kernel validate every record against the target, and write nothing.")
    var validateOnly = false

    @Option(help: "With --pid: restart-record requests awaiting an ack at once (1 ... 1024).")
    var window: Int = 32

    @Option(help: ArgumentHelp("With --usersock: the crid of the re-emitted stream (default: the image's).", valueName: "crid"))
    var crid: UInt64?

    @Flag(help: "Do not verify the image before sending it (records are still checked as they are read).")
    var noVerify = false

    @OptionGroup var progress: ProgressOptions

    public init() {}

    public func validate() throws {
        switch (pid, usersock) {
        case (nil, nil): throw ValidationError("give --pid PID (restore) or --usersock PORT (re-emit)")
        case (.some, .some): throw ValidationError("--pid and --usersock exclude each other")
        default: break
        }
        if let pid, pid <= 0 { throw ValidationError("--pid must be a positive process id") }
        if usersock != nil, validateOnly { throw ValidationError("--validate-only needs --pid (the kernel validates)") }
        if pid != nil, crid != nil { throw ValidationError("--crid needs --usersock") }
        guard window >= 1, window <= 1024 else { throw ValidationError("--window must be 1 ... 1024") }
    }

    public func run() throws {
        let command = "replay"
        let image = try location.path(imageArgument, command: command)
        let bytes = try openImageBytes(image, command: command)
        if !noVerify {
            let bar = ProgressBar(label: "verifying", enabled: progress.enabled)
            do throws(ImageError) { _ = try verifyImage(source: bytes) { bar.update($0, $1) } } catch {
                bar.finish()
                throw failure(command, "\(image): FAILED at \(error.location): \(error.reason)", error.exitCode)
            }
            bar.finish()
        }
        let reader: ImageReader
        do throws(ImageError) { reader = try ImageReader(source: bytes) } catch {
            throw failure(command, "\(image): \(error.reason)", error.exitCode)
        }
        let bar = ProgressBar(label: "replaying", enabled: progress.enabled)
        if let port = usersock {
            let replayer: StreamReplayer
            do throws(TransportError) { replayer = try StreamReplayer(usersockPort: port) } catch {
                throw failure(command, "cannot open a NETLINK_USERSOCK socket: \(error)", CkptExit.ioError)
            }
            do throws(ReplayError) {
                let r = try replayer.replay(reader, crid: crid) { bar.update($0, $1) }
                bar.finish()
                emit("replayed \(image) as crid \(r.crid) to usersock port \(port): \(r.summary.records) records, "
                     + "\(r.summary.bytes) bytes, checksum \(Format.checksum(r.summary.checksum)), \(r.messages) messages")
            } catch {
                bar.finish()
                throw failure(command, Self.explain(error, port: port), Self.exitCode(error))
            }
            return
        }
        let target = pid!
        if let crid = try? reader.source().parentCrid {
            // Rolling a twin back would zero the pages the image leaves to its parent
            // (AbsentPageReset reads the image's own pages records only).
            throw failure(command, "\(image): refused: taken with --pre-copy (its pages are partly in the pre-copy crid \(crid)); "
                          + "restore it as a new process with ckpt restore", CkptExit.failed)
        }
        if let shared = Self.sharedMapping(reader) {
            throw failure(command, "\(image): refused: mapping \(shared) is shared memory the image holds no pages of (a device's, a deleted "
                          + "file's not on tmpfs, or an image of an older module), so a replay would leave the target's as it is; "
                          + "ckpt restore refuses it too",
                          CkptExit.failed)
        }
        let client = try openFamily(command)
        let link: GenlRestartLink
        do throws(TransportError) { link = try GenlRestartLink(client: client, acksInFlight: window) } catch {
            throw failure(command, "cannot size the netlink socket's buffers: \(error)", CkptExit.ioError)
        }
        let replayer = RestartReplayer(link: link, window: window, copiesPrivateFilePages: true)
        do throws(ReplayError) {
            let r = try replayer.replay(reader, pid: UInt32(target), validateOnly: validateOnly) { bar.update($0, $1) }
            bar.finish()
            let what = validateOnly ? "validated \(image) against pid \(target) (nothing written)" : "restored \(image) into pid \(target)"
            emit("\(what): \(r.reply.records) records, \(r.reply.bytes) bytes, \(r.fragments) messages (window \(window))")
        } catch {
            bar.finish()
            throw failure(command, Self.explain(error, pid: target), Self.exitCode(error))
        }
        guard !validateOnly else { return }
        let reset: AbsentPageReset.Result
        do throws(RestoreError) { reset = try AbsentPageReset(reader: reader, pid: target).run() } catch {
            throw failure(command, "the image's pages were written, but resetting the pages it does not hold failed: \(error)",
                          CkptExit.failed)
        }
        emit("pages the image does not hold, put back as at the checkpoint: \(reset.zeroed) zeroed, \(reset.fromFile) from their files"
             + (reset.holes > 0 ? ", \(reset.holes) of shared memory made holes again" : ""))
        for s in reset.skipped { writeStderr("ckpt replay: warning: \(s)\n") }
    }

    /// The first shared-memory mapping of the image the image holds no pages of ("start-end
    /// (path)"), if any. Unnamed shared memory with a shmem record is in the image; a shared
    /// mapping of a named file is the file, which the twin maps too (the kernel checks the
    /// path and inode).
    static func sharedMapping(_ reader: ImageReader) -> String? {
        let captured = Set(reader.index.lazy.filter { $0.type == .shmem }.map(\.parent))
        for entry in reader.index where entry.type == .vma && !captured.contains(entry.id) {
            guard let bytes = try? reader.meta(of: entry) else { continue }
            var meta: RecordMeta?
            bytes.withUnsafeBytes { payload in
                do throws(ProtocolError) { meta = try RecordMeta(type: .vma, payload: payload) } catch { meta = nil }
            }
            if case let .vma(v)? = meta, VMAKind(v) == .shared {
                return "0x\(String(v.start, radix: 16))-0x\(String(v.end, radix: 16))" + (v.path.map { " (\($0))" } ?? "")
            }
        }
        return nil
    }

    static func exitCode(_ error: ReplayError) -> ExitCode {
        switch error {
        case let .image(e): e.exitCode
        case .meta: CkptExit.dataError
        case .familyUnavailable: CkptExit.unavailable
        case .rejected: CkptExit.failed
        case .transport: CkptExit.ioError
        case .parentMissing: CkptExit.dataError
        case .noParent: CkptExit.failed
        case .pagesRefused, .trailerPages: CkptExit.dataError
        case .memory: CkptExit.failed
        }
    }

    static func explain(_ error: ReplayError, pid: Int32? = nil, port: UInt32? = nil) -> String {
        switch error {
        case let .rejected(.begin, _, errno, message):
            if let text = KernelRefusal.explain(errno, extack: message, pid: pid ?? 0, action: .restore) {
                return KernelRefusal.format(text, extack: message)
            }
            return "\(error); the session was not opened"
        case let .rejected(.commit, _, errno, message):
            // Either the commit was refused (nothing written), or the kernel's writer failed
            // after accepting it, possibly partway: its message then says so.
            return KernelRefusal.format(
                "restart-commit failed (\(errno.shortName)): the kernel refused it, or its writer failed writing the staged "
                    + "pages (the message says whether some were written); the session was aborted",
                extack: message)
        case let .rejected(stage, id, errno, message):
            let at = id.map { " of record \($0)" } ?? ""
            return KernelRefusal.format(
                "the kernel rejected \(stage)\(at) (\(errno.shortName)); the session was aborted and nothing was written",
                extack: message)
        case let .transport(_, e) where e.errno == .connectionRefused:
            return "no listener on usersock port \(port ?? 0) (\(e))"
        case let .image(e):
            return "\(e.path): FAILED at \(e.location): \(e.reason)"
        default:
            return "\(error)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol
import SystemPackage

/// A named FIFO (mkfifo(3)) the process held open: the file record's path with a pipe
/// record under it. The FIFO is the file system's, not the process's: the restore opens the
/// one at the path again, each fd with its own flags (`Restorer.restoreNamedFIFOs`), and
/// refuses when the path holds no FIFO now (it does not make one: whoever made it, a
/// service's manager or the program at its start, decides its owner and mode).
///
/// The pipe behind it lives as long as some process holds it open. When the restored
/// process had a read end, the bytes the pipe held were its to read: they are written back
/// when the pipe it opens is empty (a new pipe: every other opener is gone too), and not
/// when it already holds bytes (another process kept it open; they are still there). A
/// write end whose reader was another process is opened with a reader of the restorer's
/// held just for the open; if no process reads the FIFO after that, the program's next
/// write fails with EPIPE (SIGPIPE), as it would have had the reader exited, and a warning
/// says so.
public struct NamedFIFO: Equatable, Sendable {
    /// One fd: its number and status flags (the access mode among them).
    public struct End: Equatable, Sendable {
        public var fd: Int32
        public var flags: Int32
        public var reads: Bool { flags & O_ACCMODE != O_WRONLY }
        public var writes: Bool { flags & O_ACCMODE != O_RDONLY }
    }

    /// Its path, as the image records it (absolute: the kernel's d_path).
    public var path: String
    /// Capacity (F_GETPIPE_SZ at the checkpoint).
    public var size: UInt32
    /// The bytes it held, when the process had a read end (empty otherwise).
    public var data: [UInt8]
    /// Its fds in the image's order; the file it was (device and inode), when recorded.
    public var ends: [End]
    public var identity: FileIdentity?

    /// The FIFOs among the pipe records, grouped by path: every fd of one FIFO reads its
    /// one pipe's capacity; the bytes come from a read end (the kernel copies them for read
    /// ends only) and must be in the image when it says there were any.
    static func fifos(_ records: [(file: FileMeta, pipe: (meta: PipeMeta, data: [UInt8]))]) throws(RestoreError) -> [NamedFIFO] {
        var out: [NamedFIFO] = []
        for (file, record) in records {
            guard let path = file.path, isFIFOPath(path) else { continue }
            let end = End(fd: Int32(file.fd), flags: Int32(bitPattern: file.fFlags))
            let what = "fd \(file.fd) (FIFO \(path))"
            let i: Int
            if let found = out.firstIndex(where: { $0.path == path }) {
                guard out[found].size == record.meta.size else {
                    throw .image("\(what): a capacity of \(record.meta.size) bytes, another fd of the same FIFO says \(out[found].size)")
                }
                out[found].ends.append(end)
                i = found
            } else {
                out.append(NamedFIFO(path: path, size: record.meta.size, data: [], ends: [end], identity: file.identity))
                i = out.count - 1
            }
            guard end.reads else { continue }
            if record.meta.bytes > 0, record.data.isEmpty {
                throw .unsupported(what: what,
                                   why: "it held \(record.meta.bytes) bytes, which the image does not carry (more than \(CKPT_PIPE_DATA_MAX))")
            }
            if out[i].data.isEmpty { out[i].data = record.data }
            guard out[i].data.count <= Int(out[i].size) else {
                throw .image("\(what): \(out[i].data.count) bytes for a pipe of \(out[i].size)")
            }
        }
        return out
    }

    /// A pipe record's path names a FIFO when it is a path (an anonymous pipe's is
    /// "pipe:[INODE]").
    static func isFIFOPath(_ path: String) -> Bool { path.hasPrefix("/") }

    /// How an fd of a FIFO comes back: refused when its FIFO was deleted, or when the path
    /// holds no FIFO now.
    static func descriptor(_ f: FileMeta, path: String) throws(RestoreError) -> RestorePlan.Descriptor {
        let what = "fd \(f.fd) (FIFO \(path))"
        if path.hasSuffix(" (deleted)") {
            throw .unsupported(what: what, why: "the FIFO was deleted (only a FIFO still on its path is opened again)")
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw .unsupported(what: what, why: "\(path) is gone (\(Errno(rawValue: errno))): make the FIFO again (mkfifo, with the owner and mode "
                               + "its users expect) and restore again; the restore opens a FIFO, it does not make one")
        }
        guard st.st_mode & S_IFMT == S_IFIFO else {
            throw .unsupported(what: what, why: "\(path) is not a FIFO now")
        }
        return .fifo(fd: Int32(f.fd), path: path)
    }
}

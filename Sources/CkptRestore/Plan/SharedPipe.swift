#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptImage
import CkptProtocol

/// One end of a pipe that other processes of a restored tree hold too (a parent writing
/// into its child's stdin, a shell pipeline's stages): as this image has it.
public struct SharedPipeEnd: Equatable, Sendable {
    public var fd: Int32
    /// As /proc/PID/fd shows it: "pipe:[INODE]", the same in every image of the tree.
    public var name: String
    /// A read end (else a write end).
    public var reading: Bool
    /// The open end's status flags (`O_NONBLOCK`, `O_APPEND` are restored).
    public var flags: Int32
    /// The pipe's capacity (`F_GETPIPE_SZ`).
    public var size: UInt32
    /// What the pipe held (a read end's copy; empty for a write end).
    public var data: [UInt8]

    init(_ file: FileMeta, _ record: (meta: PipeMeta, data: [UInt8])) throws(RestoreError) {
        try RestorePlan.checkPipeRecord(file, record)
        self.fd = Int32(file.fd)
        self.name = file.path ?? ""
        self.flags = Int32(bitPattern: file.fFlags)
        self.reading = flags & O_ACCMODE == O_RDONLY
        self.size = record.meta.size
        self.data = record.data
    }
}

/// A pipe of several processes of a restored tree: made once by the restorer, inherited by
/// every process of the tree, each placing its ends at its image's fds.
public struct SharedPipe: Equatable, Sendable {
    public var name: String
    public var size: UInt32
    /// What it held, oldest first (from a read end's image; all read ends hold the same).
    public var data: [UInt8]
    /// Each side's status flags (an end is one open file, shared by the processes holding it).
    public var readFlags: Int32
    public var writeFlags: Int32
}

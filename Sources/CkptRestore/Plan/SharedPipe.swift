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
        let name = file.path ?? ""
        self.fd = Int32(file.fd)
        self.name = name
        self.flags = Int32(bitPattern: file.fFlags)
        self.reading = flags & O_ACCMODE == O_RDONLY
        self.size = record.meta.size
        self.data = record.data
        if record.meta.bytes > 0, record.data.isEmpty, reading {
            throw .unsupported(what: "fd \(file.fd) (\(name))",
                               why: "it held \(record.meta.bytes) bytes, which the image does not carry (more than \(CKPT_PIPE_DATA_MAX))")
        }
        guard data.count <= Int(size) else {
            throw .image("fd \(file.fd) (\(name)): \(data.count) bytes for a pipe of \(size)")
        }
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

/// What a tree restore asks of each image before planning it: whose process it is and
/// which pipes it holds ends of (`RestorePlan.treeFacts`).
public struct TreeFacts: Equatable, Sendable {
    public var pid: UInt32
    public var ppid: UInt32
    /// The names (`pipe:[INODE]`) of the pipes its fds are ends of.
    public var pipeNames: Set<String>
}

extension RestorePlan {
    /// An image's `TreeFacts`, by its task and file records only, so a tree's images can be
    /// put in order and compared before each is planned.
    public static func treeFacts(_ reader: ImageReader) throws(RestoreError) -> TreeFacts {
        var names = Set<String>()
        var task: TaskMeta?
        for entry in reader.index where entry.type == .file || entry.type == .task {
            let metaBytes: [UInt8]
            do throws(ImageError) { metaBytes = try reader.meta(of: entry) } catch { throw .image("\(error)") }
            var decoded: Result<RecordMeta, ProtocolError>?
            metaBytes.withUnsafeBytes { payload in
                do throws(ProtocolError) { decoded = .success(try RecordMeta(type: entry.type, payload: payload)) } catch {
                    decoded = .failure(error)
                }
            }
            switch decoded {
            case let .success(.file(f))?:
                if let path = f.path, path.hasPrefix("pipe:[") { names.insert(path) }
            case let .success(.task(t))?: task = t
            case let .failure(error)?: throw .image("record \(entry.id): \(error)")
            default: break
            }
        }
        guard let task else { throw .image("no task record: not a process image") }
        return TreeFacts(pid: task.tgid, ppid: task.ppid, pipeNames: names)
    }
}

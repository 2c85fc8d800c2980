#if canImport(Glibc)
import CkptJSON
import Glibc
#endif
import CkptImage
import CkptProtocol

/// What `ckpt list` shows of one file of the image directory.
struct ImageListing {
    enum State: String {
        /// A verified, published image (`<crid>.ckpt` that opens).
        case complete
        /// A failed capture (`<crid>.failed`), with the listener's reason.
        case failed
        /// A stream in flight, or left by a listener that died (`<crid>.partial`).
        case partial
        /// A `.ckpt` that does not open (damaged): the reader's error is the reason.
        case damaged
    }

    var file: String
    var crid: UInt64?
    var pid: UInt32?
    var comm: String?
    var captureNs: UInt64
    var size: UInt64
    var records: UInt64
    var state: State
    var reason: String?
    /// A pre-copy (memory only), or the crid of the pre-copy this image needs (`--pre-copy`).
    var preCopy = false
    var parentCrid: UInt64?
    /// A zombie's image (`--tree`): its wait status.
    var zombie: WaitStatus? = nil

    /// Reads what it can of `path` (a `.ckpt`, `.failed` or `.partial` in `directory`):
    /// header, trailer and index of a complete image plus its task record (two small reads),
    /// or a scan of a partial file (which reads it through).
    static func inspect(directory: String, name: String, reasonText: String?) -> ImageListing {
        let path = directory + "/" + name
        let size = fileSize(path)
        if name.hasSuffix(".ckpt") {
            do throws(ImageError) {
                return complete(name, try ImageReader(path: path))
            } catch {
                return ImageListing(file: name, crid: cridFromName(name), pid: nil, comm: nil, captureNs: 0, size: size,
                                    records: 0, state: .damaged, reason: error.reason)
            }
        }
        let state: State = name.hasSuffix(".failed") ? .failed : .partial
        var comm: String?
        do throws(ImageError) {
            let result = try PartialImageScanner(path: path).scan { record in
                if comm == nil, record.entry.type == .task, case let .task(t)? = try? RecordMeta(type: .task, payload: record.meta) {
                    comm = t.comm
                }
            }
            var reason = reasonText
            if reason == nil, state == .partial { reason = "in flight, or left by a listener that stopped" }
            return ImageListing(file: name, crid: result.header.crid, pid: result.header.pid, comm: comm,
                                captureNs: result.header.captureStartNs, size: result.fileSize, records: result.summary.records,
                                state: state, reason: reason)
        } catch {
            return ImageListing(file: name, crid: cridFromName(name), pid: nil, comm: nil, captureNs: 0, size: size, records: 0,
                                state: state, reason: reasonText ?? error.reason)
        }
    }

    /// A published image: its file header, trailer, task record and header record.
    static func complete(_ name: String, _ reader: ImageReader) -> ImageListing {
        let source = try? reader.source()
        let task = task(of: reader)
        return ImageListing(
            file: name, crid: reader.header.crid, pid: reader.header.pid, comm: task?.comm,
            captureNs: reader.header.captureStartNs, size: reader.fileSize, records: reader.summary.records,
            state: .complete, reason: nil, preCopy: source?.isPreCopy ?? false, parentCrid: source?.parentCrid,
            zombie: task?.exitStatus.map(WaitStatus.init))
    }

    /// The STATE column: the state, what a pre-copy or a zombie's image is, the reason.
    var stateText: String {
        var text = state.rawValue
        if preCopy { text += " (pre-copy: restore the image taken after it)" }
        if let parentCrid { text += " (needs pre-copy \(parentCrid))" }
        if let zombie { text += " (zombie, \(zombie): restore it with its parent's tree)" }
        return reason.map { "\(text): \($0)" } ?? text
    }

    /// The task record's meta: the first record of type task (normally id 2).
    static func task(of reader: ImageReader) -> TaskMeta? {
        for entry in reader.index.prefix(8) where entry.type == .task {
            guard let bytes = try? reader.meta(of: entry) else { return nil }
            let decoded: RecordMeta? = bytes.withUnsafeBytes { try? RecordMeta(type: .task, payload: $0) }
            if case let .task(t)? = decoded { return t }
            return nil
        }
        return nil
    }

    /// `7.ckpt`, `7-1.failed` -> 7.
    static func cridFromName(_ name: String) -> UInt64? {
        UInt64(name.prefix { $0.isNumber })
    }

    var json: JSON {
        .object([
            ("file", .string(file)), ("crid", crid.map { JSON.uint($0) } ?? .null), ("pid", pid.map { JSON.uint(UInt64($0)) } ?? .null),
            ("comm", .optional(comm)), ("capture_time_ns", .uint(captureNs)),
            ("capture_time", captureNs > 0 ? .string(Format.time(ns: captureNs)) : .null),
            ("size", .uint(size)), ("records", .uint(records)), ("state", .string(state.rawValue)), ("reason", .optional(reason)),
            ("pre_copy", .bool(preCopy)), ("parent_crid", parentCrid.map { JSON.uint($0) } ?? .null),
            ("exit_status", zombie.map { JSON.uint(UInt64($0.raw)) } ?? .null),
        ])
    }
}

/// The size of `path` (0 when it cannot be stat'ed).
func fileSize(_ path: String) -> UInt64 {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_size) : 0
}

/// A failed system call's errno, with its text.
struct SystemError: Error, CustomStringConvertible {
    var call: String
    var code: Int32
    var description: String { "\(call): \(String(cString: strerror(code)))" }
}

/// The names in `directory`, or the errno that prevented reading it.
func directoryNames(_ directory: String) -> Result<[String], SystemError> {
    guard let dir = opendir(directory) else { return .failure(SystemError(call: "opendir", code: errno)) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != ".", name != ".." { names.append(name) }
    }
    return .success(names)
}

/// The contents of a small text file, or nil.
func readTextFile(_ path: String, limit: Int = 1 << 20) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while bytes.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}


import CkptJSON
import ArgumentParser
import CkptImage
import CkptProtocol
import CkptSystem
#if canImport(Glibc)
import Glibc
#endif

/// `ckpt show IMAGE`: the record tree with key fields, like CRIU's `crit show`.
public struct ShowCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "show",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Show an image's record tree (task > mm > vma > pages; files) with key fields.",
        discussion: """
            Reads the image's header, trailer and index, then each record's meta (one small read each; page data is not read). Each line is `#ID type  fields  [size]`, indented by depth: vma lines give the range, protection (as in /proc/PID/maps) and path; pages their address and count; files fd, flags and path; regs the thread id and, for x86-64, rip and rsp.

            --record ID reads that one record through the index without reading the rest of the file, and prints its meta and the first bytes of its data. With --data FILE it writes the record's whole data to FILE (a new file, mode 0600: page data is process memory), as crit's `x` extracts pages and registers.

            --json prints one object whose first key is `json_version` (1): the format of the keys below it.

            A .failed or .partial capture is shown too: its sound records, up to where it breaks.

            Examples:
              ckpt show /var/lib/ckpt/7.ckpt
              ckpt show /var/lib/ckpt/7.ckpt --record 5
              ckpt show /var/lib/ckpt/7.ckpt --record 9 --data pages-9.bin  # its raw data
              ckpt show 7.ckpt --json | jq '.records[] | select(.type == "vma")'
              ckpt show /var/lib/ckpt/8.failed
              ckpt show 7 --dir /var/lib/ckpt                # by crid

            Exit codes: 0 shown; 1 no record with that id, or no image with that crid; 64 usage; 65 not an image, wrong format version, truncated or damaged; 74 cannot read the file.
            """)

    @Argument(help: ArgumentHelp("The image file (.ckpt; also .failed and .partial), or a crid looked up in --dir.", valueName: "image"))
    var imageArgument: String

    @OptionGroup var location: ImageLocationOptions

    /// The resolved path (set by `run`).
    private var image = ""
    /// The source's page size (from the header record), for vma page counts.
    private var pageSize: UInt32 = 4096

    @Option(help: ArgumentHelp("Show only the record with this id.", valueName: "id"))
    var record: UInt32?

    @Option(help: ArgumentHelp("With --record: write the record's data to this new file.", valueName: "file"))
    var data: String?

    @OptionGroup var output: OutputOptions

    public init() {}

    public func validate() throws {
        if data != nil, record == nil { throw ValidationError("--data needs --record ID (which record's data)") }
    }

    public mutating func run() throws {
        image = try location.path(imageArgument, command: "show")
        if image.hasSuffix(".failed") || image.hasSuffix(".partial") {
            guard record == nil else { throw failure("show", "--record needs a complete image (.ckpt): \(image) has no index", CkptExit.usage) }
            return try showPartial()
        }
        let bytes = try openImageBytes(image, command: "show")
        let reader: ImageReader
        do throws(ImageError) { reader = try ImageReader(source: bytes) } catch {
            throw failure("show", "\(image): \(error.reason)", error.exitCode)
        }
        let source = try? reader.source()
        let arch = source?.arch
        pageSize = source?.pageSize ?? 4096
        if let id = record { return try showRecord(reader, id: id, arch: arch) }

        var depth: [UInt32: Int] = [:]
        var lines: [String] = []
        var items: [JSON] = []
        for entry in reader.index {
            let d = entry.parent == 0 ? 0 : (depth[entry.parent] ?? 0) + 1
            depth[entry.id] = d
            let bytes: [UInt8]
            do throws(ImageError) { bytes = try reader.meta(of: entry) } catch {
                throw failure("show", "\(image): \(error.reason)", error.exitCode)
            }
            let (meta, problem) = bytes.withUnsafeBytes { RecordDescription.decode(entry.type, $0) }
            let regs = entry.type == .regs ? try regsOf(reader, entry, arch: arch) : nil
            if output.json {
                items.append(recordJSON(entry, depth: d, meta: meta, problem: problem, regs: regs))
            } else {
                let indent = String(repeating: "  ", count: d)
                lines.append("\(indent)#\(entry.id) \(entry.type)  " + (problem.map { "(meta does not decode: \($0))" }
                    ?? RecordDescription.text(meta, entry: entry, regs: regs, pageSize: pageSize)))
            }
        }
        if output.json {
            emit(JSONOutput.document([("image", imageJSON(reader, arch: arch)), ("records", .array(items))]).rendered())
            return
        }
        for line in header(reader) + lines { emit(line) }
    }

    private func header(_ reader: ImageReader) -> [String] {
        let h = reader.header
        let s = reader.summary
        var out = ["\(image): crid \(h.crid) pid \(h.pid) captured \(Format.time(ns: h.captureStartNs)) on \(h.host)",
                   "  \(s.records) records, \(s.bytes) bytes of meta and data, checksum \(Format.checksum(s.checksum)), file \(Format.size(reader.fileSize))"]
        if let src = try? reader.source() {
            out.append("  source: \(src.arch), page size \(src.pageSize), kernel \(src.release)")
        }
        return out
    }

    private func imageJSON(_ reader: ImageReader, arch: String?) -> JSON {
        let h = reader.header
        let s = reader.summary
        let src = try? reader.source()
        return .object([
            ("path", .string(image)), ("crid", .uint(h.crid)), ("pid", .uint(UInt64(h.pid))),
            ("capture_time_ns", .uint(h.captureStartNs)), ("host", .string(h.host)), ("file_size", .uint(reader.fileSize)),
            ("records", .uint(s.records)), ("bytes", .uint(s.bytes)), ("checksum", .uint(UInt64(s.checksum))),
            ("arch", .optional(src?.arch)), ("page_size", src.map { .uint(UInt64($0.pageSize)) } ?? .null),
            ("release", .optional(src?.release)),
        ])
    }

    private func recordJSON(_ entry: ImageIndexEntry, depth: Int, meta: RecordMeta?, problem: String?,
                            regs: (rip: UInt64, rsp: UInt64)?) -> JSON {
        var fields: [(String, JSON)] = [
            ("id", .uint(UInt64(entry.id))), ("parent", .uint(UInt64(entry.parent))), ("type", .string("\(entry.type)")),
            ("depth", .uint(UInt64(depth))), ("offset", .uint(entry.offset)), ("meta_length", .uint(UInt64(entry.metaLength))),
            ("data_length", .uint(entry.dataLength)), ("meta", RecordDescription.json(meta, regs: regs)),
        ]
        if let problem { fields.append(("meta_error", .string(problem))) }
        return .object(fields)
    }

    private func regsOf(_ reader: ImageReader, _ entry: ImageIndexEntry, arch: String?) throws -> (rip: UInt64, rsp: UInt64)? {
        guard arch == "x86_64", entry.dataLength >= UInt64(RecordDescription.x86RegsSize) else { return nil }
        let data = try readData(reader, entry, limit: RecordDescription.x86RegsSize)
        return RecordDescription.instructionAndStack(data, arch: arch)
    }

    private func readData(_ reader: ImageReader, _ entry: ImageIndexEntry, limit: Int) throws -> [UInt8] {
        var data = [UInt8](repeating: 0, count: Int(min(UInt64(limit), entry.dataLength)))
        do {
            let n = try data.withUnsafeMutableBytes { (p) throws(ImageError) in try reader.readData(of: entry, offset: 0, into: p) }
            data.removeSubrange(n...)
        } catch let error as ImageError {
            throw failure("show", "\(image): \(error.reason)", error.exitCode)
        }
        return data
    }

    private func showRecord(_ reader: ImageReader, id: UInt32, arch: String?) throws {
        guard let entry = reader.entry(id: id) else {
            let range = reader.index.isEmpty ? "none" : "\(reader.index.first!.id) ... \(reader.index.last!.id)"
            throw failure("show", "\(image): no record with id \(id) (ids \(range), \(reader.index.count) records)", CkptExit.failed)
        }
        let bytes: [UInt8]
        do throws(ImageError) { bytes = try reader.meta(of: entry) } catch {
            throw failure("show", "\(image): \(error.reason)", error.exitCode)
        }
        if let data { return try extract(reader, entry, to: data) }
        let (meta, problem) = bytes.withUnsafeBytes { RecordDescription.decode(entry.type, $0) }
        let head = try readData(reader, entry, limit: max(64, entry.type == .regs ? RecordDescription.x86RegsSize : 0))
        let regs = entry.type == .regs ? RecordDescription.instructionAndStack(head, arch: arch) : nil
        if output.json {
            emit(JSONOutput.document([("record", recordJSON(entry, depth: 0, meta: meta, problem: problem, regs: regs))]).rendered())
            return
        }
        emit("#\(entry.id) \(entry.type) parent \(entry.parent) at offset \(entry.offset): meta \(entry.metaLength) bytes, data \(entry.dataLength) bytes")
        emit("  " + (problem.map { "meta does not decode: \($0)" } ?? RecordDescription.text(meta, entry: entry, regs: regs, pageSize: pageSize)))
        if entry.dataLength > 0 {
            let shown = head.prefix(64)
            for row in stride(from: 0, to: shown.count, by: 16) {
                let chunk = shown[(shown.startIndex + row)..<min(shown.endIndex, shown.startIndex + row + 16)]
                let hex = chunk.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined(separator: " ")
                emit("  \(Format.pad(String(row, radix: 16), 4)) \(hex)")
            }
            if entry.dataLength > 64 { emit("  ... \(entry.dataLength - 64) more data bytes") }
        }
    }

    /// `--data FILE`: the record's whole data, 1 MiB at a time, into a new file (never over an
    /// existing one). A failure removes the partial file.
    private func extract(_ reader: ImageReader, _ entry: ImageIndexEntry, to path: String) throws {
        let fd: Int32
        do { fd = try Syscall.openAt(AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) } catch {
            throw failure("show", "--data \(path): \(describe(error))", error == .fileExists ? CkptExit.failed : CkptExit.ioError)
        }
        var ok = false
        defer {
            Syscall.close(fd)
            if !ok { unlink(path) }
        }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { chunk.deallocate() }
        var offset: UInt64 = 0
        while offset < entry.dataLength {
            let want = Int(min(UInt64(chunk.count), entry.dataLength - offset))
            let n: Int
            do throws(ImageError) {
                n = try reader.readData(of: entry, offset: offset, into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<want]))
            } catch {
                throw failure("show", "\(image): \(error.reason)", error.exitCode)
            }
            guard n > 0 else {
                throw failure("show", "\(image): record \(entry.id) data ends at \(offset) of \(entry.dataLength) bytes", CkptExit.dataError)
            }
            do { try Syscall.writeAll(fd, UnsafeRawBufferPointer(rebasing: chunk[0..<n])) } catch {
                throw failure("show", "--data \(path): \(describe(error))", CkptExit.ioError)
            }
            offset += UInt64(n)
        }
        do { try Syscall.sync(fd) } catch { throw failure("show", "--data \(path): fsync: \(describe(error))", CkptExit.ioError) }
        ok = true
        emit("wrote \(entry.dataLength) data bytes of record \(entry.id) (\(entry.type)) to \(path)")
    }

    /// A failed or in-flight capture: the sound records, then where and why the scan stopped.
    private func showPartial() throws {
        var pageSize: UInt32 = 4096
        var lines: [String] = []
        var items: [JSON] = []
        var depth: [UInt32: Int] = [:]
        let result: PartialImageScanner.Result
        do throws(ImageError) {
            result = try PartialImageScanner(path: image).scan { r in
                let e = r.entry
                let d = e.parent == 0 ? 0 : (depth[e.parent] ?? 0) + 1
                depth[e.id] = d
                let (meta, problem) = RecordDescription.decode(e.type, r.meta)
                if case let .header(h)? = meta { pageSize = h.pageSize }
                if output.json {
                    items.append(recordJSON(e, depth: d, meta: meta, problem: problem, regs: nil))
                } else {
                    lines.append(String(repeating: "  ", count: d) + "#\(e.id) \(e.type)  "
                        + (problem.map { "(meta does not decode: \($0))" } ?? RecordDescription.text(meta, entry: e, regs: nil, pageSize: pageSize)))
                }
            }
        } catch {
            throw failure("show", "\(image): \(error.reason)", error.exitCode)
        }
        let stop: String
        switch result.stop {
        case .endOfFile: stop = "the file ends after the last sound record"
        case .reachedIndex: stop = "an index follows the records"
        case let .damaged(error): stop = "stops at \(error.location): \(error.reason)"
        }
        let reason = readTextFile(image + ".reason").map(ListCommand.oneLine)
        if output.json {
            emit(JSONOutput.document([
                ("image", .object([("path", .string(image)), ("crid", .uint(result.header.crid)), ("pid", .uint(UInt64(result.header.pid))),
                                   ("capture_time_ns", .uint(result.header.captureStartNs)), ("host", .string(result.header.host)),
                                   ("file_size", .uint(result.fileSize)), ("sound_bytes", .uint(result.goodBytes)),
                                   ("records", .uint(result.summary.records)), ("scan", .string(stop)), ("reason", .optional(reason))])),
                ("records", .array(items)),
            ]).rendered())
            return
        }
        emit("\(image): crid \(result.header.crid) pid \(result.header.pid) captured \(Format.time(ns: result.header.captureStartNs)) on \(result.header.host) (incomplete)")
        if let reason { emit("  reason: \(reason)") }
        emit("  \(result.summary.records) sound records, \(result.goodBytes) of \(result.fileSize) bytes sound; \(stop)")
        for line in lines { emit(line) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import SystemPackage

/// The directory images are written to, and its naming rules:
///
///     <crid>.partial          a stream in flight (written as records arrive)
///     <crid>.partial.reason   4 KiB allocated beside it: room for its reason on a full disk
///     <crid>.ckpt             a verified image: finished, fsynced, renamed, directory fsynced
///     <crid>.failed           the bytes of a failed stream (never mistaken for an image)
///     <crid>.failed.reason    why it failed, one line of text
///     <crid>.corrupt          a published image its check after publication refused
///     <crid>.corrupt.reason   why (`PublishedImageCheck`)
///     .ckpt-listen.stats      the listener's counters (JSON)
///     .ckpt-reserve           space allocated for the next image (`SpaceReserve`)
///
/// Crids are unique per boot, not across reboots, so a name may already be taken: the next
/// free `<crid>-1.ckpt`, `<crid>-2.ckpt`... is used instead (the same for `.failed` and
/// `.partial`), and nothing is ever overwritten (`renameat2(RENAME_NOREPLACE)`).
///
/// Every operation goes through the directory's descriptor: a directory removed while the
/// listener runs fails the affected streams with ENOENT instead of writing elsewhere.
public final class ImageDirectory: Sendable {
    public let path: String
    let fd: Int32
    /// Tries before giving up on finding a free name (a directory full of `<crid>-N` files).
    static let maxSuffix = 1000

    /// Opens `path` (which must exist and be a directory).
    public init(path: String) throws(ListenerFileError) {
        self.path = path
        do {
            fd = try Syscall.openAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        } catch {
            throw ListenerFileError("open directory", path, error)
        }
    }

    deinit { Syscall.close(fd) }

    /// `<crid>.<ext>` or, when `n` > 0, `<crid>-<n>.<ext>`.
    static func name(crid: UInt64, n: Int, ext: String) -> String {
        n == 0 ? "\(crid).\(ext)" : "\(crid)-\(n).\(ext)"
    }

    /// Creates a new `<crid>.partial` (or the next free name), mode 0600: images hold process
    /// memory, which may be secret. Returns the descriptor and the name. Also reserves the
    /// room of its reason file (`reserveReasonRoom`). Open for reading too: the image writer
    /// reads the data back to check it (`ImageWriter.DataChecksums.readBack`, `.sender`).
    ///
    /// `fromReserve`: take the space reserved for the next image (`SpaceReserve`) if there
    /// is one; `reserved` says whether it was taken (what the stream does not fill of it is
    /// freed once the file is published or kept, `releaseSurplus`).
    public func createPartial(crid: UInt64, fromReserve: Bool = false)
        throws(ListenerFileError) -> (fd: Int32, name: String, reserved: Bool) {
        for n in 0..<Self.maxSuffix {
            let name = Self.name(crid: crid, n: n, ext: "partial")
            do {
                if fromReserve, let fd = takeReserve(as: name) {
                    reserveReasonRoom(for: name)
                    return (fd, name, true)
                }
                let fd = try Syscall.openAt(self.fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                reserveReasonRoom(for: name)
                return (fd, name, false)
            } catch where error == .fileExists {
                continue
            } catch {
                throw ListenerFileError("create", name, error)
            }
        }
        throw ListenerFileError("create", Self.name(crid: crid, n: Self.maxSuffix, ext: "partial"), .fileExists)
    }

    /// Renames `from` to `<crid>.<ext>` or the next free name, never replacing a file;
    /// returns the name used.
    public func moveToFreeName(_ from: String, crid: UInt64, ext: String) throws(ListenerFileError) -> String {
        for n in 0..<Self.maxSuffix {
            let name = Self.name(crid: crid, n: n, ext: ext)
            do {
                try Syscall.renameNoReplace(fd, from, name)
                return name
            } catch where error == .fileExists {
                continue
            } catch {
                throw ListenerFileError("rename \(from) to", name, error)
            }
        }
        throw ListenerFileError("rename \(from) to", Self.name(crid: crid, n: Self.maxSuffix, ext: ext), .fileExists)
    }

    /// Makes a finished `.partial` an image: fsync of `fd` (the file's data), rename to
    /// `<crid>.ckpt` or the next free name (never replacing a file), its reason room
    /// discarded; returns the name used. The caller fsyncs the directory (once for several).
    /// `syncFile` is fsync(2); tests slow it down.
    func publish(_ partial: String, fd: Int32, crid: UInt64,
                        syncFile: (Int32) throws(Errno) -> Void = Syscall.sync)
        throws(ListenerFileError) -> String {
        do { try syncFile(fd) } catch { throw ListenerFileError("fsync", partial, error) }
        let name = try moveToFreeName(partial, crid: crid, ext: "ckpt")
        discardReasonRoom(for: partial)
        return name
    }

    /// Space for a reason, allocated while there is space: `<partial>.reason`, 4 KiB
    /// (`posix_fallocate`). A stream that fails because the disk filled up still gets its
    /// reason file, however many streams fail at once: writing into allocated blocks needs
    /// no new ones. Best effort: without room (the disk is already full) the reason is
    /// written the ordinary way when it can be.
    static let reasonRoomBytes = 4096

    func reserveReasonRoom(for partial: String) {
        let room = partial + ".reason"
        guard let fd = try? Syscall.openAt(self.fd, room, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) else { return }
        defer { Syscall.close(fd) }
        if posix_fallocate(fd, 0, off_t(Self.reasonRoomBytes)) != 0 { unlinkat(self.fd, room, 0) }
    }

    /// The stream was published: its reason room is not needed.
    public func discardReasonRoom(for partial: String) {
        unlinkat(fd, partial + ".reason", 0)
    }

    /// Writes `<name>.reason` with `text` and a newline, fsynced, into the room reserved for
    /// `partial` when there is one (renamed into place, replacing a stale reason file), else
    /// into a new file. On failure no empty or cut reason file is left behind: the reason
    /// is then only in the log and the stats file.
    public func writeReason(for name: String, partial: String?, _ text: String) throws(ListenerFileError) {
        let reasonName = name + ".reason"
        let line = text + "\n"
        var flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        if let partial, renameat(fd, partial + ".reason", fd, reasonName) == 0 {
            flags = O_WRONLY | O_CLOEXEC  // keep the allocated blocks; trim after writing
        }
        do throws(Errno) {
            let reasonFD = try Syscall.openAt(fd, reasonName, flags, 0o600)
            defer { Syscall.close(reasonFD) }
            do throws(Errno) {
                try Syscall.writeAll(reasonFD, line)
                try Syscall.truncate(reasonFD, line.utf8.count)
                try Syscall.sync(reasonFD)
            } catch {
                unlinkat(fd, reasonName, 0)
                throw error
            }
        } catch {
            throw ListenerFileError("write", reasonName, error)
        }
    }

    /// Removes reason rooms whose `.partial` is gone (left by a listener that died between
    /// publishing and discarding). Call after the leftovers are handled.
    public func removeOrphanReasonRooms() {
        for name in (try? names(withSuffix: ".partial.reason")) ?? [] {
            let partial = String(name.dropLast(".reason".count))
            if faccessat(fd, partial, F_OK, 0) != 0 { unlinkat(fd, name, 0) }
        }
    }

    /// Replaces `name` atomically with `contents` (write a temporary, rename over): for the
    /// stats file, which readers must never see half written. Not fsynced: it is rewritten
    /// every second and means nothing after a crash.
    public func replaceFile(_ name: String, contents: String) throws(ListenerFileError) {
        let temporary = name + ".tmp"
        do throws(Errno) {
            let fd = try Syscall.openAt(self.fd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            defer { Syscall.close(fd) }
            try Syscall.writeAll(fd, contents)
            try Syscall.rename(self.fd, temporary, name)
        } catch {
            throw ListenerFileError("write", name, error)
        }
    }

    /// fsync of the directory itself, so renames and new names survive a crash.
    public func sync() throws(ListenerFileError) {
        do { try Syscall.sync(fd) } catch { throw ListenerFileError("fsync directory", path, error) }
    }

    /// Names of `*.partial` files, sorted: leftovers of a listener that died mid-capture.
    public func partialFiles() throws(ListenerFileError) -> [String] {
        try names(withSuffix: ".partial")
    }

    /// Names ending with `suffix` (and longer than it), sorted.
    private func names(withSuffix suffix: String) throws(ListenerFileError) -> [String] {
        let dup: Int32
        do { dup = try Syscall.duplicate(fd) } catch { throw ListenerFileError("read directory (dup)", path, error) }
        guard let dir = fdopendir(dup) else {
            let error = Syscall.failure("fdopendir")
            Syscall.close(dup)  // fdopendir took no ownership: without this the copy leaks
            throw ListenerFileError("read directory (fdopendir)", path, error)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasSuffix(suffix), name.count > suffix.count { names.append(name) }
        }
        return names.sorted()
    }

    /// The crid a `<crid>[-n].<ext>` name was made for, if it is one of ours.
    static func crid(ofName name: String) -> UInt64? {
        let stem = name.prefix { $0 != "." && $0 != "-" }
        return UInt64(stem)
    }
}

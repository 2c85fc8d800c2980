#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptSystem
import SystemPackage

/// The reserve file's operations (`SpaceReserve` says when): made as `.ckpt-reserve.tmp`
/// and renamed into place whole, taken by renaming it to a stream's `.partial`. Its blocks
/// lie beyond its end (`FALLOC_FL_KEEP_SIZE`): the file is empty, so a stream writes into
/// it as into a new file and its size is always what was written; what the stream did not
/// fill stays allocated past its end until `releaseSurplus`.
extension ImageDirectory {
    static let reserveName = SpaceReserve.fileName
    static let halfMadeReserveName = SpaceReserve.fileName + ".tmp"

    enum ReserveOutcome: Equatable {
        case made
        /// `stop` said so between two steps: nothing is left behind.
        case stopped
        case failed(Errno)
    }

    /// Renames the reserve to `name` (never replacing a file) and opens it for reading and
    /// writing (an empty file, its blocks allocated past its end); nil when there is no reserve
    /// (or it cannot be taken: the stream then creates its file the ordinary way).
    func takeReserve(as name: String) -> Int32? {
        guard (try? Syscall.renameNoReplace(fd, Self.reserveName, name)) != nil else { return nil }
        // Only what `makeReserve` makes: a regular file, empty (its blocks past its end).
        // Anything else put there (a symlink, a FIFO, a file with bytes) is not written into.
        if let opened = try? Syscall.openAt(fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0) {
            var st = stat()
            if fstat(opened, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size == 0,
               fcntl(opened, F_SETFL, fcntl(opened, F_GETFL) & ~O_NONBLOCK) == 0 {  // opened so a FIFO could not block it
                return opened
            }
            Syscall.close(opened)
        }
        unlinkat(fd, name, 0)  // not a reserve: do not leave it under a stream's name
        return nil
    }

    /// Makes a reserve of `bytes` allocated bytes, `step` at a time, asking `stop` before
    /// each step; replaces the reserve there (a smaller one) only once the new one is whole.
    func makeReserve(bytes: UInt64, step: UInt64, stop: () -> Bool) -> ReserveOutcome {
        let tmp: Int32
        do {
            unlinkat(fd, Self.halfMadeReserveName, 0)  // a killed listener's, or a stranger's
            tmp = try Syscall.openAt(fd, Self.halfMadeReserveName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        } catch {
            return .failed(error)
        }
        defer { Syscall.close(tmp) }
        var done: UInt64 = 0
        while done < bytes {
            if stop() {
                unlinkat(fd, Self.halfMadeReserveName, 0)
                return .stopped
            }
            let n = min(step, bytes - done)
            if ckpt_fallocate_keep_size(tmp, Int64(done), Int64(n)) != 0 {
                let e = Errno(rawValue: errno)
                unlinkat(fd, Self.halfMadeReserveName, 0)
                return .failed(e)
            }
            done += n
        }
        if renameat(fd, Self.halfMadeReserveName, fd, Self.reserveName) != 0 {
            let e = Errno(rawValue: errno)
            unlinkat(fd, Self.halfMadeReserveName, 0)
            return .failed(e)
        }
        return .made
    }

    /// The reserve's allocated bytes (0 when there is none), with a half-made one's if asked.
    func reserveBytes(includingHalfMade: Bool = false) -> UInt64 {
        func allocated(_ name: String) -> UInt64 {
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return 0 }
            return UInt64(max(0, st.st_blocks)) * 512
        }
        return allocated(Self.reserveName) + (includingHalfMade ? allocated(Self.halfMadeReserveName) : 0)
    }

    /// Bytes an unprivileged writer may still allocate on the directory's file system.
    func freeBytes() -> UInt64 {
        var vfs = statvfs()
        guard fstatvfs(fd, &vfs) == 0 else { return 0 }
        let (bytes, overflow) = UInt64(vfs.f_bavail).multipliedReportingOverflow(by: UInt64(vfs.f_frsize))
        return overflow ? .max : bytes
    }

    /// Removes the reserve and a half-made one, if there are.
    func removeReserve() {
        unlinkat(fd, Self.reserveName, 0)
        unlinkat(fd, Self.halfMadeReserveName, 0)
    }

    /// `releaseSurplus` of the file `name` in this directory (a leftover `.partial` that a
    /// listener that was killed may have written into a reserve or allocated ahead). Best
    /// effort.
    func releaseSurplus(ofFile name: String) {
        guard let file = try? Syscall.openAt(fd, name, O_WRONLY | O_CLOEXEC, 0) else { return }
        Self.releaseSurplus(file)
        Syscall.close(file)
    }

    /// Frees what a file written into a reserve, or allocated ahead, did not fill: the
    /// blocks past its end (`ftruncate` to its own size; its bytes do not change, so it may
    /// already be published and read). `ftruncate` sets the modification time even when the
    /// size stays: it is put back, so an image's mtime still says when its bytes were last
    /// written (the listener benchmark's end of data, too). Best effort: a file that keeps
    /// the blocks is still correct.
    static func releaseSurplus(_ fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0, ftruncate(fd, st.st_size) == 0 else { return }
        let omit = (1 << 30) - 2  // UTIME_OMIT (<sys/stat.h>), a macro Swift does not import: the access time stays
        var times = [timespec(tv_sec: 0, tv_nsec: omit), st.st_mtim]
        _ = futimens(fd, &times)
    }

    /// The bytes `releaseSurplus` would free: the file's blocks past its end (0 when it
    /// cannot say).
    static func surplusBytes(_ fd: Int32) -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        return UInt64(max(0, Int64(st.st_blocks) * 512 - Int64(st.st_size)))
    }
}

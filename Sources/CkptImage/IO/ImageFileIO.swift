#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCkptShims
import CkptSystem
import SystemPackage

/// The image code's only system calls, each retrying `EINTR` and failing with an
/// `ImageError.io` that names the operation, the path and the file offset.
///
/// Errno policy: CkptSystem's `Syscall` (one for all of ckpt): `EFAULT` means we passed a
/// bad pointer, a bug: it traps. Everything else (`ENOSPC`, `EIO`, `EACCES`, `EBADF` from a
/// caller's descriptor, ...) becomes an error the caller handles.
enum ImageFileIO {
    /// A `writev(2)`: bytes written, or -errno. A parameter so tests can inject short
    /// writes, `EINTR` and errors.
    typealias Writev = (_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> Int

    /// The real `writev(2)`, as a `Writev`.
    static func systemWritev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> Int {
        let n = writev(fd, iov, count)
        return n < 0 ? -Int(errno) : n
    }

    /// A `fallocate(2)` with `FALLOC_FL_KEEP_SIZE` (the file's size does not change): 0, or
    /// the errno. A parameter so tests can stand in for a file system that refuses it.
    typealias Allocate = (_ fd: Int32, _ offset: UInt64, _ length: UInt64) -> Int32

    /// The real `fallocate(2)`, as an `Allocate`, retrying `EINTR`.
    static func systemAllocate(_ fd: Int32, _ offset: UInt64, _ length: UInt64) -> Int32 {
        while ckpt_fallocate_keep_size(fd, Int64(offset), Int64(length)) != 0 {
            if errno != EINTR { return errno }
        }
        return 0
    }

    /// Writes every byte of `parts`, in order, with `writev(2)` at the descriptor's current
    /// position, continuing after short writes and retrying `EINTR`. `offset` is the file
    /// offset of the first byte, for errors. `parts` is the caller's scratch (not
    /// allocated here); it is consumed.
    static func writeAll(
        _ fd: FileDescriptor, _ parts: UnsafeMutableBufferPointer<iovec>, count: Int, offset: UInt64, path: String,
        writev call: Writev = systemWritev
    ) throws(ImageError) {
        var first = 0
        var written: UInt64 = 0
        // Skip empty parts: a writev of only empty iovecs would return 0 forever.
        while first < count, parts[first].iov_len == 0 { first += 1 }
        while first < count {
            let n = call(fd.rawValue, parts.baseAddress! + first, Int32(count - first))
            if n < 0 {
                if Int32(-n) == EINTR { continue }
                let e = Syscall.failure("writev", Int32(-n))  // traps on EFAULT
                throw .io(operation: "write", path: path, offset: offset + written, errno: e)
            }
            if n == 0 {
                // Not for regular files with a non-empty iovec; treat as out of space.
                throw .io(operation: "write", path: path, offset: offset + written, errno: .noSpace)
            }
            written += UInt64(n)
            var left = n
            while first < count, left >= parts[first].iov_len {
                left -= parts[first].iov_len
                first += 1
            }
            if left > 0 {
                parts[first].iov_base = parts[first].iov_base! + left
                parts[first].iov_len -= left
            }
            while first < count, parts[first].iov_len == 0 { first += 1 }
        }
    }

    /// Reads up to `buffer.count` bytes at `offset` (`pread(2)`), looping over short reads
    /// until the buffer is full or the file ends. Returns the bytes read.
    static func read(
        _ fd: FileDescriptor, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, path: String
    ) throws(ImageError) -> Int {
        var done = 0
        while done < buffer.count {
            let n: Int
            do {
                n = try fd.read(
                    fromAbsoluteOffset: Int64(offset) + Int64(done),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), retryOnInterrupt: true)
            } catch {
                throw .io(operation: "read", path: path, offset: offset + UInt64(done), errno: errnoOf(error))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The whole file mapped read-only (`mmap(2)` `PROT_READ`, `MAP_SHARED`, advised
    /// sequential), or nil when it cannot be (size 0, a file system without mmap): the
    /// caller then reads with `read`. A view of the page cache: reading it copies nothing.
    /// Bytes past the end of a file truncated after this raise SIGBUS when touched.
    static func map(_ fd: FileDescriptor, size: UInt64) -> UnsafeRawBufferPointer? {
        guard size > 0, size <= UInt64(Int.max) else { return nil }
        let p = mmap(nil, Int(size), PROT_READ, MAP_SHARED, fd.rawValue, 0)
        guard let p, p != MAP_FAILED else { return nil }
        _ = madvise(p, Int(size), MADV_SEQUENTIAL)
        return UnsafeRawBufferPointer(start: p, count: Int(size))
    }

    /// Undoes `map`.
    static func unmap(_ mapping: UnsafeRawBufferPointer) {
        _ = munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count)
    }

    static func open(_ path: String) throws(ImageError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            throw .io(operation: "open", path: path, offset: 0, errno: errnoOf(error))
        }
    }

    /// The file's size (`fstat(2)`).
    static func size(_ fd: FileDescriptor, path: String) throws(ImageError) -> UInt64 {
        var st = stat()
        if fstat(fd.rawValue, &st) != 0 {
            throw .io(operation: "fstat", path: path, offset: 0, errno: Errno(rawValue: errno))
        }
        return UInt64(st.st_size)
    }
}

/// swift-system throws untyped errors that are always `Errno`.
private func errnoOf(_ error: any Error) -> Errno { (error as? Errno) ?? .ioError }

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCkptShims
import SystemPackage

/// How an image's bytes reach its file.
///
/// - `writev`: `writev(2)` from the caller's buffers; the kernel copies from user memory.
/// - `splice`: through a pipe: `vmsplice(2)` hands the buffers' pages to the pipe, `splice(2)`
///   copies them into the page cache from kernel pages. Under qemu's TCG, where user copies
///   run a byte per emulated step, this writes 2.5x faster; on hardware the two are within
///   ~20 % of each other, either way depending on the file system (docs/benchmarks.md, "Writes
///   through a pipe"). Hence `measure`, not a rule.
public enum ImageWritePath: String, Sendable, CaseIterable {
    case writev
    case splice

    /// What `measure` found: both times and the path to take.
    public struct Measurement: Sendable {
        public let writevNs: UInt64
        public let spliceNs: UInt64

        public init(writevNs: UInt64, spliceNs: UInt64) {
            self.writevNs = writevNs
            self.spliceNs = spliceNs
        }

        /// `splice` only when it took less than 2/3 of writev's time (over 1.5x faster);
        /// `writev` otherwise. Where splice wins it wins by far more (31 against 11 ms in the
        /// TCG guest), while on hardware the two 2 MiB probes come within a tenth of a
        /// millisecond of each other and a plain "faster" picked splice in about one start in
        /// six, though writev is the cheaper path there: 4 KiB fragments, 512 MiB, 0.67
        /// against 0.80 CPU-s and 640 against 780 ms (docs/benchmarks.md, "The write path
        /// by a margin").
        public var chosen: ImageWritePath { spliceNs * 3 < writevNs * 2 ? .splice : .writev }
    }

    /// Bytes each way per round of `measure`: two or three of the listener's ~1 MiB write
    /// calls; all of `measure` took ~0.13 s in the TCG guest and a few ms on the host.
    public static let probeBytes = 2 << 20

    /// Times both paths writing `probeBytes` into an unnamed file (`O_TMPFILE`) in
    /// `directory`, best of three each, alternating; nothing is left in the directory.
    /// Returns the errno when the file system has no `O_TMPFILE` or a write fails.
    public static func measure(directory: String) -> Result<Measurement, Errno> {
        var w: UInt64 = 0
        var s: UInt64 = 0
        let rc = ckpt_write_probe(directory, probeBytes, &w, &s)
        if rc < 0 { return .failure(Errno(rawValue: -rc)) }
        return .success(Measurement(writevNs: w, spliceNs: s))
    }
}

/// The `splice` path for one writer: its own pipe, empty between calls (so the caller's
/// buffers may be reused as soon as a call returns: `ckpt_splice_writev` drains the pipe
/// before it returns). A file that takes no splice (`O_APPEND`, a file system without
/// `splice_write`) answers `EINVAL` with nothing written; from then on this writer uses
/// `writev`.
final class SplicePipe {
    private let readEnd: Int32
    private let writeEnd: Int32
    private var unsupported = false

    init(path: String) throws(ImageError) {
        var fds: [Int32] = [-1, -1]
        let rc = ckpt_splice_pipe(&fds)
        if rc < 0 { throw .io(operation: "pipe", path: path, offset: 0, errno: Errno(rawValue: -rc)) }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// An `ImageFileIO.Writev`: bytes written or -errno.
    func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> Int {
        if !unsupported {
            let n = ckpt_splice_writev(readEnd, writeEnd, fd, iov, count)
            if n != -Int(EINVAL) { return n }
            unsupported = true
        }
        return ImageFileIO.systemWritev(fd, iov, count)
    }
}

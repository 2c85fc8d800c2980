#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol

/// The numbers an image hands the restorer, held to the kernel's own limits before any
/// process exists. An unprivileged user may restore an image from anywhere (a download, a
/// shared directory): a number no kernel records must be refused here, naming its record,
/// and never reach an integer conversion that traps, a loop it bounds, or a call that waits.
/// `RecordDataRules` (data lengths, vma ranges) runs first; these are the checks of meta
/// fields it leaves to the consumer.
extension RestorePlan {
    /// PID_MAX_LIMIT of a 64-bit kernel (include/linux/threads.h): no pid namespace hands out
    /// a larger pid or tid (and pid_t, which the restorer converts them to, holds it).
    static let pidMaxLimit: UInt32 = 4 << 20

    /// _NSIG of x86-64 (arch/x86/include/asm/signal.h): a sigactions record holds one entry
    /// per signal, and rt_sigaction refuses a larger number.
    static let signalCount: UInt32 = 64

    /// The largest capacity F_SETPIPE_SZ sets (fs/pipe.c, `round_pipe_size`: above 2^31 it is
    /// EINVAL); a pipe's capacity (F_GETPIPE_SZ) is at most this.
    static let pipeSizeMax: UInt32 = 1 << 31

    /// A new pipe's capacity: PIPE_DEF_BUFFERS (16) pages (fs/pipe.c). F_SETPIPE_SZ needs no
    /// privilege up to it, whatever /proc/sys/fs/pipe-max-size says.
    static let pipeDefaultSize: UInt32 = 16 * 4096

    /// Checks `meta` of record `id` against the limits of the kernel that made it; `pageSize`
    /// is the header's (`RecordDataRules` refused a vma before the header).
    static func checkBounds(_ meta: RecordMeta, record id: UInt32, pageSize: UInt32?) throws(RestoreError) {
        switch meta {
        case let .task(t):
            guard (1...pidMaxLimit).contains(t.tgid) else {
                throw .image("record \(id): tgid \(t.tgid) outside 1 ... \(pidMaxLimit) (PID_MAX_LIMIT)")
            }
        case let .regs(r):
            guard (1...pidMaxLimit).contains(r.tid) else {
                throw .image("record \(id): tid \(r.tid) outside 1 ... \(pidMaxLimit) (PID_MAX_LIMIT)")
            }
        case let .file(f):
            // The kernel's fds are ints: sysctl_nr_open_max (fs/file.c) is below INT_MAX.
            guard f.fd <= UInt32(Int32.max) else { throw .image("record \(id): fd \(f.fd) above INT_MAX") }
        case let .vma(v):
            // vm_pgoff is mmap's offset (an unsigned long) in pages: times the page size it
            // is the file offset the restorer maps, which fits 64 bits.
            guard let pageSize else { break }  // refused by RecordDataRules already
            guard !v.pgoff.multipliedReportingOverflow(by: UInt64(pageSize)).overflow else {
                throw .image("record \(id): vma pgoff \(hex(v.pgoff)) pages is past the largest file offset")
            }
        case let .sigactions(s):
            guard s.nrSigs <= signalCount else {
                throw .image("record \(id): nr-sigs \(s.nrSigs), but x86-64 has \(signalCount) signals")
            }
        case let .pipe(p):
            // F_GETPIPE_SZ's capacity bounds FIONREAD's bytes: the restorer writes them into
            // a pipe of that capacity, which must take them all.
            guard p.size <= pipeSizeMax, p.bytes <= p.size else {
                throw .image("record \(id): pipe holds \(p.bytes) bytes in a capacity of \(p.size) "
                             + "(at most the capacity, which is at most \(pipeSizeMax))")
            }
        default:
            break
        }
    }

    /// Where a pipe's capacity needs privilege: above both a new pipe's and
    /// /proc/sys/fs/pipe-max-size, F_SETPIPE_SZ wants CAP_SYS_RESOURCE (fs/pipe.c,
    /// `pipe_set_size`). `pipes`: each pipe's or FIFO's fds, name and capacity. Returns the
    /// refusal for the first such pipe, or nil.
    static func pipeSizeRefusal(_ pipes: [(fds: [Int32], name: String, size: UInt32)], pipeMaxSize: UInt64?) -> RestoreError? {
        guard let pipeMaxSize else { return nil }
        for p in pipes where p.size > pipeDefaultSize && UInt64(p.size) > pipeMaxSize {
            return .unsupported(what: "fd \(p.fds[0]) (\(p.name))",
                                why: "its capacity of \(p.size) bytes is above /proc/sys/fs/pipe-max-size (\(pipeMaxSize)), "
                                    + "which only a privileged user (CAP_SYS_RESOURCE) may exceed")
        }
        return nil
    }

    /// How many watches an inotify instance may add and remove on its way to its highest
    /// watch number: fs.inotify.max_user_watches, the number of watches the system lets a
    /// user hold at once, so the most any restore needs unless the process itself cycled
    /// through numbers; the kernel's largest default (1048576, `inotify_user_setup`) when
    /// it cannot be read.
    static func inotifyCycleLimit() -> UInt64 {
        readSysctl("/proc/sys/fs/inotify/max_user_watches") ?? 1_048_576
    }

    /// A number from a /proc/sys file, or nil when it cannot be read.
    static func readSysctl(_ path: String) -> UInt64? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 32)
        guard fgets(&line, Int32(line.count), f) != nil else { return nil }
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return UInt64(text.filter { $0.isNumber })
    }
}

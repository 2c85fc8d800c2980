#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Before the kernel's restart writer writes pages into a private mapping of a file, makes
/// them the process's own copies, from this process: reads them through /proc/PID/mem and
/// writes the same bytes back (a forced write, as a debugger's, copies each page on write).
///
/// Why: the writer faults nothing in there (`ckpt_write_range()`, FOLL_NOFAULT). Such a fault
/// may read the file, and a FUSE daemon can keep that read, uninterruptibly once it has the
/// request, for as long as it likes; in the kernel's writer that would hold the session and
/// `rmmod`. Here it holds only this command, as reading the file would (the process is
/// killable, and the daemon's death or `/sys/fs/fuse/connections/N/abort` ends the read).
///
/// Which mappings: the process's own /proc/PID/maps, read once, private (`p`) with an inode
/// (a file, shared memory's files included: the kernel's rule does not tell them apart).
/// The caller must be allowed to write the process's memory (its tracer, or ptrace access).
public final class PrivateFileCopies {
    /// Private file mappings, ascending.
    public let ranges: [Range<UInt64>]
    private let pid: Int32
    private var mem: Int32 = -1
    private var scratch: UnsafeMutableRawBufferPointer?

    /// Reads `pid`'s mappings.
    public init(pid: Int32) throws(ReplayError) {
        self.pid = pid
        let fd = open("/proc/\(pid)/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .memory(call: "open /proc/\(pid)/maps", address: nil, errno: Errno(rawValue: errno)) }
        defer { close(fd) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .memory(call: "read /proc/\(pid)/maps", address: nil, errno: Errno(rawValue: errno)) }
            if n == 0 { break }
            text += chunk[0..<n]
        }
        ranges = Self.privateFileRanges(text)
    }

    deinit {
        if mem >= 0 { close(mem) }
        scratch?.deallocate()
    }

    /// The private file mappings of a /proc/PID/maps text: `start-end perms offset dev
    /// inode path` per line, perms' fourth letter `p`, inode not 0.
    public static func privateFileRanges(_ text: [UInt8]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let bounds = fields[0].split(separator: UInt8(ascii: "-"))
            guard bounds.count == 2, let start = hex(bounds[0]), let end = hex(bounds[1]), start < end,
                  fields[1].count == 4, fields[1].last == UInt8(ascii: "p"),
                  !fields[4].allSatisfy({ $0 == UInt8(ascii: "0") }) else { continue }
            out.append(start..<end)
        }
        return out.sorted { $0.lowerBound < $1.lowerBound }
    }

    private static func hex(_ s: ArraySlice<UInt8>) -> UInt64? {
        guard !s.isEmpty, s.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in s {
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// Makes the part of `[address, address + count)` that lies in a private file mapping the
    /// process's own copy. Returns the bytes it rewrote (0: none of it did, or the range
    /// wraps past the end of the address space, which no mapping holds).
    @discardableResult
    public func ownCopies(address: UInt64, count: Int) throws(ReplayError) -> Int {
        let (end, wrapped) = address.addingReportingOverflow(UInt64(count))
        if wrapped { return 0 }
        var done = 0
        for r in ranges where r.lowerBound < end && address < r.upperBound {
            var at = max(address, r.lowerBound)
            let stop = min(end, r.upperBound)
            while at < stop {
                let n = Int(min(stop - at, 65536))
                try copyBack(at: at, count: n)
                at += UInt64(n)
                done += n
            }
        }
        return done
    }

    private func copyBack(at address: UInt64, count: Int) throws(ReplayError) {
        if mem < 0 {
            mem = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
            guard mem >= 0 else { throw .memory(call: "open /proc/\(pid)/mem", address: nil, errno: Errno(rawValue: errno)) }
        }
        let buf = scratch ?? UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 4096)
        scratch = buf
        try whole("read", at: address, count: count) { pread(mem, buf.baseAddress! + $0, count - $0, $1) }
        try whole("write", at: address, count: count) { pwrite(mem, buf.baseAddress! + $0, count - $0, $1) }
    }

    /// Repeats `call(done, offset)` (a pread or pwrite of /proc/PID/mem) until `count` bytes
    /// from `address` are done.
    private func whole(_ what: String, at address: UInt64, count: Int,
                       _ call: (Int, off_t) -> Int) throws(ReplayError) {
        var done = 0
        while done < count {
            let n = call(done, off_t(Int64(bitPattern: address)) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw .memory(call: "\(what) /proc/\(pid)/mem (a private file mapping's page, made the process's own before the kernel writes it)",
                              address: address + UInt64(done), errno: Errno(rawValue: n < 0 ? errno : EIO))
            }
            done += n
        }
    }
}

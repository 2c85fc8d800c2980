#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI

/// One resource limit as an rlimits record holds it and `prlimit(2)` takes it back: the
/// soft and the hard limit (two little-endian u64, `CKPT_RLIMIT_SIZE` bytes; all ones is
/// `RLIM_INFINITY`). Entry i of the record is resource i (`RLIMIT_CPU` is 0).
public struct ResourceLimit: Equatable, Sendable {
    public var soft: UInt64
    public var hard: UInt64

    /// The entries of an rlimits record's data. `nil` when the length is not a whole
    /// number of entries.
    public static func table(_ data: [UInt8]) -> [ResourceLimit]? {
        littleEndianEntries(data, wordsPerEntry: Int(CKPT_RLIMIT_SIZE) / 8)?.map { w in ResourceLimit(soft: w[0], hard: w[1]) }
    }

    /// The resource's name (`RLIMIT_NOFILE`), from the C library's constants; "resource
    /// N" for one it does not name.
    public static func name(_ resource: Int) -> String {
        let names: [(__rlimit_resource, String)] = [
            (RLIMIT_CPU, "RLIMIT_CPU"), (RLIMIT_FSIZE, "RLIMIT_FSIZE"), (RLIMIT_DATA, "RLIMIT_DATA"),
            (RLIMIT_STACK, "RLIMIT_STACK"), (RLIMIT_CORE, "RLIMIT_CORE"), (__RLIMIT_RSS, "RLIMIT_RSS"),
            (RLIMIT_NOFILE, "RLIMIT_NOFILE"), (RLIMIT_AS, "RLIMIT_AS"), (__RLIMIT_NPROC, "RLIMIT_NPROC"),
            (__RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"), (__RLIMIT_LOCKS, "RLIMIT_LOCKS"),
            (__RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"), (__RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
            (__RLIMIT_NICE, "RLIMIT_NICE"), (__RLIMIT_RTPRIO, "RLIMIT_RTPRIO"), (__RLIMIT_RTTIME, "RLIMIT_RTTIME"),
        ]
        return names.first { Int($0.0.rawValue) == resource }?.1 ?? "resource \(resource)"
    }

    /// "unlimited" or the number, as `ulimit` prints it.
    public static func describe(_ v: UInt64) -> String { v == UInt64.max ? "unlimited" : String(v) }
}

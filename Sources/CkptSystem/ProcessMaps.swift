#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// One mapping as /proc/PID/maps prints it: `start-end perms offset dev inode [name]`.
public struct MapsEntry: Equatable, Sendable {
    public var range: Range<UInt64>
    /// The permissions' fourth letter is `p` (private: copy on write), not `s` (shared).
    public var isPrivate: Bool
    /// The backing file's inode; 0 for anonymous memory and the kernel's own areas.
    public var inode: UInt64
    /// The path, `[heap]`, `[stack]`, `[vdso]`...; blanks at either end removed (the kernel
    /// pads the column); may hold blanks inside; "" when the line has none.
    public var name: String

    public var start: UInt64 { range.lowerBound }
    public var end: UInt64 { range.upperBound }

    public init(range: Range<UInt64>, isPrivate: Bool, inode: UInt64, name: String) {
        self.range = range
        self.isPrivate = isPrivate
        self.inode = inode
        self.name = name
    }
}

/// /proc/PID/maps, the one parser for the restorer (what the new process has), the restart
/// replayer (which mappings are private files) and the pre-copy's soft-dirty scan (which
/// ranges to read pagemap for). Works on bytes: the same walk over String's Characters was
/// 4-5 % of a 1 MiB restore's samples under TCG (two maps reads per restore).
public enum ProcessMaps {
    /// Reads `/proc/<pid>/maps` whole (a line may be longer than any one buffer: a path of
    /// PATH_MAX bytes) and parses it. Throws the open's or read's errno.
    public static func read(pid: Int32) throws(Errno) -> [MapsEntry] {
        let fd = try Syscall.openAt(AT_FDCWD, "/proc/\(pid)/maps", O_RDONLY | O_CLOEXEC)
        defer { _ = Syscall.close(fd) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try Syscall.retrying("read") { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { break }
            text += chunk[0..<n]
        }
        return parse(text)
    }

    /// Every line of a maps text that is one (`entry`), in the text's order.
    public static func parse(_ text: [UInt8]) -> [MapsEntry] {
        text.split(separator: UInt8(ascii: "\n")).compactMap(entry)
    }

    /// One line, with or without its newline; nil for a line that is not one: fewer than five
    /// fields, a range that is not `start-end` in hex with start below end, permissions
    /// that are not four letters, an inode that is not decimal.
    public static func entry(_ line: ArraySlice<UInt8>) -> MapsEntry? {
        let line = line.last == UInt8(ascii: "\n") ? line.dropLast() : line
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let bounds = fields[0].split(separator: UInt8(ascii: "-"), maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = number(bounds[0], radix: 16), let end = number(bounds[1], radix: 16),
              start < end, fields[1].count == 4, let inode = number(fields[4], radix: 10) else { return nil }
        var name = fields.count > 5 ? fields[5] : []
        while name.first == UInt8(ascii: " ") { name.removeFirst() }
        while name.last == UInt8(ascii: " ") { name.removeLast() }
        return MapsEntry(range: start..<end, isPrivate: fields[1].last == UInt8(ascii: "p"), inode: inode,
                         name: String(decoding: name, as: UTF8.self))
    }

    /// Digits of `radix` (10 or 16, either case), no sign; nil when empty, another byte is
    /// there, or the value does not fit 64 bits.
    static func number(_ digits: ArraySlice<UInt8>, radix: UInt64) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in digits {
            let d: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt64(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt64(c - UInt8(ascii: "A")) + 10
            default: return nil
            }
            guard d < radix else { return nil }
            let (shifted, over) = v.multipliedReportingOverflow(by: radix)
            let (sum, carry) = shifted.addingReportingOverflow(d)
            if over || carry { return nil }
            v = sum
        }
        return v
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptSystem
import CkptListener
import CkptProtocol

/// Human-readable numbers for the tables of `list`, `show` and `stats`.
enum Format {
    /// `1023 B`, `4.0 KiB`, `1.5 MiB`, `2.0 GiB`.
    static func size(_ bytes: UInt64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        var value = Double(bytes)
        for unit in ["KiB", "MiB", "GiB", "TiB"] {
            value /= 1024
            if value < 1024 || unit == "TiB" { return oneDecimal(value) + " " + unit }
        }
        return "\(bytes) B"
    }

    static func oneDecimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// `2026-11-29 03:25:15 UTC` from ns since the epoch (0: `-`).
    static func time(ns: UInt64) -> String {
        guard ns > 0 else { return "-" }
        var t = time_t(ns / 1_000_000_000)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday)) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) UTC"
    }

    /// `1 page`, `3 pages`.
    static func count(_ n: UInt64, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func checksum(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }

    /// `rw-p` from the kernel's vm_flags, as /proc/PID/maps writes it.
    static func vmFlags(_ flags: UInt64) -> String {
        (flags & VMFlags.read != 0 ? "r" : "-") + (flags & VMFlags.write != 0 ? "w" : "-")
            + (flags & VMFlags.exec != 0 ? "x" : "-") + (flags & VMFlags.shared != 0 ? "s" : "p")
    }

    /// A unix or inet record's sock-flags as words ("named,rights", "reuseaddr,nodelay"),
    /// nil when none is set.
    static func sockFlags(_ flags: UInt32) -> String? {
        let names: [(ckpt_sock_flags, String)] = [
            (CKPT_SOCK_FLAGS_NAMED, "named"), (CKPT_SOCK_FLAGS_RIGHTS, "rights"), (CKPT_SOCK_FLAGS_OOB, "oob"),
            (CKPT_SOCK_FLAGS_BUSY, "busy"), (CKPT_SOCK_FLAGS_REUSEADDR, "reuseaddr"), (CKPT_SOCK_FLAGS_REUSEPORT, "reuseport"),
            (CKPT_SOCK_FLAGS_V6ONLY, "v6only"), (CKPT_SOCK_FLAGS_SNDBUF_LOCK, "sndbuf-lock"),
            (CKPT_SOCK_FLAGS_RCVBUF_LOCK, "rcvbuf-lock"), (CKPT_SOCK_FLAGS_KEEPALIVE, "keepalive"),
            (CKPT_SOCK_FLAGS_NODELAY, "nodelay"),
        ]
        let set = names.filter { flags & $0.0.rawValue != 0 }.map(\.1)
        return set.isEmpty ? nil : set.joined(separator: ",")
    }

    /// Pads `s` on the right to `width` (columns of a table).
    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// Lays out rows as columns separated by two spaces; the last column is not padded.
    static func table(_ rows: [[String]]) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        var widths = Array(repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : pad(cell, widths[i]) }.joined(separator: "  ")
        }
    }
}

/// A progress bar on stderr, redrawn at most every 100 ms (`[#####.....]  48%  12.0 MiB / 25.0 MiB`).
final class ProgressBar {
    private let label: String
    private let enabled: Bool
    private var lastDraw: UInt64 = 0
    private var drawn = false

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ done: UInt64, _ total: UInt64) {
        guard enabled else { return }
        let now = monotonicNanoseconds()
        guard done >= total || now - lastDraw >= 100_000_000 else { return }
        lastDraw = now
        let fraction = total == 0 ? 1.0 : min(1.0, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        writeStderr("\r\(label) [\(bar)] \(Format.pad("\(Int(fraction * 100))%", 4)) \(Format.size(done)) / \(Format.size(total))\u{1B}[K")
        drawn = true
    }

    /// Ends the bar's line (call before printing anything else).
    func finish() {
        if drawn { writeStderr("\n") }
        drawn = false
    }
}

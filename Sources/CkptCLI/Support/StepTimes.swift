import CkptSystem

/// `ckpt restore --timings`: each progress line on stderr begins with the wall-clock time it
/// was written, seconds since the epoch to the microsecond (`CLOCK_REALTIME`: the clock of
/// bash's `$EPOCHREALTIME` and of other logs), so where a restore's time went is read off its
/// lines and joined with the caller's own clock. tools/bench/vs-criu takes its restore stages
/// from them: reading the lines as they came (a FIFO to a loop in bash beside the restore,
/// its stdout captured by `$(...)`) had cost the 1 MiB restore ~11 % (docs/benchmarks.md,
/// session 49).
struct StepTimes {
    let enabled: Bool

    /// "1765115123.456789 " now, or "" when not enabled.
    var prefix: String { enabled ? Self.format(wallClockNanoseconds()) + " " : "" }

    /// `ckpt restore: TIME what` on stderr when enabled: the lines only --timings prints
    /// (`reading IMAGE` first, `done` last).
    func mark(_ what: String) {
        if enabled { writeStderr("ckpt restore: \(prefix)\(what)\n") }
    }

    /// Nanoseconds since the epoch as seconds with six decimals (truncated, not rounded).
    static func format(_ nanoseconds: UInt64) -> String {
        let us = nanoseconds / 1000
        let fraction = String(us % 1_000_000)
        return "\(us / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}

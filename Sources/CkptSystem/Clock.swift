#if canImport(Glibc)
import Glibc
#endif

/// ckpt's one clock. Monotonic time in nanoseconds (`clock_gettime(CLOCK_MONOTONIC)`): for
/// deadlines, rates and timeouts everywhere (listener, CLI waits, progress bars). The state
/// machines take `now` as a parameter so tests drive time.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall-clock time in nanoseconds since the epoch (`CLOCK_REALTIME`), for image headers.
public func wallClockNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

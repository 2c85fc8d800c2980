#if canImport(Glibc)
import Glibc
#endif

/// Kills and reaps a child process a test started; nothing when `pid` is 0 (none, or
/// already reaped).
func killAndReap(_ pid: pid_t) {
    guard pid > 0 else { return }
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, __WALL)
}

/// Everything `fd` gives until end of file (or, non-blocking, until nothing is left);
/// closes it. Nothing when `fd` is negative (the open failed).
func readAll(closing fd: Int32) -> [UInt8] {
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { return out }
        out += buf[0..<n]
    }
}

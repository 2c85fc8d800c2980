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

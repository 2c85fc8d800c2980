#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptSystem
import SystemPackage

/// A process this restorer traces: the ptrace requests it needs, each a small wrapper
/// that retries EINTR and turns failures into `RestoreError.system` with the request's
/// name. One owner (the restore), not shared between threads.
struct Tracee {
    let pid: pid_t

    /// `PTRACE_SEIZE` with `PTRACE_O_EXITKILL` (the new process dies with the restorer
    /// until it is detached), `PTRACE_O_TRACECLONE` and `PTRACE_O_TRACEFORK` (threads and
    /// child processes it is made to create are traced from their first instruction, with
    /// these options) of a process in group-stop: seizing it makes it report that stop to
    /// us, which is waited for.
    static func seize(_ pid: pid_t) throws(RestoreError) -> Tracee {
        let t = Tracee(pid: pid)
        try t.request("PTRACE_SEIZE", CKPT_PTRACE_SEIZE,
                      data: UInt(CKPT_PTRACE_O_EXITKILL) | UInt(CKPT_PTRACE_O_TRACECLONE) | UInt(CKPT_PTRACE_O_TRACEFORK))
        _ = try t.waitStop()
        return t
    }

    /// A thread or process a traced thread just created with clone (auto-attached by
    /// `PTRACE_O_TRACECLONE` or `PTRACE_O_TRACEFORK`): waits for its first stop.
    static func clonedThread(_ tid: pid_t) throws(RestoreError) -> Tracee {
        let t = Tracee(pid: tid)
        _ = try t.waitStop()
        return t
    }

    func request(_ name: String, _ req: Int, addr: UInt = 0, data: UInt = 0) throws(RestoreError) {
        let err = raw(req, addr: addr, data: data)
        if err != 0 { throw .system(call: "\(name) pid \(pid)", errno: Errno(rawValue: err)) }
    }

    /// The request's errno, 0 on success; EINTR is retried.
    private func raw(_ req: Int, addr: UInt = 0, data: UInt = 0) -> Int32 {
        while ckpt_ptrace(Int32(req), pid, addr, data) == -1 {
            if errno != EINTR { return errno }
        }
        return 0
    }

    /// Waits until the tracee stops; returns the stopping signal and the ptrace event
    /// (`status >> 16`: PTRACE_EVENT_STOP for a group-stop of a seized tracee). Exits are
    /// errors.
    @discardableResult
    func waitStop() throws(RestoreError) -> (signal: Int32, event: Int32) {
        var status: Int32 = 0
        while waitpid(pid, &status, __WALL) == -1 {
            if errno == EINTR { continue }
            throw .system(call: "waitpid \(pid)", errno: Errno(rawValue: errno))
        }
        // WIFSTOPPED / WSTOPSIG / WIFEXITED are C macros: decoded as <sys/wait.h> does.
        if status & 0xff == 0x7f { return ((status >> 8) & 0xff, status >> 16) }
        if status & 0x7f == 0 { throw .mismatch("the new process exited with status \((status >> 8) & 0xff)") }
        throw .mismatch("the new process was killed by signal \(status & 0x7f)")
    }

    /// The registers (`struct user_regs_struct`, 27 words).
    func getRegisters() throws(RestoreError) -> [UInt64] {
        var regs = [UInt64](repeating: 0, count: RestorePlan.registerWords)
        let err = regs.withUnsafeMutableBytes { raw(CKPT_PTRACE_GETREGS, data: UInt(bitPattern: $0.baseAddress)) }
        if err != 0 { throw .system(call: "PTRACE_GETREGS pid \(pid)", errno: Errno(rawValue: err)) }
        return regs
    }

    func setRegisters(_ regs: [UInt64]) throws(RestoreError) {
        precondition(regs.count == RestorePlan.registerWords)
        var copy = regs
        let err = copy.withUnsafeMutableBytes { raw(CKPT_PTRACE_SETREGS, data: UInt(bitPattern: $0.baseAddress)) }
        if err != 0 { throw .system(call: "PTRACE_SETREGS pid \(pid)", errno: Errno(rawValue: err)) }
    }

    func cont() throws(RestoreError) { try request("PTRACE_CONT", CKPT_PTRACE_CONT) }

    /// Its blocked signals (`PTRACE_SETSIGMASK`; SIGKILL and SIGSTOP are never blocked).
    func setSignalMask(_ mask: UInt64) throws(RestoreError) {
        var m = mask
        let err = withUnsafeMutableBytes(of: &m) { raw(CKPT_PTRACE_SETSIGMASK, addr: 8, data: UInt(bitPattern: $0.baseAddress)) }
        if err != 0 { throw .system(call: "PTRACE_SETSIGMASK pid \(pid)", errno: Errno(rawValue: err)) }
    }

    /// Sets the regset of ELF note type `note` from `bytes` (`PTRACE_SETREGSET`). Returns
    /// the errno, 0 on success: a caller may have a fallback for a layout this kernel refuses.
    func setRegset(note: Int32, _ bytes: [UInt8]) -> Int32 {
        var copy = bytes
        return copy.withUnsafeMutableBytes { buf in
            var iov = iovec(iov_base: buf.baseAddress, iov_len: buf.count)
            return withUnsafeMutablePointer(to: &iov) { raw(CKPT_PTRACE_SETREGSET, addr: UInt(note), data: UInt(bitPattern: $0)) }
        }
    }

    /// The x87/SSE registers from a 512-byte FXSAVE area (`PTRACE_SETFPREGS`).
    func setFPRegisters(_ fxsave: [UInt8]) throws(RestoreError) {
        precondition(fxsave.count == 512)
        var copy = fxsave
        let err = copy.withUnsafeMutableBytes { raw(CKPT_PTRACE_SETFPREGS, data: UInt(bitPattern: $0.baseAddress)) }
        if err != 0 { throw .system(call: "PTRACE_SETFPREGS pid \(pid)", errno: Errno(rawValue: err)) }
    }

    /// Lets it run (or stop with `signal`), no longer traced.
    func detach(signal: Int32 = 0) throws(RestoreError) {
        try request("PTRACE_DETACH", CKPT_PTRACE_DETACH, data: UInt(signal))
    }

    /// Writes `bytes` at `address` of its memory (/proc/PID/mem: the tracer may write any
    /// mapping, as a debugger sets breakpoints).
    func write(_ bytes: [UInt8], at address: UInt64) throws(RestoreError) {
        let fd = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open /proc/\(pid)/mem", errno: Errno(rawValue: errno)) }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(Int64(bitPattern: address))) }
        guard n == bytes.count else {
            throw .system(call: "write \(bytes.count) bytes at \(hex(address)) of pid \(pid)",
                          errno: Errno(rawValue: n < 0 ? errno : EIO))
        }
    }

    /// Reads `count` bytes at `address` of its memory (/proc/PID/mem).
    func read(_ count: Int, at address: UInt64) throws(RestoreError) -> [UInt8] {
        let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open /proc/\(pid)/mem", errno: Errno(rawValue: errno)) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(Int64(bitPattern: address))) }
        guard n == count else {
            throw .system(call: "read \(count) bytes at \(hex(address)) of pid \(pid)", errno: Errno(rawValue: n < 0 ? errno : EIO))
        }
        return bytes
    }

    /// Its mappings as /proc/PID/maps lists them.
    func maps() throws(RestoreError) -> [MapsEntry] {
        do throws(Errno) { return try ProcessMaps.read(pid: pid) } catch {
            throw .system(call: "read /proc/\(pid)/maps", errno: error)
        }
    }
}

import CkptProtocol

/// One thread as the image holds it: what the restorer gives the thread it creates.
public struct ThreadPlan: Equatable, Sendable {
    /// The thread's id when checkpointed (the restored thread gets a new one).
    public var tid: UInt32
    /// `struct user_regs_struct` (x86-64, 27 words), fs_base and gs_base included.
    public var registers: [UInt64]
    /// Blocked signals (`nil`: an image of an older module).
    public var blockedSignals: UInt64?
    /// FPU/SSE/AVX state (`nil`: not in the image).
    public var xstate: XState?
    /// The rseq area registered with the kernel, its length and signature (`nil`: none,
    /// or not in the image).
    public var rseq: RseqRegistration?
    /// `set_robust_list` head (0: none; `nil`: not in the image).
    public var robustList: UInt64?
    /// `set_tid_address` pointer (0: none; `nil`: not in the image).
    public var clearChildTid: UInt64?
    /// Signals pending for this thread alone (`nil`: not in the image).
    public var pendingSignals: UInt64?
    /// Its alternate signal stack (`nil`: none, or not in the image).
    public var altstack: AltStack?
    /// Its queued signals with their siginfo (`nil`: none, or not in the image).
    public var queue: SignalQueue?

    /// The registers to resume the thread with. A thread stopped inside a system call the
    /// kernel would continue through its restart block (`-ERESTART_RESTARTBLOCK`, 516, in
    /// rax: poll, nanosleep, futex waits with a timeout) cannot continue that way in a new
    /// process, whose restart block is empty (`restart_syscall` would return EINTR, which
    /// is what CRIU restores and what makes a restored `tail -f` exit): such a thread
    /// executes the system call again from its start, with its original arguments
    /// (rax = orig_rax, rip back over the 2-byte `syscall`, orig_rax -1 so that no restart
    /// logic runs on resume). A relative timeout starts over. The other restart codes
    /// (-ERESTARTSYS, -ERESTARTNOHAND, -ERESTARTNOINTR) are left to the kernel's own restart
    /// on resume, which re-executes the call the same way unless a handled signal comes.
    public var resumeRegisters: [UInt64] {
        guard restartsItsCall, resumable else { return registers }
        var r = registers
        r[Self.rax] = r[Self.origRax]
        r[Self.rip] -= 2
        r[Self.origRax] = UInt64.max
        return r
    }

    static let rax = 10, origRax = 15, rip = 16

    /// Stopped in a system call with a restart block (see `resumeRegisters`).
    var restartsItsCall: Bool {
        registers.count > Self.rip && Int64(bitPattern: registers[Self.origRax]) >= 0
            && Int64(bitPattern: registers[Self.rax]) == -516
    }

    /// Whether `resumeRegisters` can move rip back over the `syscall`: a real thread's rip is
    /// past one, so at least 2 (the plan refuses an image whose is not).
    var resumable: Bool { !restartsItsCall || registers[Self.rip] >= 2 }

    init(meta: RegsMeta, registers: [UInt64]) {
        tid = meta.tid
        self.registers = registers
        blockedSignals = meta.sigmask
        rseq = meta.rseq.flatMap { $0.address == 0 ? nil : $0 }
        robustList = meta.robustList
        clearChildTid = meta.clearChildTid
        pendingSignals = meta.sigpending
        altstack = meta.altstack.flatMap { $0.sp == 0 && $0.size == 0 ? nil : $0 }
    }
}

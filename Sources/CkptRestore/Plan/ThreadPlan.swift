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

#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import SystemPackage

/// System calls run inside the stopped new process: registers set to the call, rip at a
/// `syscall; int3` gadget, continue, wait for the SIGTRAP, read rax. CRIU's compel does the
/// same with a parasite; here the process runs nothing else, so the gadget is enough.
struct RemoteSyscalls {
    let tracee: Tracee
    /// Registers of the stopped stub, the template every call starts from.
    let base: [UInt64]
    /// Address of the gadget in the process.
    var gadget: UInt64
    /// A page of the process for arguments (paths, structs): the gadget's page past its code.
    var scratch: UInt64 { (gadget & ~0xfff) + 64 }

    // struct user_regs_struct word indices (arch/x86/include/asm/user_64.h).
    static let r10 = 7, r9 = 8, r8 = 9, rax = 10, rdx = 12, rsi = 13, rdi = 14, origRax = 15, rip = 16

    /// Runs syscall `nr`; returns its result, or throws `.remote(step, errno)`.
    @discardableResult
    func call(_ step: String, _ nr: Int32, _ args: UInt64...) throws(RestoreError) -> UInt64 {
        var regs = base
        let slots = [Self.rdi, Self.rsi, Self.rdx, Self.r10, Self.r8, Self.r9]
        for (i, a) in args.enumerated() { regs[slots[i]] = a }
        regs[Self.rax] = UInt64(nr)
        regs[Self.origRax] = UInt64.max  // not in a syscall: no restart logic on resume
        regs[Self.rip] = gadget
        try tracee.setRegisters(regs)
        // A group-stop still pending from the stub's own SIGSTOP is reported once more
        // (PTRACE_EVENT_STOP): continue past it; anything else is not our trap.
        for attempt in 0..<3 {
            try tracee.cont()
            let stop = try tracee.waitStop()
            if stop.signal == SIGTRAP, stop.event == 0 { break }
            guard stop.event != 0, attempt < 2 else {
                throw .mismatch("\(step): the new process stopped with signal \(stop.signal), not at the gadget")
            }
        }
        let result = try tracee.getRegisters()[Self.rax]
        let signed = Int64(bitPattern: result)
        if signed < 0, signed >= -4095 { throw .remote(step: step, errno: Errno(rawValue: Int32(-signed))) }
        return result
    }

    /// Unmaps the gadget's own page: the syscall returns into an unmapped int3, so the stop
    /// is a SIGSEGV (suppressed by the next resume); rax still holds munmap's result.
    func unmapGadgetPage() throws(RestoreError) {
        var regs = base
        regs[Self.rax] = UInt64(CKPT_SYS_MUNMAP)
        regs[Self.rdi] = gadget & ~0xfff
        regs[Self.rsi] = 4096
        regs[Self.origRax] = UInt64.max
        regs[Self.rip] = gadget
        try tracee.setRegisters(regs)
        try tracee.cont()
        let stop = try tracee.waitStop()
        guard stop.signal == SIGSEGV, try tracee.getRegisters()[Self.rax] == 0 else {
            throw .mismatch("munmap of the restorer's gadget page: stopped with signal \(stop.signal)")
        }
    }

    /// Writes a NUL-terminated string into the scratch page; returns its address.
    func string(_ s: String) throws(RestoreError) -> UInt64 {
        let bytes = Array(s.utf8) + [0]
        guard bytes.count <= 4096 - 64 else { throw .unsupported(what: "path \(s)", why: "longer than the restorer's scratch page") }
        try tracee.write(bytes, at: scratch)
        return scratch
    }
}

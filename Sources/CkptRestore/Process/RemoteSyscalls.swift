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
    /// Whether the gadget's page holds `StubProgram.gadgetPage` (the batch loop after the
    /// gadget): the restorer's own page does, the stub's does not.
    var batchLoop = false
    /// A page of the process for arguments (paths, structs): the gadget's page past its code.
    var scratch: UInt64 { (gadget & ~0xfff) + 64 }

    // struct user_regs_struct word indices (arch/x86/include/asm/user_64.h).
    static let rbx = 5, r10 = 7, r9 = 8, r8 = 9, rax = 10, rdx = 12, rsi = 13, rdi = 14, origRax = 15, rip = 16

    /// Runs syscall `nr`; returns its result, or throws `.remote(step, errno)`.
    @discardableResult
    func call(_ step: String, _ nr: Int32, _ args: UInt64...) throws(RestoreError) -> UInt64 {
        try run(step, nr, args)
    }

    /// `call` with the arguments as an array.
    private func run(_ step: String, _ nr: Int32, _ args: [UInt64]) throws(RestoreError) -> UInt64 {
        var regs = base
        let slots = [Self.rdi, Self.rsi, Self.rdx, Self.r10, Self.r8, Self.r9]
        for (i, a) in args.enumerated() { regs[slots[i]] = a }
        regs[Self.rax] = UInt64(nr)
        regs[Self.origRax] = UInt64.max  // not in a syscall: no restart logic on resume
        regs[Self.rip] = gadget
        try tracee.setRegisters(regs)
        try resumeToTrap(step)
        let result = try tracee.getRegisters()[Self.rax]
        let signed = Int64(bitPattern: result)
        if signed < 0, signed >= -4095 { throw .remote(step: step, errno: Errno(rawValue: Int32(-signed))) }
        return result
    }

    /// Sets up syscall `nr` at the gadget and detaches: the process runs it untraced. For a
    /// call that ends the process (exit_group, or a signal that kills it), which no trap of
    /// ours would follow; nothing comes back.
    func callDetached(_ nr: Int32, _ args: UInt64...) throws(RestoreError) {
        var regs = base
        let slots = [Self.rdi, Self.rsi, Self.rdx, Self.r10, Self.r8, Self.r9]
        for (i, a) in args.enumerated() { regs[slots[i]] = a }
        regs[Self.rax] = UInt64(nr)
        regs[Self.origRax] = UInt64.max
        regs[Self.rip] = gadget
        try tracee.setRegisters(regs)
        try tracee.detach()
    }

    /// One call of a batch: what `call` takes, and optionally bytes one of its arguments
    /// points to (a path, a struct), which the batch writes beside its table.
    struct Call {
        let step: String
        let nr: Int32
        let args: [UInt64]
        /// What argument `slot` points to; empty: no argument points into the batch.
        let data: [UInt8]
        let slot: Int
        init(_ step: String, _ nr: Int32, _ args: UInt64...) {
            precondition(args.count <= 6)
            (self.step, self.nr, self.args, self.data, self.slot) = (step, nr, args, [], 0)
        }
        /// A call whose argument `slot` is set to the address of `data` in the process (the
        /// value given for that argument is replaced).
        init(_ step: String, _ nr: Int32, pointingAt data: [UInt8], in slot: Int, _ args: UInt64...) {
            precondition(args.count <= 6 && slot < args.count && !data.isEmpty)
            (self.step, self.nr, self.args, self.data, self.slot) = (step, nr, args, data, slot)
        }
        /// The bytes of the scratch area its data takes in a batch (8-aligned: structs).
        var dataSpace: Int { (data.count + 7) & ~7 }
    }

    /// The batch loop's table fits the scratch area: 64 bytes per call and one for its end.
    static let batchMax = scratchSize / 64 - 1
    /// A result slot the loop has not written: odd and not a canonical address, so no
    /// call of a batch (mmap, munmap, arch_prctl, close) returns it.
    static let notRun: UInt64 = 0x8000_0000_0000_0001

    /// Runs `list` in order, as many calls per stop-and-resume of the process as the
    /// scratch area holds with their data (the gadget page's batch loop,
    /// `StubProgram.batchLoop`), instead of one stop each: under ptrace each stop costs a
    /// register write, a resume, a wait and a register read, and two context switches.
    /// Returns each result; the first call that fails throws `.remote(its step, errno)`,
    /// and the calls after it are not run, as with one `call` after another. A call whose
    /// data does not fit beside a table of one runs alone through the gadget, its data at
    /// the scratch area's start (`.unsupported` if longer than the area). Uses the whole
    /// scratch area.
    @discardableResult
    func calls(_ list: [Call]) throws(RestoreError) -> [UInt64] {
        var results: [UInt64] = []
        results.reserveCapacity(list.count)
        var pending: ArraySlice<Call> = list[list.startIndex..<list.startIndex]
        var space = 0
        func flush() throws(RestoreError) {
            guard !pending.isEmpty else { return }
            results += try batch(pending)
            pending = list[pending.endIndex..<pending.endIndex]
            space = 0
        }
        for i in list.indices {
            let c = list[i]
            if 2 * 64 + c.dataSpace > Self.scratchSize {
                try flush()
                results.append(try alone(c))
                pending = list[(i + 1)..<(i + 1)]
                continue
            }
            if (pending.count + 2) * 64 + space + c.dataSpace > Self.scratchSize || pending.count == Self.batchMax {
                try flush()
                pending = list[i..<i]
            }
            pending = list[pending.startIndex..<(i + 1)]
            space += c.dataSpace
        }
        try flush()
        return results
    }

    /// `c` through the gadget, its data at the scratch area's start.
    private func alone(_ c: Call) throws(RestoreError) -> UInt64 {
        guard c.data.count <= Self.scratchSize else {
            throw .unsupported(what: c.step, why: "its argument is longer than the restorer's scratch page")
        }
        var args = c.args
        if !c.data.isEmpty {
            try tracee.write(c.data, at: scratch)
            args[c.slot] = scratch
        }
        return try run(c.step, c.nr, args)
    }

    /// Opens each file (`open(path, flags | O_CLOEXEC)`) in the process, in order, as many
    /// per stop as the scratch area holds (`calls`: the paths beside the table). Returns
    /// the descriptors in order; the first open that fails throws `.remote(its step,
    /// errno)` and the opens after it are not run (those before it stay open, as with one
    /// `call` after another). A path that does not fit beside a table of one is
    /// `.unsupported`, before anything is opened.
    func open(_ files: [(path: String, flags: Int32, step: String)]) throws(RestoreError) -> [UInt64] {
        for f in files where 2 * 64 + f.path.utf8.count + 1 > Self.scratchSize {
            throw .unsupported(what: "path \(f.path)", why: "longer than the restorer's scratch page")
        }
        return try calls(files.map { f in
            Call(f.step, Int32(CKPT_SYS_OPEN), pointingAt: Array(f.path.utf8) + [0], in: 0, 0, UInt64(f.flags | O_CLOEXEC), 0)
        })
    }

    /// Bytes of the gadget's page past its code: the batch table and what follows it.
    static let scratchSize = 4096 - 64

    /// One stop of the batch loop: `chunk` as its table at `scratch`, each call's data
    /// right after the table's end entry (8-aligned), in one write.
    private func batch(_ chunk: ArraySlice<Call>) throws(RestoreError) -> [UInt64] {
        guard batchLoop else { throw .mismatch("a batch of remote calls before the restorer's gadget page was made") }
        var table: [UInt64] = []
        table.reserveCapacity((chunk.count + 1) * 8)
        var trailing: [UInt8] = []
        var at = scratch + UInt64((chunk.count + 1) * 64)
        for c in chunk {
            var args = c.args
            if !c.data.isEmpty {
                args[c.slot] = at
                trailing += c.data + [UInt8](repeating: 0, count: c.dataSpace - c.data.count)
                at += UInt64(c.dataSpace)
            }
            table.append(UInt64(c.nr))
            table += args + [UInt64](repeating: 0, count: 6 - args.count)
            table.append(Self.notRun)
        }
        precondition(!chunk.isEmpty && chunk.count <= Self.batchMax && (chunk.count + 1) * 64 + trailing.count <= Self.scratchSize)
        table += [UInt64.max] + [UInt64](repeating: 0, count: 7)  // nr -1: the end
        try tracee.write(table.flatMap { w in withUnsafeBytes(of: w.littleEndian, Array.init) } + trailing, at: scratch)
        var regs = base
        regs[Self.rbx] = scratch
        regs[Self.origRax] = UInt64.max
        regs[Self.rip] = (gadget & ~0xfff) + UInt64(StubProgram.batchLoopOffset)
        try tracee.setRegisters(regs)
        try resumeToTrap(chunk.first!.step)
        let done = try tracee.read(chunk.count * 64, at: scratch)
        var results: [UInt64] = []
        results.reserveCapacity(chunk.count)
        for (i, c) in chunk.enumerated() {
            let result = done.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: i * 64 + 56, as: UInt64.self)) }
            if result == Self.notRun {
                throw .mismatch("\(c.step): the batch of remote calls stopped before this call")
            }
            let signed = Int64(bitPattern: result)
            if signed < 0, signed >= -4095 { throw .remote(step: c.step, errno: Errno(rawValue: Int32(-signed))) }
            results.append(result)
        }
        return results
    }

    /// Continues the process to its next SIGTRAP (the gadget's or the batch loop's int3).
    /// A group-stop still pending from the stub's own SIGSTOP is reported once more
    /// (PTRACE_EVENT_STOP): continue past it; anything else is not our trap.
    private func resumeToTrap(_ step: String) throws(RestoreError) {
        for attempt in 0..<3 {
            try tracee.cont()
            let stop = try tracee.waitStop()
            if stop.signal == SIGTRAP, stop.event == 0 { return }
            guard stop.event != 0, attempt < 2 else {
                throw .mismatch("\(step): the new process stopped with signal \(stop.signal), not at the gadget")
            }
        }
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
        guard bytes.count <= Self.scratchSize else { throw .unsupported(what: "path \(s)", why: "longer than the restorer's scratch page") }
        try tracee.write(bytes, at: scratch)
        return scratch
    }
}

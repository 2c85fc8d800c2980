/// The program the new process starts as: a static x86-64 ELF of one page, built here
/// byte by byte so that no toolchain, libc or dynamic loader is involved (nothing of it
/// may stay behind: no rseq registration, no signal handlers, no extra mappings). It stops
/// itself, and then is only ever driven from outside through its gadget.
///
/// ```
///  0  ELF header (64 bytes)        e_type EXEC, e_machine x86-64, entry = base + 120
/// 64  program header (56 bytes)    PT_LOAD R+X, the whole file at `base`
/// 120 code:  mov eax, 39; syscall        getpid()
///            mov edi, eax; mov esi, 19
///            mov eax, 62; syscall        kill(self, SIGSTOP)
/// 141 gadget: syscall; int3; jmp gadget  the restorer sets rax/args/rip here and
///                                        continues: one syscall, then a SIGTRAP stop
/// ```
enum StubProgram {
    /// Where the stub loads: far from where programs and their mmap area usually are. The
    /// restorer does not depend on it: it moves the gadget to a page the image leaves free.
    static let base: UInt64 = 0x2000_0000_0000
    static let codeOffset = 120
    /// The gadget's bytes: `syscall; int3; jmp -5` (back to the syscall).
    static let gadget: [UInt8] = [0x0f, 0x05, 0xcc, 0xeb, 0xfb]
    static let gadgetOffset = 141

    /// Where the batch loop sits in the restorer's gadget page, after the gadget (the page's
    /// scratch area starts at 64: `RemoteSyscalls.scratch`).
    static let batchLoopOffset = 8

    /// Runs a table of system calls, one per 64-byte entry at rbx (nr, six arguments, the
    /// result), until an entry whose nr is negative or a call that fails; then int3. So one
    /// stop-and-resume of the process runs many calls (`RemoteSyscalls.calls`). Assembled
    /// with GNU as from this source (`objdump -d` of it is the bytes below):
    ///
    ///     loop: mov rax, [rbx]           48 8b 03
    ///           test rax, rax            48 85 c0
    ///           js done                  78 2c
    ///           mov rdi, [rbx+8]         48 8b 7b 08
    ///           mov rsi, [rbx+16]        48 8b 73 10
    ///           mov rdx, [rbx+24]        48 8b 53 18
    ///           mov r10, [rbx+32]        4c 8b 53 20
    ///           mov r8, [rbx+40]         4c 8b 43 28
    ///           mov r9, [rbx+48]         4c 8b 4b 30
    ///           syscall                  0f 05
    ///           mov [rbx+56], rax        48 89 43 38
    ///           cmp rax, -4095           48 3d 01 f0 ff ff
    ///           jae done                 73 06          (-4095..-1: an errno)
    ///           add rbx, 64              48 83 c3 40
    ///           jmp loop                 eb cc
    ///     done: int3                     cc
    static let batchLoop: [UInt8] = [
        0x48, 0x8b, 0x03, 0x48, 0x85, 0xc0, 0x78, 0x2c, 0x48, 0x8b, 0x7b, 0x08,
        0x48, 0x8b, 0x73, 0x10, 0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20,
        0x4c, 0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30, 0x0f, 0x05, 0x48, 0x89,
        0x43, 0x38, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x06, 0x48, 0x83,
        0xc3, 0x40, 0xeb, 0xcc, 0xcc,
    ]

    /// The gadget page's code: the gadget at 0, int3 padding, the batch loop at 8.
    static var gadgetPage: [UInt8] {
        let code = gadget + [UInt8](repeating: 0xcc, count: batchLoopOffset - gadget.count) + batchLoop
        precondition(code.count <= 64)
        return code
    }

    static var image: [UInt8] {
        let code: [UInt8] = [
            0xb8, 0x27, 0x00, 0x00, 0x00,  // mov eax, 39 (getpid)
            0x0f, 0x05,                    // syscall
            0x89, 0xc7,                    // mov edi, eax
            0xbe, 0x13, 0x00, 0x00, 0x00,  // mov esi, 19 (SIGSTOP)
            0xb8, 0x3e, 0x00, 0x00, 0x00,  // mov eax, 62 (kill)
            0x0f, 0x05,                    // syscall
        ] + gadget
        precondition(codeOffset + 21 == gadgetOffset)
        let size = UInt64(codeOffset + code.count)
        var b: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)  // ELF64, LE, v1
        b += le(2, 2) + le(0x3e, 2) + le(1, 4)                       // e_type EXEC, x86-64, version
        b += le(base + UInt64(codeOffset), 8) + le(64, 8) + le(0, 8)  // e_entry, e_phoff, e_shoff
        b += le(0, 4) + le(64, 2) + le(56, 2) + le(1, 2)             // e_flags, e_ehsize, e_phentsize, e_phnum
        b += le(64, 2) + le(0, 2) + le(0, 2)                         // e_shentsize, e_shnum, e_shstrndx
        b += le(1, 4) + le(5, 4) + le(0, 8)                          // PT_LOAD, PF_R|PF_X, p_offset
        b += le(base, 8) + le(base, 8) + le(size, 8) + le(size, 8)   // p_vaddr, p_paddr, p_filesz, p_memsz
        b += le(0x1000, 8)                                           // p_align
        precondition(b.count == codeOffset)
        return b + code
    }

    private static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
}

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

import CCkptUAPI
import CkptProtocol

/// One signal's disposition as a sigactions record holds it and `rt_sigaction(2)` takes it
/// back on x86-64: handler, flags, restorer, mask (four little-endian u64,
/// `CKPT_SIGACTION_SIZE` bytes). The restorer passes these bytes unchanged; the kernel's
/// rt_sigaction checks them as it would the process's own call.
public struct SignalAction: Equatable, Sendable {
    public var handler: UInt64
    public var flags: UInt64
    public var restorer: UInt64
    public var mask: UInt64

    /// `SIG_DFL` with no flags and an empty mask: what a new process starts with.
    public var isDefault: Bool { handler == 0 && flags == 0 && restorer == 0 && mask == 0 }

    /// The `CKPT_SIGACTION_SIZE` bytes of the entry, as the kernel reads `struct sigaction`.
    public var bytes: [UInt8] {
        [handler, flags, restorer, mask].flatMap { w in withUnsafeBytes(of: w.littleEndian, Array.init) }
    }

    /// The entries of a sigactions record's data: entry i is signal i + 1. `nil` when the
    /// length is not a whole number of entries.
    public static func table(_ data: [UInt8]) -> [SignalAction]? {
        littleEndianEntries(data, wordsPerEntry: Int(CKPT_SIGACTION_SIZE) / 8)?.map { w in
            SignalAction(handler: w[0], flags: w[1], restorer: w[2], mask: w[3])
        }
    }
}

/// Queued signals with their siginfo, oldest first: each entry `CKPT_SIGINFO_SIZE` bytes,
/// a siginfo_t as rt_tgsigqueueinfo(2) takes it; `dropped` were queued beyond what the
/// image holds (`CKPT_SIGINFO_MAX`).
public struct SignalQueue: Equatable, Sendable {
    public var entries: [[UInt8]]
    public var dropped: Int

    init(_ meta: SiginfoMeta, _ data: [UInt8], record: UInt32) throws(RestoreError) {
        let size = Int(CKPT_SIGINFO_SIZE)
        guard data.count == Int(meta.nrSiginfo) * size else {
            throw .image("record \(record): siginfo data of \(data.count) bytes for \(meta.nrSiginfo) entries")
        }
        entries = stride(from: 0, to: data.count, by: size).map { Array(data[$0..<($0 + size)]) }
        dropped = Int(meta.nrQueued) - Int(meta.nrSiginfo)
    }

    /// The signal number of entry `i` (si_signo, the siginfo's first int).
    public func signal(_ i: Int) -> Int32 {
        let e = entries[i]
        return Int32(bitPattern: UInt32(e[0]) | UInt32(e[1]) << 8 | UInt32(e[2]) << 16 | UInt32(e[3]) << 24)
    }
}

/// A thread's XSAVE area (FPU, SSE, AVX) as ptrace's NT_X86_XSTATE regset reads it, and
/// XCR0 of the CPU it was read on.
public struct XState: Equatable, Sendable {
    public var xfeatures: UInt64
    public var area: [UInt8]

    /// The first 512 bytes: the FXSAVE layout (x87 and SSE), which every x86-64 CPU takes
    /// back with PTRACE_SETFPREGS whatever its XSAVE features.
    public var legacyArea: [UInt8] { Array(area.prefix(512)) }
}

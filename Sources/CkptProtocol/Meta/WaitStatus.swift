/// A wait(2) status word, as a zombie's image records it (`TaskMeta.exitStatus`) and as its
/// parent's wait will read it: `exit(N)` gives N << 8, death by signal S gives S, with 0x80
/// when a core was dumped (<sys/wait.h>'s macros, decoded here).
public struct WaitStatus: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }

    /// The killing signal (WTERMSIG); nil when the process exited (WIFEXITED).
    public var signal: Int32? { raw & 0x7f == 0 ? nil : Int32(raw & 0x7f) }
    /// Its exit code (WEXITSTATUS), when it exited.
    public var exitCode: Int32 { Int32((raw >> 8) & 0xff) }
    /// WCOREDUMP.
    public var coreDumped: Bool { raw & 0x80 != 0 }
    /// A status an exit can leave: an exit code alone, or a signal (1-64) with or without
    /// the core bit. (0x7f is a stop, not an exit; more bits are no status at all.)
    public var isExit: Bool {
        guard let signal else { return raw >> 16 == 0 }
        return raw >> 8 == 0 && signal != 0x7f && signal <= 64
    }

    public var description: String {
        guard let signal else { return "exited with \(exitCode)" }
        return "killed by signal \(signal)\(coreDumped ? ", core dumped" : "")"
    }
}

import ArgumentParser
import CkptRestore

/// The plain command lines of `ckpt checkpoint` and `ckpt restore` (one positional, long
/// options and flags, each at most once), parsed without ArgumentParser into the plain
/// values those commands run with (`CheckpointRun`, `RestoreRun`).
///
/// Why: ArgumentParser builds a command by reflection (Mirror, Decodable, type metadata made
/// from mangled names, protocol conformances looked up at run time). Natively that is 2-3 ms,
/// but under qemu TCG, where every block of code a process runs is translated first, it was
/// 50-65 ms of every `ckpt checkpoint` and `ckpt restore` (a 1 MiB restore took ~200 ms in
/// all; docs/benchmarks.md, session 24). Those two commands are what a checkpoint and a
/// restore wait for. Not even the commands' structs are made here: their property wrappers'
/// generic types are themselves made from mangled names at run time.
///
/// What it takes, it takes exactly as ArgumentParser would: values are converted by the same
/// `init?(argument:)`, the defaults are the commands' (written again below: the tests hold
/// the two copies equal), and the commands' validation (`CheckpointRun.invalid`) runs.
/// PlainArgumentsTests compares the result with ArgumentParser's parse over thousands of
/// command lines. Anything else (help, a usage error, a repeated
/// option, `--`, a value starting with `-`, an invalid combination) gives nil, and
/// ArgumentParser parses it, with its messages and exit codes. So a check on the options
/// belongs in the run's struct, where both ways meet.
enum PlainArguments {
    /// What `arguments` (subcommand name first) asks to run, or nil.
    static func run(_ arguments: [String]) -> (() throws -> Void)? {
        guard let name = arguments.first else { return nil }
        let rest = arguments.dropFirst()
        switch name {
        case "restore": return restore(rest).map { r in { try r.run() } }
        case "checkpoint": return checkpoint(rest).map { c in { try c.run() } }
        default: return nil
        }
    }

    static func restore(_ arguments: ArraySlice<String>) -> RestoreRun? {
        guard let t = Tokens(arguments, options: ["dir", "progress", "parent", "pid", "memory-by", "inherit-fd"],
                             flags: ["stopped", "shell-job", "tcp-close", "unix-close", "verify", "no-verify", "check", "timings"]),
              let image = t.positional, !(t.has("verify") && t.has("no-verify")),
              let dir = t.value("dir", or: defaultImageDirectory),
              let progress = t.value("progress", or: ProgressOptions.Mode.auto),
              let parent = t.optional("parent", String.self),
              let pid = t.value("pid", or: Restorer.PidPolicy.any),
              let memoryBy = t.value("memory-by", or: Restorer.MemoryPath.process),
              let inherit = t.value("inherit-fd", or: DescriptorList())
        else { return nil }
        return RestoreRun(images: [image], dir: dir, stopped: t.has("stopped"), shellJob: t.has("shell-job"),
                          tcpClose: t.has("tcp-close"), unixClose: t.has("unix-close"), inheritFDs: inherit.fds, check: t.has("check"),
                          progress: progress, parent: parent, pid: pid, memoryBy: memoryBy, verify: t.has("verify"),
                          timings: t.has("timings"))
    }

    static func checkpoint(_ arguments: ArraySlice<String>) -> CheckpointRun? {
        guard let t = Tokens(arguments, options: ["timeout-ms", "wait", "wait-timeout"], flags: ["stop", "pre-copy", "tree", "hold"]),
              let positional = t.positional, let pid = Int32(argument: positional),
              let timeoutMs = t.optional("timeout-ms", UInt32.self),
              let wait = t.optional("wait", String.self),
              let waitTimeout = t.value("wait-timeout", or: Double(30))
        else { return nil }
        let run = CheckpointRun(pid: pid, stop: t.has("stop"), preCopy: t.has("pre-copy"), timeoutMs: timeoutMs,
                                wait: wait, waitTimeout: waitTimeout, tree: t.has("tree"), hold: t.has("hold"))
        return run.invalid == nil ? run : nil
    }

    /// A command line split into its positional, option values and flags; nil for anything
    /// but `POSITIONAL`, `--option VALUE`, `--option=VALUE` (VALUE not empty) and `--flag`,
    /// each at most once.
    struct Tokens {
        private(set) var positional: String?
        private var values: [String: String] = [:]
        private var flags: Set<String> = []

        init?(_ arguments: ArraySlice<String>, options: Set<String>, flags known: Set<String>) {
            var i = arguments.startIndex
            while i < arguments.endIndex {
                let token = arguments[i]
                i += 1
                guard token.hasPrefix("--") else {
                    // A second positional, an empty one, or a short option (`-h`, `-5`).
                    guard positional == nil, !token.isEmpty, !token.hasPrefix("-") else { return nil }
                    positional = token
                    continue
                }
                let body = token.dropFirst(2)
                let equals = body.firstIndex(of: "=")
                let name = String(body[..<(equals ?? body.endIndex)])
                if known.contains(name) {
                    guard equals == nil, flags.insert(name).inserted else { return nil }
                } else if options.contains(name), values[name] == nil {
                    if let equals {
                        let value = body[body.index(after: equals)...]
                        guard !value.isEmpty else { return nil }  // `--dir=`: ArgumentParser refuses it
                        values[name] = String(value)
                    } else {
                        guard i < arguments.endIndex, !arguments[i].hasPrefix("-") else { return nil }
                        values[name] = arguments[i]
                        i += 1
                    }
                } else {
                    return nil  // `--`, `--help`, an unknown or repeated option
                }
            }
        }

        func has(_ flag: String) -> Bool { flags.contains(flag) }

        /// `name`'s value as ArgumentParser converts it, `fallback` when absent; nil when it
        /// does not convert.
        func value<T: ExpressibleByArgument>(_ name: String, or fallback: T) -> T? {
            guard let text = values[name] else { return fallback }
            return T(argument: text)
        }

        /// An optional option: `.some(nil)` when absent, nil when its value does not convert.
        func optional<T: ExpressibleByArgument>(_ name: String, _ type: T.Type) -> T?? {
            guard let text = values[name] else { return .some(nil) }
            guard let v = T(argument: text) else { return nil }
            return .some(v)
        }
    }
}

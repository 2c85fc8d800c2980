import ArgumentParser
import CkptRestore

/// The plain command lines of `ckpt checkpoint` and `ckpt restore` (one positional, long
/// options and flags, each at most once), parsed without ArgumentParser.
///
/// Why: ArgumentParser builds a command by reflection (Mirror, Decodable, type metadata made
/// from mangled names, protocol conformances looked up at run time). Natively that is 2-3 ms,
/// but under qemu TCG, where every block of code a process runs is translated first, it was
/// 50-65 ms of every `ckpt checkpoint` and `ckpt restore` (a 1 MiB restore took ~200 ms in
/// all; docs/benchmarks.md, session 24). Those two commands are what a checkpoint and a
/// restore wait for.
///
/// What it takes, it takes exactly as ArgumentParser would: values are converted by the same
/// `init?(argument:)`, defaults are the commands' own (PlainArgumentsTests compares every field
/// with ArgumentParser's parse over thousands of command lines, and checks through Mirror that
/// no property is left unparsed), and `validate()` runs. Anything else (help, a usage error, a
/// repeated option, `--`, a value starting with `-`, a validation failure) gives nil, and
/// ArgumentParser parses it, with its messages and exit codes.
enum PlainArguments {
    /// The command `arguments` (subcommand name first) run, or nil.
    static func command(_ arguments: [String]) -> ParsableCommand? {
        guard let name = arguments.first else { return nil }
        let rest = arguments.dropFirst()
        switch name {
        case "restore": return restore(rest)
        case "checkpoint": return checkpoint(rest)
        default: return nil
        }
    }

    static func restore(_ arguments: ArraySlice<String>) -> RestoreCommand? {
        guard let t = Tokens(arguments, options: ["dir", "progress", "parent", "pid", "memory-by"],
                             flags: ["stopped", "shell-job", "verify", "no-verify"]),
              let image = t.positional, !(t.has("verify") && t.has("no-verify")),
              let dir = t.value("dir", or: defaultImageDirectory),
              let progress = t.value("progress", or: ProgressOptions.Mode.auto),
              let parent = t.optional("parent", String.self),
              let pid = t.value("pid", or: Restorer.PidPolicy.any),
              let memoryBy = t.value("memory-by", or: Restorer.MemoryPath.process)
        else { return nil }
        var location = ImageLocationOptions()
        location.dir = dir
        var progressOptions = ProgressOptions()
        progressOptions.progress = progress
        var c = RestoreCommand()
        c.imageArgument = image
        c.location = location
        c.stopped = t.has("stopped")
        c.shellJob = t.has("shell-job")
        c.progress = progressOptions
        c.parent = parent
        c.pid = pid
        c.memoryBy = memoryBy
        c.verify = t.has("verify")
        do {
            try location.validate()
            try progressOptions.validate()
            try c.validate()
        } catch {
            return nil
        }
        return c
    }

    static func checkpoint(_ arguments: ArraySlice<String>) -> CheckpointCommand? {
        guard let t = Tokens(arguments, options: ["timeout-ms", "wait", "wait-timeout"], flags: ["stop", "pre-copy"]),
              let positional = t.positional, let pid = Int32(argument: positional),
              let timeoutMs = t.optional("timeout-ms", UInt32.self),
              let wait = t.optional("wait", String.self),
              let waitTimeout = t.value("wait-timeout", or: Double(30))
        else { return nil }
        var c = CheckpointCommand()
        c.pid = pid
        c.stop = t.has("stop")
        c.preCopy = t.has("pre-copy")
        c.timeoutMs = timeoutMs
        c.wait = wait
        c.waitTimeout = waitTimeout
        do { try c.validate() } catch { return nil }
        return c
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

import ArgumentParser

/// `--json`: machine-readable output instead of the table (list, show, stats).
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON (stable key order) instead of text.")
    var json = false
}

/// The image directory argument of `list` and `stats` (the listener's `--dir`).
struct DirectoryOptions: ParsableArguments {
    @Argument(help: "The listener's image directory (its --dir).")
    var dir: String = defaultImageDirectory
}

/// `--progress auto|always|never`: the progress bar on stderr (auto: when stderr is a terminal).
struct ProgressOptions: ParsableArguments {
    enum Mode: String, ExpressibleByArgument, CaseIterable { case auto, always, never }

    @Option(help: "Progress bar on stderr: auto (when stderr is a terminal), always, never.")
    var progress: Mode = .auto

    var enabled: Bool { Self.enabled(progress) }
    static func enabled(_ mode: Mode) -> Bool { mode == .always || (mode == .auto && stderrIsTerminal) }
}

/// `IMAGE` may be a path or a bare crid, looked up in `--dir` as `<crid>.ckpt` (or the one
/// `<crid>-N.ckpt` the listener used when the name was taken).
struct ImageLocationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where an IMAGE given as a bare crid is looked up (the listener's --dir).", valueName: "dir"))
    var dir: String = defaultImageDirectory

    enum Resolution {
        case path(String)
        case unknownCrid(String)
    }

    func resolve(_ argument: String) -> Resolution { Self.resolve(argument, dir: dir) }

    static func resolve(_ argument: String, dir: String) -> Resolution {
        if fileSize(argument) > 0 || argument.contains("/") || !argument.allSatisfy(\.isNumber) || argument.isEmpty {
            return .path(argument)
        }
        guard case let .success(names) = directoryNames(dir) else {
            return .unknownCrid("no image for crid \(argument): cannot read \(dir)")
        }
        if names.contains(argument + ".ckpt") { return .path(dir + "/" + argument + ".ckpt") }
        let others = names.filter { $0.hasPrefix(argument + "-") && $0.hasSuffix(".ckpt") }.sorted()
        if others.count == 1 { return .path(dir + "/" + others[0]) }
        if others.count > 1 {
            return .unknownCrid("crid \(argument) names several images in \(dir) (\(others.joined(separator: ", "))): give the path")
        }
        let failed = names.contains(argument + ".failed") ? " (its capture failed: \(dir)/\(argument).failed)" : ""
        return .unknownCrid("no image for crid \(argument) in \(dir)\(failed)")
    }

    /// The path, or exit 1 with the reason.
    func path(_ argument: String, command: String) throws -> String {
        try Self.path(argument, dir: dir, command: command)
    }

    static func path(_ argument: String, dir: String, command: String) throws -> String {
        switch resolve(argument, dir: dir) {
        case let .path(p): return p
        case let .unknownCrid(why): throw failure(command, why, CkptExit.failed)
        }
    }
}

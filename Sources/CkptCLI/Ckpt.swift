import ArgumentParser

/// The `ckpt` command: a thin root that lists the subcommands, one file each.
public struct Ckpt: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Capture process checkpoints streamed by the kernel's ckpt family, inspect them, replay them.",
        discussion: """
            The kernel module streams a stopped task's records over generic netlink to one
            capture sink per network namespace: `ckpt listen` is that sink and writes each
            stream to an image file, never publishing an incomplete or corrupt one.

            Typical use (as root):
              ckpt listen --dir /var/lib/ckpt &        # record live checkpoints
              ckpt checkpoint 1234 --stop --wait /var/lib/ckpt   # checkpoint pid 1234
              ckpt list /var/lib/ckpt                  # what was captured
              ckpt show /var/lib/ckpt/1.ckpt           # its record tree
              ckpt verify /var/lib/ckpt/1.ckpt         # check an image end to end
              ckpt replay /var/lib/ckpt/1.ckpt --pid 1234   # roll a stopped twin back
              ckpt restore /var/lib/ckpt/1.ckpt        # bring it back as a new process
              ckpt stats                               # kernel and listener counters

            Exit codes: 0 success, 1 the operation failed (the message says why),
            64 usage error, 65 bad input data (corrupt or truncated image),
            69 kernel family unavailable, 74 I/O error.
            """,
        version: "0.1.0",
        subcommands: [
            ListenCommand.self,
            CheckpointCommand.self,
            ListCommand.self,
            ShowCommand.self,
            VerifyCommand.self,
            ReplayCommand.self,
            RestoreCommand.self,
            StatsCommand.self,
            InjectCommand.self,
        ]
    )

    /// The root's name; each subcommand's configuration names it as its `_superCommandName`.
    public static let name = "ckpt"

    public init() {}

    /// The entry point. ArgumentParser's `main()` parses `ckpt SUB ARGS` from the root and,
    /// before that, parses the arguments twice more looking for `--generate-completion-script`,
    /// which every checkpoint and restore paid at its start. So a command line that names a
    /// subcommand is parsed by that subcommand alone (its `_superCommandName` turns the
    /// completion check off for it when it is parsed as the root). Anything that is not a plain run of that subcommand (help, a
    /// usage error, a completion request, no subcommand) is parsed again from `ckpt`, so every
    /// message and exit code is ArgumentParser's, as before (DirectParseTests). Measured: 17 %
    /// fewer instructions for `ckpt restore IMAGE` natively, 20 ms of its 300 ms start under
    /// qemu TCG (tools/bench/results/cli-start-direct-parse.txt).
    ///
    /// The plain command lines of `checkpoint` and `restore` skip ArgumentParser altogether
    /// (`PlainArguments`: its reflection is most of their start under emulation).
    public static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let run = PlainArguments.run(arguments) {
            do { try run() } catch { exit(withError: error) }
            return
        }
        guard let command = parseSubcommandDirectly(arguments) else {
            return main(nil)
        }
        do {
            var command = command
            try command.run()
        } catch {
            exit(withError: error)  // as ArgumentParser's main: the root's exit, the same messages
        }
    }

    /// The subcommand `arguments` run, parsed without the root; nil for anything else.
    static func parseSubcommandDirectly(_ arguments: [String]) -> ParsableCommand? {
        guard let name = arguments.first,
              let subcommand = configuration.subcommands.first(where: { $0.configuration.commandName == name }),
              let command = try? subcommand.parseAsRoot(Array(arguments.dropFirst())),
              ObjectIdentifier(type(of: command)) == ObjectIdentifier(subcommand)
        else { return nil }
        return command
    }
}

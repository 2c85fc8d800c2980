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
              ckpt replay /var/lib/ckpt/1.ckpt --pid 1234   # roll a stopped twin's memory back
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

    public init() {}
}

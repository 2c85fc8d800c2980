import CkptJSON
import ArgumentParser
import CkptProtocol
import CkptTransport

/// `ckpt stats [DIR]`: the kernel family's counters and the listener's stats file.
public struct StatsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "stats",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Show the kernel's ckpt counters and the listener's statistics.",
        discussion: """
            Kernel counters (CKPT_CMD_STATS_GET) when the ckpt module is loaded: streams, records and bytes sent, aborts, time the kernel waited on the listener, restarts and rejected restarts. Then the listener's DIR/.ckpt-listen.stats (JSON written every second by `ckpt listen`; see docs/listener.md) when DIR has one.

            Examples:
              ckpt stats                    # kernel + /var/lib/ckpt
              ckpt stats /srv/ckpt --json

            Exit codes: 0 at least one source was read; 69 the module is not loaded and DIR has no stats file; 74 netlink failed; 64 usage.
            """)

    @OptionGroup var directory: DirectoryOptions
    @OptionGroup var output: OutputOptions

    public init() {}

    public func run() throws {
        var kernel: CkptStats?
        var kernelNote: String?
        do throws(TransportError) {
            kernel = try GenlClient().stats()
        } catch .familyNotFound {
            kernelNote = "the kernel has no ckpt family (is the ckpt module loaded?)"
        } catch {
            kernelNote = "cannot read the kernel counters: \(error)"
        }
        let statsPath = directory.dir + "/.ckpt-listen.stats"
        let listener = readTextFile(statsPath)
        if output.json {
            let k: JSON = kernel.map { s in
                .object([("streams", .uint(s.streams)), ("records", .uint(s.records)), ("bytes", .uint(s.bytes)),
                         ("aborts", .uint(s.aborts)), ("wait_ns", .uint(s.waitNs)), ("restarts", .uint(s.restarts)),
                         ("restart_rejects", .uint(s.restartRejects)), ("frag_pages_new", .uint(s.fragPagesNew)),
                         ("frag_pages_reused", .uint(s.fragPagesReused)),
                         ("held_bytes", s.heldBytes.map { .uint($0) } ?? .null),
                         ("hold_reserved_pages", s.holdReservedPages.map { .uint($0) } ?? .null)])
            } ?? .null
            // The listener's file is JSON already: embedded as is.
            // (as a string if it is not an object: a file cut short by a crash stays valid JSON here).
            let l = listener.map { text in
                let t = text.trimmingSuffixNewlines
                return t.hasPrefix("{") && t.hasSuffix("}") ? t : JSON.string(t).rendered()
            } ?? "null"
            emit("{\n  \"json_version\": \(JSONOutput.version),\n  \"kernel\": \(k.rendered(indent: 1)),\n  \"kernel_error\": \(JSON.optional(kernelNote).rendered()),\n"
                 + "  \"listener_stats_file\": \(JSON.string(statsPath).rendered()),\n  \"listener\": \(l)\n}")
        } else {
            if let s = kernel {
                emit("kernel (family ckpt):")
                for line in Format.table([
                    ["  streams", "\(s.streams)"], ["  records", "\(s.records)"], ["  bytes", "\(s.bytes) (\(Format.size(s.bytes)))"],
                    ["  aborts", "\(s.aborts)"], ["  waited on the listener", "\(Format.oneDecimal(Double(s.waitNs) / 1e6)) ms"],
                    ["  restarts", "\(s.restarts)"], ["  restarts rejected", "\(s.restartRejects)"],
                    ["  data pages allocated", "\(s.fragPagesNew)"], ["  data pages reused", "\(s.fragPagesReused)"],
                ] + (s.heldBytes.map { [["  held while the process ran (--hold)", "\($0) (\(Format.size($0)))"]] } ?? [])
                  + (s.holdReservedPages.map { [["  data pages allocated before the stop (--hold)", "\($0)"]] } ?? [])) { emit(line) }
            } else if let kernelNote {
                emit("kernel: \(kernelNote)")
            }
            if let listener {
                emit("listener (\(statsPath)):")
                for line in listener.split(separator: "\n") { emit("  " + line) }
            } else {
                emit("listener: no \(statsPath) (is `ckpt listen --dir \(directory.dir)` running?)")
            }
        }
        if kernel == nil, listener == nil {
            throw kernelNote?.contains("no ckpt family") == true ? CkptExit.unavailable : CkptExit.ioError
        }
    }
}

extension String {
    var trimmingSuffixNewlines: String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}

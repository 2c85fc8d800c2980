#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CkptImage
import CkptTransport
import CkptReplay

/// Writes `ckpt <command>: message` to stderr. Every command reports failures this way, one
/// line each (a kernel refusal adds the kernel's text as a second line, `Error: <text>`, as
/// iproute2 does: `KernelRefusal`), and then throws the exit code (`CkptExit`).
func report(_ command: String, _ message: String) {
    writeStderr("ckpt \(command): \(message)\n")
}

/// Reports `message` and returns `code` for the caller to throw.
func failure(_ command: String, _ message: String, _ code: ExitCode) -> ExitCode {
    report(command, message)
    return code
}

func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { p in
        var done = 0
        while done < p.count {
            let n = write(STDERR_FILENO, p.baseAddress! + done, p.count - done)
            if n < 0 { if errno == EINTR { continue } else { return } }
            done += n
        }
    }
}

/// Standard output, flushed at once: scripts (and `--wait` callers) read lines as they come.
func emit(_ line: String) {
    print(line)
    fflush(nil)  // all of stdio: `stdout` itself is a global Swift 6 will not read
}

extension ImageError {
    /// 74 when the file could not be read (missing, permission), 65 when its bytes are wrong.
    var exitCode: ExitCode {
        if case .io = self { return CkptExit.ioError }
        return CkptExit.dataError
    }

    /// The description without the leading `path: ` (callers print the path themselves).
    var reason: String {
        let prefix = path + ": "
        let text = description
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }

    /// `record R offset O` or `offset O`: where `ckpt verify` says the damage is.
    var location: String {
        (recordID.map { "record \($0) " } ?? "") + "offset \(offset)"
    }
}

extension TransportError {
    /// The kernel's errno and extack text, for messages: `EINVAL: record 5: ...`.
    var kernelText: String? {
        guard case let .kernel(errno, message, _, _) = self else { return nil }
        return errno.shortName + (message.map { ": \($0)" } ?? "")
    }
}

/// Opens the genl client of the `ckpt` family or reports why not: exit 69 when the family is
/// missing (module not loaded), 74 when netlink itself fails.
func openFamily(_ command: String) throws -> GenlClient {
    do {
        return try GenlClient()
    } catch .familyNotFound {
        throw failure(command, "the kernel has no generic netlink family ckpt: is the ckpt module loaded? "
                      + "(modprobe ckpt, or insmod ckpt.ko)", CkptExit.unavailable)
    } catch {
        throw failure(command, "cannot open a generic netlink socket: \(error)", CkptExit.ioError)
    }
}

/// True when stderr is a terminal (progress bars and colours only then).
var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

/// Where the listener writes by default (the systemd unit's directory).
let defaultImageDirectory = "/var/lib/ckpt"

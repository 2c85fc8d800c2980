#if canImport(Glibc)
import Glibc
#endif

/// Refuses, before asking the kernel, a checkpoint of the capture sink itself: the kernel
/// would stream the listener's records into the listener it has stopped, and the request
/// would only end at its timeout. Two ways to know the target is a listener: it runs
/// `ckpt listen` (its `/proc/PID/cmdline`), or it is the pid in the stats file of the
/// `--wait` directory's running listener. (The kernel's own refusal is separate.)
enum SinkGuard {
    /// Why `pid` must not be checkpointed, or nil.
    static func refusal(pid: Int32, waitDirectory: String?) -> String? {
        if let argv = commandLine(of: pid), argv.count >= 2,
           argv[0].split(separator: "/").last == "ckpt", argv[1] == "listen" {
            return "pid \(pid) is `ckpt listen` (\(argv.joined(separator: " "))): a listener cannot be checkpointed, "
                + "the kernel would stream into the process it stopped"
        }
        if let dir = waitDirectory, let listener = listenerPid(statsIn: dir), listener == pid {
            return "pid \(pid) is the listener writing to \(dir): a listener cannot be checkpointed, "
                + "the kernel would stream into the process it stopped"
        }
        return nil
    }

    /// `/proc/PID/cmdline` split at NULs; nil when unreadable (no such process, or hidden).
    static func commandLine(of pid: Int32) -> [String]? {
        guard let bytes = readFile("/proc/\(pid)/cmdline"), !bytes.isEmpty else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast(bytes.last == 0 ? 1 : 0)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The `"pid": N` of a running listener's stats file in `dir`.
    static func listenerPid(statsIn dir: String) -> Int32? {
        guard let bytes = readFile(dir + "/.ckpt-listen.stats") else { return nil }
        // The file is the JSON writer's: one key a line at the top level.
        var running = false, pid: Int32?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let field = line.drop { $0 == " " }
            if field.hasPrefix("\"state\": \"running\"") { running = true }
            if field.hasPrefix("\"pid\": ") { pid = Int32(field.dropFirst(7).prefix { $0.isNumber }) }
        }
        return running ? pid : nil
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}

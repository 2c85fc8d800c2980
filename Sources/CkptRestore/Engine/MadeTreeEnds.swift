#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import SystemPackage

/// The pipes, socketpairs and shared open files of a restored tree, made in the restorer: open there (not
/// close-on-exec), so every process of the tree inherits them at these numbers, each
/// placing its own ends at its image's fds (`Restorer.placeTreeEnds`). The caller closes
/// them once every process has inherited them.
enum TreeEnds {
    /// An end's key: what a process's plan names and the restorer's fd is found by.
    static func key(pipe name: String, reading: Bool) -> String { "\(name) \(reading ? "read" : "write")" }
    static func key(socket inode: UInt64) -> String { "socket:[\(inode)]" }
    static func key(file id: UInt64) -> String { "file \(String(id, radix: 16))" }

    /// `file` opened at its path (without `O_CREAT`, `O_TRUNC`, `O_EXCL`; non-blocking
    /// while it opens: a FIFO put at the path since would not wait), at its position, with
    /// its status flags. `byIdentity` false: opened with the restorer's rights, which are
    /// the processes' (`SharedFile.Opener.restorer`). True (processes of several users,
    /// `.identity`): what the path names is looked at through an `O_PATH` descriptor (which
    /// opens nothing) and must be the device and inode the images recorded; then that object
    /// and no other is opened, through `/proc/self/fd/N`, so every process gets the very file
    /// it held and nothing a path swapped in since could name.
    static func make(_ file: SharedFile, byIdentity: Bool = false) throws(RestoreError) -> [String: Int32] {
        let clean = file.flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC)
        let fd = byIdentity ? try openTheFile(file, flags: clean | O_NONBLOCK) : Glibc.open(file.path, clean | O_NONBLOCK)
        guard fd >= 0 else { throw .system(call: "open \(file.path) (an open file the tree's processes share)", errno: Errno(rawValue: errno)) }
        if file.position > 0, lseek(fd, off_t(Int64(bitPattern: file.position)), SEEK_SET) < 0 {
            let e = Errno(rawValue: errno)
            close(fd)
            throw .system(call: "lseek \(file.path) to \(file.position)", errno: e)
        }
        if clean & O_NONBLOCK == 0, fcntl(fd, F_SETFL, clean) != 0 {
            let e = Errno(rawValue: errno)
            close(fd)
            throw .system(call: "F_SETFL \(file.path)", errno: e)
        }
        return [key(file: file.fileID): fd]
    }

    /// `file` opened with `flags` if its path names the device and inode it records (see
    /// `make`).
    private static func openTheFile(_ file: SharedFile, flags: Int32) throws(RestoreError) -> Int32 {
        let what = "\(file.path) (an open file processes of several users share)"
        guard let held = file.identity else {
            throw .unsupported(what: what, why: "the image does not record which file it was")
        }
        let looked = Glibc.open(file.path, ckpt_o_path() | O_CLOEXEC)
        guard looked >= 0 else { throw .system(call: "look at \(what) (O_PATH)", errno: Errno(rawValue: errno)) }
        defer { close(looked) }
        var st = stat()
        guard fstat(looked, &st) == 0 else { throw .system(call: "fstat \(what)", errno: Errno(rawValue: errno)) }
        guard held.isFile(st) else {
            throw .unsupported(what: what, why: "it is not the file the processes held (\(held.thenAndNow(st))): "
                               + "it changed since the restore looked at it")
        }
        let fd = Glibc.open("/proc/self/fd/\(looked)", flags)
        guard fd >= 0 else { throw .system(call: "open \(what) through its O_PATH descriptor", errno: Errno(rawValue: errno)) }
        return fd
    }

    /// `file` opened inside the tree's root stub, before it forks the others, with the
    /// rights of the processes' user (`access`: another user's tree, whose files the
    /// restorer's own open would reach with rights they never had), at its position, with
    /// its status flags; inherited by every process forked after, as the restorer's are.
    static func open(_ file: SharedFile, in remote: RemoteSyscalls, access: ProcessFileAccess) throws(RestoreError) -> [String: Int32] {
        let clean = file.flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC)
        let fd = try access.open(file.path, flags: clean | O_NONBLOCK, held: file.identity,
                                 what: "\(file.path) (an open file the tree's processes share)")
        if file.position > 0 {
            try remote.call("lseek \(file.path) to \(file.position)", Int32(CKPT_SYS_LSEEK), fd, file.position, UInt64(SEEK_SET))
        }
        if clean & O_NONBLOCK == 0 {
            try remote.call("F_SETFL \(file.path)", Int32(CKPT_SYS_FCNTL), fd, UInt64(F_SETFL), UInt64(UInt32(bitPattern: clean)))
        }
        return [key(file: file.fileID): Int32(fd)]
    }

    /// `pipe` made: its capacity, the bytes it held written back (while both ends are
    /// non-blocking: nothing waits), then each end's status flags.
    static func make(_ pipe: SharedPipe) throws(RestoreError) -> [String: Int32] {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { throw .system(call: "pipe for \(pipe.name)", errno: Errno(rawValue: errno)) }
        do throws(RestoreError) {
            for fd in fds where fcntl(fd, F_SETFL, O_NONBLOCK) != 0 {
                throw .system(call: "F_SETFL O_NONBLOCK \(pipe.name)", errno: Errno(rawValue: errno))
            }
            if pipe.size > 0 {
                let capacity = fcntl(fds[1], ckpt_f_setpipe_sz(), Int32(bitPattern: pipe.size))
                guard capacity >= 0 else { throw .system(call: "F_SETPIPE_SZ \(pipe.size) for \(pipe.name)", errno: Errno(rawValue: errno)) }
                guard Int(capacity) >= pipe.data.count else {
                    throw .mismatch("\(pipe.name): the new pipe holds \(capacity) bytes, not the \(pipe.data.count) it held")
                }
            }
            try send(pipe.data, through: fds[1], pipe.name)
            for (fd, flags) in [(fds[0], pipe.readFlags), (fds[1], pipe.writeFlags)] {
                guard fcntl(fd, F_SETFL, flags & (O_NONBLOCK | O_APPEND)) == 0 else {
                    throw .system(call: "F_SETFL \(pipe.name)", errno: Errno(rawValue: errno))
                }
            }
        } catch {
            for fd in fds { close(fd) }
            throw error
        }
        return [key(pipe: pipe.name, reading: true): fds[0], key(pipe: pipe.name, reading: false): fds[1]]
    }

    /// `pair` made with socketpair(2): buffer sizes as the image's, each end's queued
    /// messages sent again through the other end (one send a message: a datagram stays
    /// whole), the shutdown states, the status flags; the other end of a pair whose peer was
    /// closed is closed after its sends, as it had been.
    static func make(_ pair: SharedSocketPair) throws(RestoreError) -> [String: Int32] {
        var fds: [Int32] = [-1, -1]
        let what = pair.first.name
        guard socketpair(AF_UNIX, Int32(bitPattern: pair.type), 0, &fds) == 0 else {
            throw .system(call: "socketpair for \(what)", errno: Errno(rawValue: errno))
        }
        var made: [String: Int32] = [:]
        do throws(RestoreError) {
            let ends: [(fd: Int32, end: SharedSocketEnd?)] = [(fds[0], pair.first), (fds[1], pair.second)]
            for (fd, end) in ends {
                guard let end else { continue }
                // The kernel doubles what is asked (socket(7)): half of what it reported.
                for (option, size) in [(SO_SNDBUF, end.sndbuf), (SO_RCVBUF, end.rcvbuf)] where size > 0 {
                    var half = Int32(size / 2)
                    guard setsockopt(fd, SOL_SOCKET, option, &half, 4) == 0 else {
                        throw .system(call: "setsockopt \(option == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF") on \(end.name)", errno: Errno(rawValue: errno))
                    }
                }
            }
            // What `first` had queued is sent by the other end, and the other way round.
            for (from, to) in [(fds[1], pair.first), (fds[0], pair.second)] {
                guard let to else { continue }
                for (i, m) in to.messages.enumerated() {
                    let n = m.withUnsafeBytes { Glibc.send(from, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard n == m.count else {
                        throw .system(call: "send message \(i + 1) of \(to.messages.count) (\(m.count) bytes) to \(to.name)",
                                      errno: Errno(rawValue: n < 0 ? errno : EMSGSIZE))
                    }
                }
            }
            for (fd, end) in ends {
                guard let end else { continue }
                // sk_shutdown 1 (receive), 2 (send), 3 (both) is shutdown(2)'s how + 1.
                if end.shutdown & 3 != 0, Glibc.shutdown(fd, Int32(end.shutdown & 3) - 1) != 0 {
                    throw .system(call: "shutdown \(end.name)", errno: Errno(rawValue: errno))
                }
                guard fcntl(fd, F_SETFL, end.flags & O_NONBLOCK) == 0 else {
                    throw .system(call: "F_SETFL \(end.name)", errno: Errno(rawValue: errno))
                }
                made[key(socket: end.inode)] = fd
            }
        } catch {
            for fd in fds { close(fd) }
            throw error
        }
        if pair.second == nil { close(fds[1]) }
        return made
    }

    /// Writes all of `data` into the non-blocking pipe end `fd` (it fits: the capacity was
    /// checked).
    static func send(_ data: [UInt8], through fd: Int32, _ name: String) throws(RestoreError) {
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { all in all.baseAddress.map { Glibc.write(fd, $0 + done, all.count - done) } ?? 0 }
            guard n > 0 else { throw .system(call: "write into \(name)", errno: Errno(rawValue: n < 0 ? errno : EIO)) }
            done += n
        }
    }
}

extension RestorePlan {
    /// The process's ends of its tree's pipes and sockets: each fd and the key of the end
    /// the restorer made for it (`TreeEnds`).
    var treeEnds: [(fd: Int32, key: String)] {
        sharedPipeEnds.map { ($0.fd, TreeEnds.key(pipe: $0.name, reading: $0.reading)) }
            + sharedSocketEnds.map { ($0.fd, TreeEnds.key(socket: $0.inode)) }
            + sharedFileEnds.map { ($0.fd, TreeEnds.key(file: $0.fileID)) }
    }
}

extension Restorer {
    /// The process's ends of its tree's pipes and sockets at its image's fds, from the
    /// restorer's it inherited (`treeFDs`): all moved above every image fd first (an
    /// inherited number may be an image fd another end or file goes to), then `dup2`'d to
    /// each fd; `restoreDescriptors` closes the inherited numbers left.
    func placeTreeEnds(_ remote: RemoteSyscalls) throws(RestoreError) {
        let ends = plan.treeEnds
        guard !ends.isEmpty else { return }
        var moved: [String: UInt64] = [:]  // key -> the end above the image fds
        let above = UInt64(plan.descriptors.map(\.fd).max() ?? 0) + 1
        for end in ends where moved[end.key] == nil {
            guard let made = treeFDs[end.key] else {
                throw .mismatch("fd \(end.fd) (\(end.key)): the restorer made nothing for it")
            }
            moved[end.key] = try remote.call("F_DUPFD above \(above) for \(end.key)", Int32(CKPT_SYS_FCNTL),
                                             UInt64(made), UInt64(F_DUPFD), above)
        }
        for end in ends {
            guard let from = moved[end.key] else { continue }  // every key was moved above
            try remote.call("dup2 \(end.key) to fd \(end.fd)", Int32(CKPT_SYS_DUP2), from, UInt64(end.fd))
        }
        for fd in moved.values { try remote.call("close", Int32(CKPT_SYS_CLOSE), fd) }
    }
}

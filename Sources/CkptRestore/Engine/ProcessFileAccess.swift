#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptProtocol
import SystemPackage

/// Whose rights the new process's paths are opened with.
///
/// The stub runs with the restorer's ids until `Restorer.setCredentials`, and every path an
/// image names (its mapped files, its descriptors' files, its executable, working directory,
/// root and inotify watches) is a path in a place the process's user may have changed since
/// the checkpoint. Opened by root for another user's process, a path that user turned into a
/// symlink to /etc/shadow (or a hard link, or a directory swapped under it) would give the
/// restored process an open /etc/shadow. So when the image's ids are not the restorer's,
/// the stub takes the process's filesystem ids first (`begin`: no supplementary groups, as
/// the process will have; fsgid and fsuid its egid and euid) and every path is opened with
/// them: the restorer's rights add nothing the user could not do.
///
/// One exception keeps what processes commonly hold: a file its user may not open (a log a
/// service's manager opened for it before dropping privileges) is opened with the restorer's
/// rights if it is still the very file the process had open, its device and inode as the
/// image records them. What the path names is looked at through an `O_PATH` descriptor (which
/// opens nothing: no device's open runs) and then opened through `/proc/self/fd/N`, which
/// opens that object and no other, so nothing can be swapped in between. The device is
/// compared too (unlike `RestorePlan.checkUnchanged`): inode numbers alone can be chosen by
/// a user who makes files until one has the number a root-only file has elsewhere. A file
/// on a filesystem numbered anew at each mount (9p, NFS, overlayfs, tmpfs) after a reboot
/// is then refused, naming the path and both identities.
struct ProcessFileAccess {
    let remote: RemoteSyscalls
    /// The process's fsuid and fsgid when they are not the restorer's; nil: opened as the
    /// restorer (the same user: the restorer's rights are the process's).
    let user: (uid: UInt32, gid: UInt32)?

    /// Before the first path is opened: the stub's filesystem ids become the process's
    /// (checked by asking them back) when the process is not the restorer's user.
    static func begin(_ remote: RemoteSyscalls, task: TaskMeta) throws(RestoreError) -> ProcessFileAccess {
        guard !task.idsAreTheRestorers else { return ProcessFileAccess(remote: remote, user: nil) }
        try remote.call("setgroups(0) before opening the process's files", Int32(CKPT_SYS_SETGROUPS), 0, 0)
        let access = ProcessFileAccess(remote: remote, user: (task.euid, task.egid))
        try access.setFilesystemIDs(uid: task.euid, gid: task.egid)
        return access
    }

    /// setfsgid and setfsuid in the stub. They return the previous id and never fail, so
    /// each is asked again with -1 (never a valid id: returns the current one, changes
    /// nothing) and must say the new one.
    private func setFilesystemIDs(uid: UInt32, gid: UInt32) throws(RestoreError) {
        try remote.call("setfsgid(\(gid))", Int32(CKPT_SYS_SETFSGID), UInt64(gid))
        try remote.call("setfsuid(\(uid))", Int32(CKPT_SYS_SETFSUID), UInt64(uid))
        let nowGID = try remote.call("setfsgid(-1)", Int32(CKPT_SYS_SETFSGID), UInt64(UInt32.max))
        let nowUID = try remote.call("setfsuid(-1)", Int32(CKPT_SYS_SETFSUID), UInt64(UInt32.max))
        guard nowUID == UInt64(uid), nowGID == UInt64(gid) else {
            throw .mismatch("the new process's filesystem ids are \(nowUID)/\(nowGID), not \(uid)/\(gid)")
        }
    }

    /// A path to open for the process: `held` is the file the image says was there.
    struct File {
        let path: String
        let flags: Int32
        let held: FileIdentity?
        let what: String
    }

    /// Opens each of `files` with `flags | O_CLOEXEC`, in order; returns the descriptors.
    /// The restorer's own process's in batches (`RemoteSyscalls.open`: one stop of the
    /// process for many); another user's one by one, as `open` may look at a path twice.
    func open(_ files: [File]) throws(RestoreError) -> [UInt64] {
        guard user != nil else { return try remote.open(files.map { ($0.path, $0.flags, "open \($0.what)") }) }
        return try files.map { (f) throws(RestoreError) in try open(f.path, flags: f.flags | O_CLOEXEC, held: f.held, what: f.what) }
    }

    /// Whose rights a step names: "" for the restorer's own.
    var asWhom: String { user.map { " as uid \($0.uid)" } ?? "" }

    /// Opens `path` in the process with `flags` and returns the descriptor:
    /// with the process's rights, or (see the type) with the restorer's when the process's
    /// user may not open it and it is the file `held` says the process had open.
    func open(_ path: String, flags: Int32, held: FileIdentity?, what: String) throws(RestoreError) -> UInt64 {
        let flags = UInt64(UInt32(bitPattern: flags))
        guard let user else {
            return try remote.call("open \(what)", Int32(CKPT_SYS_OPEN), try remote.string(path), flags, 0)
        }
        let denied: Errno
        do throws(RestoreError) {
            return try remote.call("open \(what) as uid \(user.uid)", Int32(CKPT_SYS_OPEN), try remote.string(path), flags, 0)
        } catch {
            guard case let .remote(_, errno) = error, errno == .permissionDenied || errno == .notPermitted else { throw error }
            denied = errno
        }
        guard let held else {
            throw .unsupported(what: what, why: "uid \(user.uid) may not open \(path) (\(denied)), and the image does not record which file the process had open there")
        }
        try setFilesystemIDs(uid: UInt32(geteuid()), gid: UInt32(getegid()))
        var opened: UInt64?
        var failure: RestoreError?
        do throws(RestoreError) {
            let looked = try remote.call("look at \(path) (O_PATH) for \(what)", Int32(CKPT_SYS_OPEN), try remote.string(path),
                                         UInt64(UInt32(bitPattern: ckpt_o_path() | O_CLOEXEC)), 0)
            var st = stat()
            if stat("/proc/\(remote.tracee.pid)/fd/\(looked)", &st) != 0 {
                failure = .system(call: "stat /proc/\(remote.tracee.pid)/fd/\(looked) (\(path))", errno: Errno(rawValue: errno))
            } else if !held.isFile(st) {
                failure = .unsupported(what: what, why: "uid \(user.uid) may not open \(path) (\(denied)), and it is not the file the process had open "
                    + "(\(held.thenAndNow(st))): "
                    + "opened with the restorer's rights it would hand the process a file its user cannot open")
            } else {
                opened = try remote.call("open \(what), the file the process held (uid \(user.uid) may not open it), through /proc/self/fd/\(looked)",
                                         Int32(CKPT_SYS_OPEN), try remote.string("/proc/self/fd/\(looked)"), flags, 0)
            }
            try remote.call("close the O_PATH descriptor of \(path)", Int32(CKPT_SYS_CLOSE), looked)
        } catch {
            failure = failure ?? error
        }
        // Back to the process's ids, failed or not: only the look and the reopen above
        // ran with the restorer's.
        try setFilesystemIDs(uid: user.uid, gid: user.gid)
        if let failure { throw failure }
        guard let opened else { preconditionFailure("ProcessFileAccess.open: neither a descriptor nor a failure") }
        return opened
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol

extension TaskMeta {
    /// Whether the process's real and effective ids are the restorer's own: then the
    /// restorer neither changes them (`Restorer.setCredentials`) nor opens the process's
    /// paths with other rights than its own (`ProcessFileAccess`).
    var idsAreTheRestorers: Bool {
        getuid() == uid && geteuid() == euid && getgid() == gid && getegid() == egid
    }
}

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// `ckpt restore --inherit-fd 1,2`: fd numbers, comma-separated, each at least 0; one
/// option value so that the plain parse (`PlainArguments`) takes it as ArgumentParser does.
struct DescriptorList: ExpressibleByArgument, Equatable, Sendable {
    var fds: [Int32]

    init(_ fds: [Int32] = []) { self.fds = fds }

    init?(argument: String) {
        var fds: [Int32] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let fd = Int32(part), fd >= 0 else { return nil }
            if !fds.contains(fd) { fds.append(fd) }
        }
        self.fds = fds
    }

    var defaultValueDescription: String { fds.isEmpty ? "none" : fds.map(String.init).joined(separator: ",") }

    /// Each fd must be open in this process, and is made to survive the exec of the new
    /// process's stub (FD_CLOEXEC cleared): the stub inherits it at the same number. The
    /// first that is not open is returned with why.
    func prepareForInheritance() -> String? {
        for fd in fds {
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else {
                return "--inherit-fd \(fd): fd \(fd) is not open in ckpt restore (open it where ckpt restore is run, e.g. `\(fd)>FILE` in the shell)"
            }
            if flags & FD_CLOEXEC != 0, fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0 {
                return "--inherit-fd \(fd): cannot clear its close-on-exec flag: \(String(cString: strerror(errno)))"
            }
        }
        return nil
    }
}

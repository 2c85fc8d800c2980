#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// How another thread (a signal waiter, a test) asks a `Listener` to stop: a self-pipe whose
/// read end the receive loop polls beside the socket. The handle is all another thread gets
/// of a listener; the listener itself has one owner, the thread that calls `run()`.
///
/// Sendable as checked by the compiler: two file descriptors fixed at init, closed in
/// `deinit` (after the last holder, the listener or a waiter, lets go).
public final class StopHandle: Sendable {
    /// The listener polls it; readable once a stop was requested.
    let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor

    /// A pipe with `FD_CLOEXEC` (no child inherits it) and `O_NONBLOCK` (a request never
    /// blocks the caller, a check never blocks the listener). Glibc's Swift module does not
    /// export `pipe2`, so the flags are set with `fcntl` right after `pipe`; a listener is
    /// made before it starts threads, so nothing forks in between.
    init() throws(Errno) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Errno(rawValue: errno) }
        for fd in fds {
            guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 else {
                let error = Errno(rawValue: errno)
                close(fds[0])
                close(fds[1])
                throw error
            }
        }
        readEnd = FileDescriptor(rawValue: fds[0])
        writeEnd = FileDescriptor(rawValue: fds[1])
    }

    deinit {
        try? readEnd.close()
        try? writeEnd.close()
    }

    /// Asks the listener to stop. Safe from any thread, more than once; never blocks (a full
    /// pipe already holds a request).
    public func requestStop() {
        var byte: UInt8 = 1
        while write(writeEnd.rawValue, &byte, 1) < 0 && errno == EINTR {}
    }

    /// Whether a stop was requested (the pipe is readable); does not consume the request.
    var isRequested: Bool {
        var fd = pollfd(fd: readEnd.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0
    }
}

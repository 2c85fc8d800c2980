#if canImport(Glibc)
import Glibc
#endif
import CCkptShims

/// Descriptors the restorer makes from their fdinfo records: inotify, eventfd, signalfd,
/// timerfd, epoll. Each is made in the new process, moved above every image fd while it is set
/// up (so it cannot land on, and later be closed by, an fd still to be placed), then
/// dup2'd to its number.
extension Restorer {
    /// An inotify instance with the image's watches under their old numbers: made
    /// non-blocking above every image fd, then each watch added in wd order. inotify numbers
    /// watches cyclically upwards, so a watch whose number is still ahead is added and
    /// removed until the next one is its number (as CRIU does), and the IN_IGNORED events
    /// those removals queue are read away; then placed at its fd with its flags.
    /// Watches are added with the process's rights (`ProcessFileAccess`: the stub has its ids).
    func restoreInotify(_ remote: RemoteSyscalls, fd: Int32, flags: Int32, watches: [InotifyWatch],
                        access: ProcessFileAccess) throws(RestoreError) {
        let what = "fd \(fd) (anon_inode:inotify)"
        let ifd = try moveAbove(remote, try remote.call("inotify_init1 for \(what)", Int32(CKPT_SYS_INOTIFY_INIT1), UInt64(O_NONBLOCK)), what)
        var removed = false
        var last: Int32 = 0
        for w in watches {
            let path = try remote.string(w.path)
            while true {
                let got = Int32(truncatingIfNeeded: try remote.call("inotify_add_watch \(w.path) for \(what)\(access.asWhom)",
                                                                  Int32(CKPT_SYS_INOTIFY_ADD_WATCH), ifd, path, UInt64(w.mask)))
                if got == w.wd { break }
                // At or below the last restored: the path is that watch's file now, whose
                // number the call returned (removing it would lose that watch).
                guard got < w.wd, got > last else {
                    throw .mismatch("\(what): watch \(w.wd) on \(w.path) came back as \(got)")
                }
                try remote.call("inotify_rm_watch \(got) for \(what)", Int32(CKPT_SYS_INOTIFY_RM_WATCH), ifd, UInt64(got))
                removed = true
            }
            last = w.wd
        }
        if removed {
            let buf = remote.scratch + 1024
            while (try? remote.call("read IN_IGNORED events of \(what)", Int32(CKPT_SYS_READ), ifd, buf, 2048)) != nil {}
        }
        try remote.call("F_SETFL \(what)", Int32(CKPT_SYS_FCNTL), ifd, UInt64(F_SETFL), UInt64(UInt32(bitPattern: flags & O_NONBLOCK)))
        try place(remote, ifd, at: fd, what)
    }

    /// An eventfd with its counter and semaphore mode, a signalfd with its mask, a timerfd on
    /// its clock armed with the time left and its period (relative: what an absolute timer
    /// had left), and the expirations not yet read put back (`TFD_IOC_SET_TICKS`).
    func restoreEvent(_ remote: RemoteSyscalls, fd: Int32, flags: Int32, _ e: EventDescriptor) throws(RestoreError) {
        let nonblock = UInt64(UInt32(bitPattern: flags & O_NONBLOCK))
        let at = remote.scratch + 1024
        let made: UInt64
        switch e {
        case let .eventfd(count, semaphore):
            let what = "fd \(fd) (eventfd)"
            let first = min(count, UInt64(UInt32.max))
            made = try moveAbove(remote, try remote.call("eventfd2 for \(what)", Int32(CKPT_SYS_EVENTFD2), first,
                                                         nonblock | (semaphore ? UInt64(CKPT_EFD_SEMAPHORE) : 0)), what)
            if count > first {  // eventfd2 takes an unsigned int; a write adds the rest
                try remote.tracee.write(withUnsafeBytes(of: (count - first).littleEndian, Array.init), at: at)
                try remote.call("write the rest of the counter of \(what)", Int32(CKPT_SYS_WRITE), made, at, 8)
            }
            try place(remote, made, at: fd, what)
        case let .signalfd(mask):
            let what = "fd \(fd) (signalfd)"
            try remote.tracee.write(withUnsafeBytes(of: mask.littleEndian, Array.init), at: at)
            made = try moveAbove(remote, try remote.call("signalfd4 for \(what)", Int32(CKPT_SYS_SIGNALFD4), UInt64.max, at, 8,
                                                         nonblock), what)
            try place(remote, made, at: fd, what)
        case let .timerfd(clock, ticks, value, interval):
            let what = "fd \(fd) (timerfd)"
            made = try moveAbove(remote, try remote.call("timerfd_create for \(what)", Int32(CKPT_SYS_TIMERFD_CREATE),
                                                         UInt64(UInt32(bitPattern: clock)), nonblock), what)
            if value != [0, 0] {
                // struct itimerspec: it_interval, then it_value.
                let spec = (interval + value).flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
                try remote.tracee.write(spec, at: at)
                try remote.call("timerfd_settime for \(what)", Int32(CKPT_SYS_TIMERFD_SETTIME), made, 0, at, 0)
            }
            if ticks > 0 {
                try remote.tracee.write(withUnsafeBytes(of: ticks.littleEndian, Array.init), at: at)
                try remote.call("TFD_IOC_SET_TICKS \(ticks) for \(what)", Int32(CKPT_SYS_IOCTL), made,
                                UInt64(CKPT_TFD_IOC_SET_TICKS), at)
            }
            try place(remote, made, at: fd, what)
        }
    }

    /// Each epoll instance, once every other fd is in place: `epoll_create1`, then
    /// `EPOLL_CTL_ADD` of each target with its events and data (edge-triggered, one-shot
    /// and exclusive bits included); events ready at the checkpoint are found ready again
    /// by the next wait, as the targets' state is back.
    func restoreEpolls(_ remote: RemoteSyscalls) throws(RestoreError) {
        let at = remote.scratch + 1024
        for d in plan.descriptors {
            guard case let .epoll(fd, _, targets) = d else { continue }
            let what = "fd \(fd) (epoll)"
            let made = try moveAbove(remote, try remote.call("epoll_create1 for \(what)", Int32(CKPT_SYS_EPOLL_CREATE1), 0), what)
            for t in targets {
                // struct epoll_event is packed on x86-64: u32 events, u64 data.
                try remote.tracee.write(withUnsafeBytes(of: t.events.littleEndian, Array.init)
                                        + withUnsafeBytes(of: t.data.littleEndian, Array.init), at: at)
                try remote.call("epoll_ctl ADD fd \(t.fd) to \(what)", Int32(CKPT_SYS_EPOLL_CTL), made,
                                UInt64(CKPT_EPOLL_CTL_ADD), UInt64(t.fd), at)
            }
            try place(remote, made, at: fd, what)
        }
    }

    /// `made` moved above every image fd (the original closed).
    func moveAbove(_ remote: RemoteSyscalls, _ made: UInt64, _ what: String) throws(RestoreError) -> UInt64 {
        let above = UInt64(plan.descriptors.map(\.fd).max() ?? 0) + 1
        let moved = try remote.call("F_DUPFD above \(above) for \(what)", Int32(CKPT_SYS_FCNTL), made, UInt64(F_DUPFD), above)
        try remote.call("close", Int32(CKPT_SYS_CLOSE), made)
        return moved
    }

    /// Writes `data` into the pipe end `fd` in the process, in pieces the scratch area holds;
    /// the end is non-blocking, so bytes that do not fit fail (EAGAIN) instead of waiting.
    func writeAll(_ remote: RemoteSyscalls, _ data: [UInt8], to fd: UInt64, _ name: String) throws(RestoreError) {
        let chunk = 2048, dataAt = remote.scratch + 1024
        var done = 0
        while done < data.count {
            let part = Array(data[done..<min(done + chunk, data.count)])
            try remote.tracee.write(part, at: dataAt)
            let n = try remote.call("write \(part.count) bytes into \(name)", Int32(CKPT_SYS_WRITE), fd, dataAt, UInt64(part.count))
            guard n > 0 else { throw .mismatch("write into \(name) wrote nothing") }
            done += Int(n)
        }
    }

    /// `made` at its image number `fd`.
    func place(_ remote: RemoteSyscalls, _ made: UInt64, at fd: Int32, _ what: String) throws(RestoreError) {
        try remote.call("dup2 \(what)", Int32(CKPT_SYS_DUP2), made, UInt64(fd))
        try remote.call("close", Int32(CKPT_SYS_CLOSE), made)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptProtocol
import SystemPackage

extension Restorer {
    /// A zombie of a restored tree made again (`TreePlan.zombies`), as CRIU makes its
    /// zombies: forked inside its parent (with its pid when free), put back in its session
    /// and group (`forkZombie`); then, once the processes that joined a group it led have
    /// joined it, detached at an exit_group(code), or at a tgkill of itself with the signal
    /// that ended it (its action made the default, not blocked, no core dumped: the process
    /// is made non-dumpable first) (`finishZombie`). Untraced when it dies, it is its
    /// parent's zombie at once and the parent's wait(2) reads its status, which is checked
    /// here (/proc/PID/stat's exit_code). The parent stub's SIGCHLD for it is taken back (the
    /// parent's pending signals are the image's, raised later); its mask is the image's
    /// once built.
    struct PendingZombie {
        let zombie: TreePlan.Zombie
        let child: NewProcess
        let parent: NewProcess
        var warnings: [String]
    }

    /// The zombie forked by `parent` and placed; `groupLeader`: the pid whose group it joins
    /// (`.of`, `.ofZombie`).
    static func forkZombie(_ zombie: TreePlan.Zombie, placement: TreePlan.Placement, groupLeader: pid_t?,
                           from parent: NewProcess, pids: PidPolicy) throws(RestoreError) -> PendingZombie {
        var warnings: [String] = []
        // Its death must not stop the parent stub at a signal while we drive it.
        try parent.tracee.setSignalMask(UInt64.max)
        let child = try forkChild(Int32(bitPattern: zombie.pid), from: parent, pids: pids)
        let remote = child.remote
        do throws(RestoreError) {
            if placement.newSession { try remote.call("setsid", Int32(CKPT_SYS_SETSID)) }
            switch placement.group {
            case .inherited: break
            case .own: try remote.call("setpgid(0, 0)", Int32(CKPT_SYS_SETPGID), 0, 0)
            case .of, .ofZombie:
                if let groupLeader, let w = try joinGroup(of: groupLeader, remote, who: "the zombie of pid \(zombie.pid)") {
                    warnings.append(w)
                }
            }
        } catch {
            child.kill()
            throw error
        }
        return PendingZombie(zombie: zombie, child: child, parent: parent, warnings: warnings)
    }

    /// `pending` exits as its image says; returns its pid and what differs from the image.
    static func finishZombie(_ pending: PendingZombie) throws(RestoreError) -> (pid: pid_t, warnings: [String]) {
        let (zombie, child, parent) = (pending.zombie, pending.child, pending.parent)
        var warnings = pending.warnings
        let remote = child.remote
        do throws(RestoreError) {
            if let signal = zombie.status.signal {
                try remote.call("prctl(PR_SET_DUMPABLE, 0)", Int32(CKPT_SYS_PRCTL), UInt64(CKPT_PR_SET_DUMPABLE), 0)
                // struct sigaction (the kernel's) of zeros: SIG_DFL, no flags, empty mask.
                try remote.tracee.write([UInt8](repeating: 0, count: 32), at: remote.scratch)
                try remote.call("rt_sigaction(\(signal), SIG_DFL)", Int32(CKPT_SYS_RT_SIGACTION), UInt64(signal), remote.scratch, 0, 8)
                try remote.tracee.setSignalMask(0)
                try remote.callDetached(Int32(CKPT_SYS_TGKILL), UInt64(child.pid), UInt64(child.pid), UInt64(signal))
                if zombie.status.coreDumped {
                    warnings.append("pid \(zombie.pid) had dumped core when it died: its zombie's status says \(WaitStatus(UInt32(signal))), without the core flag")
                }
            } else {
                try remote.callDetached(Int32(CKPT_SYS_EXIT_GROUP), UInt64(zombie.status.exitCode))
            }
        } catch {
            child.kill()
            throw error
        }
        let expected = zombie.status.signal.map { UInt32($0) } ?? zombie.status.raw
        let status = try zombieStatus(child.pid)
        guard status == expected else {
            throw .mismatch("pid \(child.pid) (the zombie of pid \(zombie.pid)): its status is \(WaitStatus(status)), not \(WaitStatus(expected))")
        }
        // Its SIGCHLD, pending in the parent (blocked above): taken back without waiting.
        var take = [UInt8](repeating: 0, count: 24)
        take.withUnsafeMutableBytes { $0.storeBytes(of: (UInt64(1) << (SIGCHLD - 1)).littleEndian, as: UInt64.self) }
        try parent.tracee.write(take, at: parent.remote.scratch)
        do throws(RestoreError) {
            try parent.remote.call("rt_sigtimedwait(SIGCHLD) for the zombie \(child.pid)", Int32(CKPT_SYS_RT_SIGTIMEDWAIT),
                                   parent.remote.scratch, 0, parent.remote.scratch + 8, 8)
        } catch let .remote(_, errno) where errno == .resourceTemporarilyUnavailable {
            // Not pending (already taken): nothing to take back.
        }
        if child.pid != pid_t(bitPattern: zombie.pid) {
            warnings.append("the zombie of pid \(zombie.pid) is pid \(child.pid) now: its parent's wait for \(zombie.pid) by number will not find it")
        }
        return (child.pid, warnings)
    }

    /// The status a zombie's parent will read (/proc/PID/stat field 52, `exit_code`), once
    /// PID is a zombie; 2 s at most.
    static func zombieStatus(_ pid: pid_t) throws(RestoreError) -> UInt32 {
        for _ in 0..<2000 {
            if let stat = readStat(pid), let close = stat.lastIndex(of: ")") {
                let fields = stat[stat.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
                if fields.first == "Z", fields.count >= 50, let code = UInt32(fields[49]) { return code }
            }
            usleep(1000)
        }
        throw .mismatch("pid \(pid) did not become a zombie within 2 s of its exit (/proc/\(pid)/stat: \(readStat(pid) ?? "gone"))")
    }

    private static func readStat(_ pid: pid_t) -> String? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buf.prefix(n), as: UTF8.self) : nil
    }
}

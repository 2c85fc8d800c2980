#if canImport(Glibc)
import Glibc
#endif

/// Whether a privileged restorer may believe an image file. An image says whose process it
/// was (the task record's uids and gids), which files it had open and mapped, its resource
/// limits, and its code; a restore as root carries all of that out with root's power. The
/// listener writes only what the kernel streamed, as root, into files nobody else can write
/// (0600 in a 0700 directory); a file anyone else could have written may say anything, and
/// restored as root it would run the writer's code with the credentials it claims (uid 0).
///
/// So a privileged restorer (root, or any of the capabilities below) uses only an image file
/// owned by root or by itself and writable by no group or other; the check is on the opened
/// descriptor, so a path swapped afterwards changes nothing. An unprivileged restorer gains
/// nothing from a lie (it can only become itself, open what it may open), and is not asked.
/// Object-store images have no owner: write access to the bucket is the boundary there
/// (docs/object-store.md).
public enum ImageTrust {
    /// Capabilities that make a restore do what the restorer could not do as a plain user:
    /// CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_SETGID, CAP_SETUID,
    /// CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_CHECKPOINT_RESTORE.
    static let privilegedCapabilities: UInt64 =
        [1, 2, 3, 6, 7, 18, 19, 21, 24, 40].reduce(0) { $0 | (1 << UInt64($1)) }

    /// nil when the restorer may use an image file of this owner and mode; else why not.
    public static func refusal(ownerUID: uid_t, mode: mode_t, restorerEUID: uid_t, privileged: Bool) -> String? {
        guard privileged else { return nil }
        let writable = mode & (S_IWGRP | S_IWOTH) != 0
        if (ownerUID == 0 || ownerUID == restorerEUID), !writable { return nil }
        let why = writable ? "it is writable by group or others (mode \(String(mode & 0o7777, radix: 8)))"
                           : "it is owned by uid \(ownerUID)"
        return "\(why), so its contents (the credentials, files and code it names) may not be what the kernel captured; "
            + "as a privileged user ckpt restores only image files owned by root or by you and writable by no one else, "
            + "as the listener writes them. Restore it as its own user, or, if you trust its contents, chown root and chmod go-w it"
    }

    /// Whether this process would restore with more than a plain user's power.
    public static func restorerIsPrivileged() -> Bool {
        geteuid() == 0 || effectiveCapabilities() & privilegedCapabilities != 0
    }

    /// `CapEff` of /proc/self/status (all set when it cannot be read: the safe answer).
    static func effectiveCapabilities() -> UInt64 { OwnCapabilities.set("CapEff") ?? .max }

    /// The check for an opened image file (`fd`).
    public static func refusal(openedFile fd: Int32) -> String? {
        guard restorerIsPrivileged() else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "it cannot be examined (fstat: errno \(errno))" }
        return refusal(ownerUID: st.st_uid, mode: st.st_mode, restorerEUID: geteuid(), privileged: true)
    }
}

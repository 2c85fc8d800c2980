/// One watch of an inotify instance, as its fdinfo line shows it
/// (`fs/notify/fdinfo.c`: `inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x ...`,
/// every number in hex), with the path it is restored on.
public struct InotifyWatch: Equatable, Sendable {
    public var wd: Int32
    public var inode: UInt64
    /// The watched file's device as stat(2) reports it (`new_encode_dev` of the kernel's
    /// `sdev`), to compare with the image's file identities.
    public var device: UInt32
    public var mask: UInt32
    /// Filled by the plan from the image's open files and mappings.
    public var path: String = ""

    /// The watches of an fdinfo text; lines that are not inotify watches are skipped.
    /// `nil` when an inotify line lacks a field or holds one the kernel never shows: a wd
    /// outside 1 ... INT_MAX (an int from `idr_alloc_cyclic(..., 1, 0, ...)`), a mask wider
    /// than 32 bits.
    public static func parse(_ fdinfo: String) -> [InotifyWatch]? {
        var out: [InotifyWatch] = []
        for line in fdinfo.split(separator: "\n") where line.hasPrefix("inotify ") {
            var fields: [Substring: UInt64] = [:]
            for pair in line.split(separator: " ").dropFirst() {
                let kv = pair.split(separator: ":", maxSplits: 1)
                if kv.count == 2, let v = UInt64(kv[1], radix: 16) { fields[kv[0]] = v }
            }
            guard let wd = fields["wd"], let ino = fields["ino"], let sdev = fields["sdev"], let mask = fields["mask"],
                  let wd32 = Int32(exactly: wd), wd32 > 0, let mask32 = UInt32(exactly: mask) else { return nil }
            out.append(InotifyWatch(wd: wd32, inode: ino, device: encodeDevice(sdev), mask: mask32))
        }
        return out
    }

    /// The kernel's internal dev_t (major in the top 12 bits of 32, minor in the low 20) as
    /// stat(2) and the image's identities encode it (`new_encode_dev`).
    static func encodeDevice(_ dev: UInt64) -> UInt32 {
        let major = UInt32(truncatingIfNeeded: dev >> 20), minor = UInt32(truncatingIfNeeded: dev & 0xfffff)
        return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
    }
}

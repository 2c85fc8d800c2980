/// An eventfd, signalfd or timerfd as the image records it: the text its fdinfo record
/// holds (`fs/eventfd.c`, `fs/signalfd.c`, `fs/timerfd.c` `show_fdinfo`), which says all a
/// restorer needs to make it again. (CRIU reads the same text from /proc/PID/fdinfo.)
public enum EventDescriptor: Equatable, Sendable {
    /// Its counter, and whether reads take one at a time (`EFD_SEMAPHORE`).
    case eventfd(count: UInt64, semaphore: Bool)
    /// The signals it reads, bit i for signal i + 1.
    case signalfd(mask: UInt64)
    /// Its clock, expirations not yet read, time to the next expiry and period (seconds,
    /// nanoseconds; 0 and 0: disarmed).
    case timerfd(clock: Int32, ticks: UInt64, value: [UInt64], interval: [UInt64])

    /// The anon-inode names of the descriptors this covers.
    static let names = ["anon_inode:[eventfd]", "anon_inode:[signalfd]", "anon_inode:[timerfd]"]

    /// Reads `fdinfo` for the descriptor named `path` (one of `names`); the error says what
    /// the text lacks.
    static func parse(path: String, fdinfo: String) -> Result<EventDescriptor, FdinfoError> {
        var fields: [String: String] = [:]
        for line in fdinfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters()
            fields[key] = line[line.index(after: colon)...].trimmingCharacters()
        }
        func hex(_ key: String) -> UInt64? { fields[key].flatMap { UInt64($0.filter { $0 != " " && $0 != "\t" }, radix: 16) } }
        func dec(_ key: String) -> UInt64? { fields[key].flatMap { UInt64($0) } }
        /// "(sec, nsec)"
        func pair(_ key: String) -> [UInt64]? {
            guard let v = fields[key], v.hasPrefix("("), v.hasSuffix(")") else { return nil }
            let parts = v.dropFirst().dropLast().split(separator: ",").compactMap { UInt64($0.trimmingCharacters()) }
            return parts.count == 2 ? parts : nil
        }
        switch path {
        case "anon_inode:[eventfd]":
            guard let count = hex("eventfd-count") else { return .failure(.missing("eventfd-count")) }
            // ULLONG_MAX is the overflow mark only the kernel's eventfd_signal sets: a write
            // cannot make it, and the restorer's would wait for a read (fs/eventfd.c).
            if count == UInt64.max {
                return .failure(.unsupported("its counter is at the overflow value (ULLONG_MAX), which no write can restore"))
            }
            guard let semaphore = dec("eventfd-semaphore") else {
                return .failure(.missing("eventfd-semaphore (shown by Linux 6.4 and later): whether it is a semaphore is not known"))
            }
            return .success(.eventfd(count: count, semaphore: semaphore != 0))
        case "anon_inode:[signalfd]":
            guard let mask = hex("sigmask") else { return .failure(.missing("sigmask")) }
            return .success(.signalfd(mask: mask))
        case "anon_inode:[timerfd]":
            guard let clock = fields["clockid"].flatMap({ Int32($0) }), let ticks = dec("ticks"),
                  let flags = fields["settime flags"].flatMap({ Int32($0, radix: 8) }),
                  let value = pair("it_value"), let interval = pair("it_interval") else {
                return .failure(.missing("clockid, ticks, settime flags, it_value or it_interval"))
            }
            // TFD_TIMER_CANCEL_ON_SET: the timer's tie to clock changes is not restored.
            if flags & 2 != 0 { return .failure(.unsupported("a timer cancelled when the clock is set (TFD_TIMER_CANCEL_ON_SET)")) }
            return .success(.timerfd(clock: clock, ticks: ticks, value: value, interval: interval))
        default:
            return .failure(.unsupported("not an eventfd, signalfd or timerfd"))
        }
    }

    /// One target of an epoll instance, as its fdinfo line shows it (`fs/eventpoll.c`
    /// `ep_show_fdinfo`: `tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x`).
    public struct EpollTarget: Equatable, Sendable {
        public var fd: Int32
        public var events: UInt32
        public var data: UInt64
        public var inode: UInt64
        /// stat(2)'s encoding of the target file's device.
        public var device: UInt32
    }

    /// The targets of an epoll fdinfo text; `nil` when a tfd line lacks a field.
    static func epollTargets(_ fdinfo: String) -> [EpollTarget]? {
        var out: [EpollTarget] = []
        for line in fdinfo.split(separator: "\n") where line.hasPrefix("tfd:") {
            // "tfd:", fd, "events:", hex, "data:", hex, "pos:N", "ino:hex", "sdev:hex"
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            var named: [Substring: Substring] = [:]
            var i = 0
            while i < words.count {
                let w = words[i]
                if w.hasSuffix(":"), i + 1 < words.count {
                    named[w.dropLast()] = words[i + 1]
                    i += 2
                } else {
                    if let c = w.firstIndex(of: ":") { named[w[..<c]] = w[w.index(after: c)...] }
                    i += 1
                }
            }
            guard let fd = named["tfd"].flatMap({ Int32($0) }), let events = named["events"].flatMap({ UInt32($0, radix: 16) }),
                  let data = named["data"].flatMap({ UInt64($0, radix: 16) }), let ino = named["ino"].flatMap({ UInt64($0, radix: 16) }),
                  let sdev = named["sdev"].flatMap({ UInt64($0, radix: 16) }) else { return nil }
            out.append(EpollTarget(fd: fd, events: events, data: data, inode: ino, device: InotifyWatch.encodeDevice(sdev)))
        }
        return out
    }

    public enum FdinfoError: Error, Equatable {
        case missing(String)
        case unsupported(String)
    }
}

private extension Substring {
    /// Without leading and trailing blanks and the newline (an fdinfo line's key or value).
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}

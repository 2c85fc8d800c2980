#if canImport(Glibc)
import Glibc
#endif

/// What `ckpt checkpoint --wait DIR` looks for: the image (or the failure) a listener
/// publishes into DIR for one crid.
///
/// A listener with `--store` deletes its local copy as soon as the store has confirmed it,
/// which for a small image on a fast store can be sooner than any poll interval: a
/// directory listing alone would then never see the image. So an inotify watch on DIR is
/// made before the checkpoint is requested, and every name renamed or created in DIR from
/// then on is remembered (the listener publishes by renaming `.partial` to `.ckpt` or
/// `.failed`). Each look also lists DIR, which covers what the watch cannot (an overflowed
/// event queue). Names DIR held before the request belong to an earlier boot's stream with
/// the same crid and are ignored. The waiter sleeps on the watch (`waitForChange`), so it
/// looks again as soon as something is published.
final class PublishedImageWatch {
    enum Found: Equatable {
        /// `name` was published; `present` says whether it is still in DIR.
        case image(name: String, present: Bool)
        case failed(name: String)
    }

    let directory: String
    /// Why DIR is not watched (inotify refused: its per-user limits), when it is not; then
    /// only the listings see what is published.
    let watchError: SystemError?
    private let existing: Set<String>
    private let inotify: Int32
    private var announced: Set<String> = []
    /// For the events (`drainEvents`), aligned for struct inotify_event and room for many
    /// of them with their names; made once, not at every look.
    private var events = [UInt64](repeating: 0, count: 8192)

    /// Lists DIR (what is there now is not ours) and starts watching it. Throws only when
    /// DIR cannot be listed.
    init(directory: String) throws(SystemError) {
        self.directory = directory
        switch directoryNames(directory) {
        case let .success(names): existing = Set(names)
        case let .failure(error): throw error
        }
        var fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        var failed: SystemError? = fd < 0 ? SystemError(call: "inotify_init1", code: errno) : nil
        if fd >= 0, inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_CREATE)) < 0 {
            failed = SystemError(call: "inotify_add_watch", code: errno)
            close(fd)
            fd = -1
        }
        inotify = fd
        watchError = failed
    }

    deinit { if inotify >= 0 { close(inotify) } }

    /// The image or failure for `crid` published since this watch began, if any.
    /// Fails only when DIR cannot be listed any more.
    func look(crid: UInt64) -> Result<Found?, SystemError> {
        drainEvents()
        let listed: [String]
        switch directoryNames(directory) {
        case let .success(names): listed = names
        case let .failure(error): return .failure(error)
        }
        let present = Set(listed)
        let names = present.union(announced)
        if let image = names.filter({ mine($0, crid, ".ckpt") }).sorted().first {
            return .success(.image(name: image, present: present.contains(image)))
        }
        if let failed = names.filter({ mine($0, crid, ".failed") }).sorted().first {
            return .success(.failed(name: failed))
        }
        return .success(nil)
    }

    /// Waits until something is created or renamed in DIR, or `milliseconds` pass (all of
    /// them when DIR is not watched): the waiter looks again as soon as the listener
    /// publishes, not at its next poll. Returns whether an event is queued.
    func waitForChange(milliseconds: Int32) -> Bool {
        guard inotify >= 0 else {
            usleep(useconds_t(milliseconds) * 1000)
            return false
        }
        var fd = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
        // EINTR (a signal the command handles) ends the wait early: the caller looks again.
        return poll(&fd, 1, milliseconds) > 0
    }

    /// `<crid><ext>` or `<crid>-N<ext>`, not there before the watch began.
    private func mine(_ name: String, _ crid: UInt64, _ ext: String) -> Bool {
        guard !existing.contains(name), name.hasSuffix(ext) else { return false }
        let stem = name.dropLast(ext.count)
        if stem == "\(crid)" { return true }
        guard stem.hasPrefix("\(crid)-") else { return false }
        return UInt64(stem.dropFirst("\(crid)-".count)) != nil
    }

    /// Reads every queued event (the descriptor is non-blocking) and remembers its name.
    private func drainEvents() {
        guard inotify >= 0 else { return }
        while true {
            let n = events.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }  // EAGAIN: nothing more queued
            events.withUnsafeBytes { raw in
                let header = MemoryLayout<inotify_event>.size
                var at = 0
                while at + header <= n {
                    let nameLength = Int(raw.load(fromByteOffset: at + 12, as: UInt32.self))
                    let nameBytes = UnsafeRawBufferPointer(rebasing: raw[(at + header)..<min(at + header + nameLength, n)])
                    // The name is NUL-padded to its length.
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    if !name.isEmpty { announced.insert(name) }
                    at += header + nameLength
                }
            }
        }
    }
}

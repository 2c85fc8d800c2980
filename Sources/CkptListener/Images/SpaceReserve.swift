#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptSystem
import Logging
import Synchronization

/// How much space `ckpt listen --reserve` keeps allocated for the next image.
public enum ReservePolicy: Sendable, Hashable {
    /// No reserve: every image allocates its blocks (and, on tmpfs, zeroes its pages) as the
    /// stream writes them.
    case off
    /// As large as the largest image published since start (the next checkpoint of the same
    /// process is about as large): nothing before the first image.
    case auto
    /// This many bytes, from the start.
    case bytes(UInt64)
}

/// Space for the next image, allocated while no stream waits for it: a file
/// `DIR/.ckpt-reserve`, empty, with blocks allocated past its end (`fallocate` with
/// `FALLOC_FL_KEEP_SIZE`), that the next stream's `.partial` is renamed from and written
/// into (`ImageDirectory.takeReserve`); what it does not fill is freed after the image is
/// published or kept (`releaseSurplus`). Writing into allocated blocks allocates nothing:
/// on tmpfs the pages are already there (zeroed when allocated, on kernels with
/// `init_on_alloc`), which under qemu TCG was most of the listener's write time and so of
/// the time a checkpointed task stays frozen (docs/benchmarks.md, "space reserved").
///
/// A thread of its own at `SCHED_IDLE` makes it, after an image is published (`request`),
/// in 16 MiB steps, so it runs only on CPU time nothing else wants and `stop` returns within
/// a step. At most half the file system's free space is taken (`target`): the reserve is
/// the next image's own space, allocated early, so it takes nothing that image would not.
/// With `ckpt listen --store-spool-max` it also stays below the spool's room (`room`: the
/// limit less the images waiting for upload), and the listener counts it in the spool: a
/// spool bound holds with a reserve too, and a reserve alone never fills it. The reserve lives with the listener: removed when it stops, and at start (one a killed
/// listener left).
///
/// A file system that cannot allocate ahead (`fallocate` says `EOPNOTSUPP`: some FUSE and
/// network file systems) turns the reserve off for the listener's life, logged once, instead
/// of a failed attempt and a warning after every image.
///
/// The listener drops the reserve (`drop`) when, counted in a store's spool, it would hold
/// back a stream in flight: uploads cannot drain a reserve, and it is only ever an early
/// allocation. A reserve being replaced by a larger one is removed first, so the two never
/// take more than half the free space together.
///
/// The same thread frees what a published image did not fill of the reserve it was written
/// into (`release`), before it makes the next one: the publisher does not wait for it, and
/// the old surplus and the new reserve are never allocated at once. Until it is freed (at
/// `SCHED_IDLE`, so on a machine kept busy it waits) the surplus counts as reserved
/// (`allocatedBytes`), as the reserve did, so a store's spool bound still sees it.
///
/// `@unchecked Sendable`, sound because `wanted`, `largest`, `stopping`, `unsupported`,
/// `surplus`, `surplusBytes` and `generation` are read and
/// written only with `lock` held, and `thread` is set before the publisher thread (which
/// calls `request`) starts and cleared only after it has been joined (`ImageSink`).
final class SpaceReserve: @unchecked Sendable {
    static let fileName = ".ckpt-reserve"
    static let step: UInt64 = 16 << 20

    let policy: ReservePolicy
    private let directory: ImageDirectory
    private let logger: Logger
    /// The most the reserve may take besides what is counted elsewhere (the store's spool
    /// room; nil: no bound but the free space).
    private let room: (@Sendable () -> UInt64?)?
    private let lock = ConditionLock()
    private var wanted: UInt64 = 0
    /// `.auto`: the largest image published since start.
    private var largest: UInt64 = 0
    private var stopping = false
    /// The file system refused `fallocate`'s mode: no more attempts.
    private var unsupported = false
    /// Descriptors of published images written into the reserve, to free and close (`release`).
    private var surplus: [(fd: Int32, bytes: UInt64)] = []
    /// The blocks past the end of the files in `surplus` and of those being freed, in bytes.
    private var surplusBytes: UInt64 = 0
    /// Counts `drop`s: a reserve being made when one comes is abandoned.
    private var generation = 0
    private var thread: JoinableThread?
    /// `ImageDirectory.makeReserve`; tests stand in for a file system that refuses it.
    private let makeReserve: (_ bytes: UInt64, _ step: UInt64, _ stop: () -> Bool) -> ImageDirectory.ReserveOutcome
    /// `ImageDirectory.releaseSurplus`; tests stand in for a slow one.
    private let freeSurplus: (Int32) -> Void

    init(policy: ReservePolicy, directory: ImageDirectory, logger: Logger, room: (@Sendable () -> UInt64?)? = nil,
         makeReserve: ((_ bytes: UInt64, _ step: UInt64, _ stop: () -> Bool) -> ImageDirectory.ReserveOutcome)? = nil,
         freeSurplus: ((Int32) -> Void)? = nil) {
        self.policy = policy
        self.directory = directory
        self.logger = logger
        self.room = room
        self.makeReserve = makeReserve ?? { directory.makeReserve(bytes: $0, step: $1, stop: $2) }
        self.freeSurplus = freeSurplus ?? { ImageDirectory.releaseSurplus($0) }
    }

    /// Starts the thread (not with `.off`); with `.bytes` it makes the reserve at once. A
    /// reserve left by a listener that was killed is removed: the reserve lives with the
    /// listener that made it.
    func start() {
        directory.removeReserve()
        guard policy != .off else { return }
        thread = JoinableThread { [self] in
            _ = ckpt_sched_idle_self()  // lowering its own priority needs no privilege
            run()
        }
        if case let .bytes(n) = policy { request(imageBytes: n) }
    }

    /// An image of `imageBytes` was published, or a failed stream (0 bytes) had taken the
    /// reserve: with `.auto`, make the reserve as large as the largest image; with `.bytes`,
    /// make it again (the last one was taken).
    func request(imageBytes: UInt64) {
        guard thread != nil else { return }
        let size: UInt64
        switch policy {
        case .off: return
        case .auto: size = imageBytes
        case let .bytes(n): size = n
        }
        lock.withLock {
            largest = max(largest, size)
            if !unsupported { wanted = largest }
        }
        lock.signal()
    }

    /// Frees the blocks the image open as `fd` (published, written into the reserve or
    /// allocated ahead) did not fill, on the reserve's thread before its next reserve, and
    /// closes `fd`; without the thread (`.off`, or not started), here.
    func release(_ fd: Int32) {
        guard thread != nil else {
            freeSurplus(fd)
            Syscall.close(fd)
            return
        }
        let past = ImageDirectory.surplusBytes(fd)
        lock.withLock {
            surplus.append((fd, past))
            surplusBytes += past
        }
        lock.signal()
    }

    /// The bytes allocated for the reserve now, a half-made one included (0 with `.off`): a
    /// look at the directory, so it is never out of date with a stream that took it.
    func allocatedBytes() -> UInt64 {
        policy == .off ? 0 : directory.reserveBytes(includingHalfMade: true) + lock.withLock { surplusBytes }
    }

    /// Removes the reserve, and abandons one being made, until the next `request`.
    func drop() {
        guard thread != nil else { return }
        lock.withLock {
            generation += 1
            wanted = 0
        }
        directory.removeReserve()
        logger.info("space reserve dropped: the store's spool needs the room")
    }

    /// Stops the thread within one step of its work and removes the reserve (made or being
    /// made): once the listener has stopped, no stream will take it.
    func stop() {
        lock.withLock { stopping = true }
        lock.signal()
        thread?.join()
        thread = nil
        if policy != .off { directory.removeReserve() }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func run() {
        var freeing: [(fd: Int32, bytes: UInt64)] = []
        while true {
            let size: UInt64 = lock.withLock {
                while wanted == 0, surplus.isEmpty, !stopping { lock.wait() }
                swap(&freeing, &surplus)
                defer { wanted = 0 }
                return stopping ? 0 : wanted
            }
            for (fd, bytes) in freeing {
                freeSurplus(fd)
                Syscall.close(fd)
                lock.withLock { surplusBytes -= bytes }
            }
            freeing.removeAll(keepingCapacity: true)
            if size == 0 {
                if isStopping { return }
                continue
            }
            make(size)
        }
    }

    private func make(_ size: UInt64) {
        let (gone, made): (Bool, Int) = lock.withLock { (unsupported, generation) }
        if gone { return }
        let have = directory.reserveBytes()
        guard let bytes = Self.target(size, have: have, free: directory.freeBytes(), room: room?()) else { return }
        // The smaller reserve goes first: both at once could take most of the free space.
        if have > 0 { directory.removeReserve() }
        let dropped = { self.lock.withLock { self.generation != made } }
        let started = monotonicNanoseconds()
        let outcome = makeReserve(bytes, Self.step, { self.isStopping || dropped() })
        if dropped() {  // `drop` came meanwhile: it may have run before the rename
            directory.removeReserve()
            return
        }
        switch outcome {
        case .made:
            logger.info("space reserved for the next image", metadata: [
                "bytes": "\(bytes)", "ms": "\((monotonicNanoseconds() - started) / 1_000_000)",
            ])
        case .stopped:
            return
        case let .failed(error) where error.rawValue == EOPNOTSUPP:
            lock.withLock { unsupported = true }
            logger.warning("no space reserve: this file system cannot allocate ahead (fallocate FALLOC_FL_KEEP_SIZE); images allocate as they are written",
                           metadata: ["error": "\(error)"])
        case let .failed(error):
            logger.warning("no space reserved for the next image", metadata: ["bytes": "\(bytes)", "error": "\(error)"])
        }
    }

    /// The reserve to make for an image of `size` bytes when `have` bytes are reserved and
    /// the file system has `free` bytes free: nil when what is there will do, or when half
    /// the free space (the reserve counted as free) is less than a step. With `room`, also
    /// less than `room` (whole steps): a reserve of the spool's whole room would count as a
    /// full spool that uploads cannot drain.
    static func target(_ size: UInt64, have: UInt64, free: UInt64, room: UInt64? = nil) -> UInt64? {
        if have >= size { return nil }
        var cap = (free / 2 + have / 2) / step * step
        if let room { cap = min(cap, room == 0 ? 0 : (room - 1) / step * step) }
        let bytes = size >= cap ? cap : min(cap, (size + step - 1) / step * step)
        guard bytes >= step, bytes > have else { return nil }
        return bytes
    }
}

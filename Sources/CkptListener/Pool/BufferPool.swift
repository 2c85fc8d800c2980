import CkptSystem

/// The listener's receive buffers: `count` buffers of `size` bytes in one allocation made at
/// start, never grown. This is the memory bound of the listener (plus a small constant per
/// stream): however large the images, however many streams, received bytes live only here
/// until they are written.
///
///     +----------+----------+-----+------------+
///     | buffer 0 | buffer 1 | ... | buffer n-1 |   size bytes each (default 64 KiB + 4 KiB,
///     +----------+----------+-----+------------+   so a maximal message never truncates)
///
/// Lifecycle of a buffer: the receive loop `acquire`s it (stalling when none is free),
/// `recvmsg` lands a datagram in it, decoded fragments point into it and each queued write
/// `retain`s it; the writer `release`s it after writing; the receive loop releases its own
/// reference after decoding. Thread-safe; the bookkeeping is `BufferPoolStateMachine`.
///
/// `@unchecked Sendable`, sound because `state` is touched only with `lock` held and a
/// buffer's bytes are written only by the thread that holds it acquired (the receive loop)
/// before any reader retains it.
public final class BufferPool: @unchecked Sendable {
    public let count: Int
    public let size: Int
    private let memory: UnsafeMutableRawPointer
    private let lock = ConditionLock()
    private var state: BufferPoolStateMachine

    public init(count: Int, size: Int, resumeAt: Int? = nil) {
        precondition(size >= 4096, "pool buffers must hold a netlink message")
        self.count = count
        self.size = size
        memory = UnsafeMutableRawPointer.allocate(byteCount: count * size, alignment: 4096)
        state = BufferPoolStateMachine(count: count, resumeAt: resumeAt)
    }

    deinit { memory.deallocate() }

    /// The bytes of buffer `index`. Valid while the caller holds a reference.
    @inline(__always)
    public func buffer(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: memory + index * size, count: size)
    }

    /// A free buffer, or nil if none became free before the monotonic `deadlineNs`
    /// (the reader is then stalled: it checks signals and timers and asks again).
    public func acquire(deadlineNs: UInt64) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        while true {
            let now = monotonicNanoseconds()
            switch state.acquire(now: now) {
            case let .use(index): return index
            case .stall:
                if now >= deadlineNs { return nil }
                lock.wait(untilNs: deadlineNs)
            }
        }
    }

    public func retain(_ index: Int) {
        lock.withLock { state.retain(index) }
    }

    /// The reader is done decoding buffer `index`: if no write points into it, keep it
    /// (returns `index`); else let the writes have it and take a free one, or nil (and the
    /// reader is stalled) when none is free. One lock round trip per datagram.
    public func exchange(_ index: Int) -> Int? {
        lock.withLock {
            if state.isUniquelyReferenced(index) { return index }
            _ = state.release(index, now: 0)  // still referenced by writes: frees nothing, wakes no one
            if case let .use(next) = state.acquire(now: monotonicNanoseconds()) { return next }
            return nil
        }
    }

    /// The batch form of `exchange`, one lock round trip for a whole `recvmmsg` batch: the
    /// reader holds `slots`; the first `used` of them were received into and decoded, and
    /// `retains[k]` writes point into `slots[k]`. Each used slot nothing points into is kept
    /// as is; the others are handed to their writes (the reader's reference is dropped).
    /// Then the slots are topped up with free buffers to `target` (fewer when the pool runs
    /// low: no stall is recorded while the reader still holds a buffer). When `slots` comes
    /// back empty the reader is out of buffers and must `acquire` (and stall) for one.
    /// O(`slots.count` + `target`).
    public func recycle(_ slots: inout [Int], used: Int, retains: [Int32], target: Int) {
        // One call into `state` per batch, not one per slot: each access to a stored
        // property of this class is a run-time exclusivity check.
        lock.withLock { state.recycle(&slots, used: used, retains: retains, target: target) }
    }

    /// Up to `target` buffers in `slots` (see `recycle`), one lock round trip.
    public func topUp(_ slots: inout [Int], target: Int) {
        lock.withLock { state.topUp(&slots, target: target) }
    }

    public func release(_ index: Int) {
        let action = lock.withLock { state.release(index, now: monotonicNanoseconds()) }
        switch action {
        case .none: break
        case .resumeReader: lock.broadcast()
        }
    }

    /// `release` of every buffer in `indices` (the writer's batch), one lock round trip.
    public func release(contentsOf indices: [Int]) {
        guard !indices.isEmpty else { return }
        let action = lock.withLock { state.release(contentsOf: indices, now: monotonicNanoseconds()) }
        switch action {
        case .none: break
        case .resumeReader: lock.broadcast()
        }
    }

    public struct Snapshot: Sendable {
        public var count: Int
        public var inUse: Int
        public var peakInUse: Int
        public var stalls: UInt64
        public var stalledNs: UInt64
        public var isStalled: Bool
    }

    public func snapshot() -> Snapshot {
        lock.withLock {
            Snapshot(
                count: state.count, inUse: state.inUse, peakInUse: state.peakInUse, stalls: state.stalls,
                stalledNs: state.stalledNs(now: monotonicNanoseconds()), isStalled: state.isStalled)
        }
    }
}

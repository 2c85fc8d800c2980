/// The buffer pool's bookkeeping, as a pure state machine (no memory, no locks, no clock):
/// which buffers are free, how many references each in-use buffer has, and whether the
/// receive loop is stalled. Methods return actions; `BufferPool` runs them after unlocking.
///
/// Watermarks (the backpressure contract):
///
///     in use:  0 ............................ count - resumeAt ......... count
///                                             ^ low watermark            ^ high watermark
///              reader resumes here (after a stall) ----+       reader stops here (pool empty)
///
/// - High watermark: every buffer is in use. `acquire` answers `.stall`; the receive loop
///   stops reading, the socket's queue fills and the sender blocks. Nothing is dropped.
/// - Low watermark: a stalled reader resumes only once `resumeAt` buffers are free again, so
///   a writer freeing one buffer at a time does not wake the reader for every message.
///
/// A buffer is referenced once by the receive loop while it decodes, and once by each write
/// that points into it; it is free again when the last reference is released.
/// Every method is O(1), but the batch forms (`recycle`, `topUp`, `release(contentsOf:)`),
/// O(the batch).
public struct BufferPoolStateMachine: Sendable {
    public enum AcquireAction: Equatable, Sendable {
        /// Receive into buffer `index` (its reference count is now 1).
        case use(Int)
        /// No buffer: stop reading and wait for `.resumeReader`.
        case stall
    }

    public enum ReleaseAction: Equatable, Sendable {
        case none
        /// The low watermark is reached: wake the stalled reader. `stalledNs` is how long it waited.
        case resumeReader(stalledNs: UInt64)
    }

    public let count: Int
    /// Free buffers needed before a stalled reader resumes (the low watermark), 1...count.
    public let resumeAt: Int
    private var free: [Int]
    private var references: [Int32]
    private var stalledSince: UInt64?
    /// Times the reader hit the high watermark.
    public private(set) var stalls: UInt64 = 0
    /// Total time spent stalled, finished stalls only (see `stalledNs(now:)`).
    public private(set) var finishedStallNs: UInt64 = 0
    /// The most buffers ever in use at once.
    public private(set) var peakInUse = 0

    public init(count: Int, resumeAt: Int? = nil) {
        precondition(count > 0, "a pool needs at least one buffer")
        self.count = count
        self.resumeAt = min(count, max(1, resumeAt ?? max(1, count / 4)))
        free = Array((0..<count).reversed())
        references = Array(repeating: 0, count: count)
    }

    public var inUse: Int { count - free.count }
    public var isStalled: Bool { stalledSince != nil }

    /// Total stall time including a stall in progress at `now`.
    public func stalledNs(now: UInt64) -> UInt64 {
        finishedStallNs + (stalledSince.map { now >= $0 ? now - $0 : 0 } ?? 0)
    }

    /// The reader wants a buffer to receive into.
    public mutating func acquire(now: UInt64) -> AcquireAction {
        if stalledSince != nil { return .stall }
        guard let index = free.popLast() else {
            stalledSince = now
            stalls += 1
            return .stall
        }
        references[index] = 1
        peakInUse = max(peakInUse, inUse)
        return .use(index)
    }

    /// A free buffer for a reader that already holds some (a `recvmmsg` batch topping up
    /// its slots): like `acquire`, but an empty pool is not a stall, only nil.
    public mutating func tryAcquire() -> Int? {
        if stalledSince != nil { return nil }
        guard let index = free.popLast() else { return nil }
        references[index] = 1
        peakInUse = max(peakInUse, inUse)
        return index
    }

    /// `count` more holders of `index` (writes that point into it).
    public mutating func retain(_ index: Int, count: Int32 = 1) {
        precondition(references[index] > 0, "retain of free buffer \(index)")
        references[index] += count
    }

    /// The state half of `BufferPool.recycle` (which documents it): the reader's `slots`,
    /// the first `used` of them decoded, `retains[k]` writes pointing into `slots[k]`. A used
    /// slot that writes point into goes to them (the reader's reference becomes theirs, so
    /// it cannot become free here); the rest are kept; then topped up to `target`.
    /// O(`slots.count` + `target`).
    public mutating func recycle(_ slots: inout [Int], used: Int, retains: [Int32], target: Int) {
        var kept = 0
        for k in 0..<slots.count {
            let index = slots[k]
            if k < used, retains[k] > 0 {
                retain(index, count: retains[k] - 1)  // the writes', less the reader's reference
                continue
            }
            slots[kept] = index
            kept += 1
        }
        slots.removeLast(slots.count - kept)
        topUp(&slots, target: target)
    }

    /// Free buffers into `slots` until it holds `target` (fewer when the pool runs low,
    /// without recording a stall: the reader still holds what it has).
    public mutating func topUp(_ slots: inout [Int], target: Int) {
        while slots.count < target, let next = tryAcquire() { slots.append(next) }
    }

    /// `release` of each of `indices` in turn; `.resumeReader` if one of them ended a stall.
    public mutating func release(contentsOf indices: [Int], now: @autoclosure () -> UInt64) -> ReleaseAction {
        var resumed = ReleaseAction.none
        for index in indices {
            let action = release(index, now: now())
            if case .resumeReader = action { resumed = action }
        }
        return resumed
    }

    /// True when only one holder (the reader) references `index`, so it may be reused as is.
    public func isUniquelyReferenced(_ index: Int) -> Bool { references[index] == 1 }

    /// A holder is done with `index`. `now` is read only when the release ends a stall (the
    /// writer releases every buffer: no clock reading per buffer).
    public mutating func release(_ index: Int, now: @autoclosure () -> UInt64) -> ReleaseAction {
        precondition(references[index] > 0, "release of free buffer \(index)")
        references[index] -= 1
        guard references[index] == 0 else { return .none }
        free.append(index)
        if let since = stalledSince, free.count >= resumeAt {
            let now = now()
            let stalled = now >= since ? now - since : 0
            finishedStallNs += stalled
            stalledSince = nil
            return .resumeReader(stalledNs: stalled)
        }
        return .none
    }
}

import CkptSystem
/// A queue between threads: producers `submit`, one consumer takes everything queued at once
/// (`take`), waiting while it is empty. What the image sink and the publisher hand work to
/// their threads through.
///
/// `@unchecked Sendable`, sound because every stored `var` is read and written only with
/// `lock` held.
final class WorkQueue<Item: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [Item] = []
    private var closed = false
    private var consumerWaiting = false

    init(capacity: Int = 0) {
        items.reserveCapacity(capacity)
    }

    /// Queues `item`. With `wake: false` the consumer sees it at the next `wake()` (or when it
    /// next looks): a producer batching many items wakes it once. Amortised O(1).
    func submit(_ item: Item, wake: Bool = true) {
        let signal = lock.withLock {
            items.append(item)
            return wake && consumerWaiting
        }
        if signal { lock.signal() }
    }

    /// Queues all of `batch` in order with one lock round trip and empties it (keeping its
    /// capacity). The consumer sees them at the next `wake()`. O(batch.count).
    func submit(contentsOf batch: inout [Item]) {
        guard !batch.isEmpty else { return }
        lock.withLock { items.append(contentsOf: batch) }
        batch.removeAll(keepingCapacity: true)
    }

    /// Wakes the consumer if it waits and something is queued.
    func wake() {
        let signal = lock.withLock { consumerWaiting && !items.isEmpty }
        if signal { lock.signal() }
    }

    /// After this, `take` returns false once the queue is empty.
    func close() {
        lock.withLock { closed = true }
        lock.signal()
    }

    /// Waits until something is queued (or the queue is closed and empty: returns false),
    /// then moves everything queued into `batch`, which must be empty. The two arrays swap
    /// storage, so neither side allocates per batch.
    func take(into batch: inout [Item]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while items.isEmpty {
            if closed { return false }
            consumerWaiting = true
            lock.wait()
            consumerWaiting = false
        }
        swap(&items, &batch)
        return true
    }
}

import CkptImage
import CkptProtocol
import CkptSystem

/// A bounded hand-off of record fragments from the image walk (reading the file and
/// checking each byte's CRC, on the caller's thread, but for data it leaves to the taker:
/// `Header.deferred`) to the sender thread (encoding and
/// sending each fragment, where the kernel checks and writes it): the two halves of a
/// restart run on two CPUs instead of taking turns on one.
///
/// ```
///  walk thread:   acquire ──> read data into the slot ──> publish ─┐
///                    ^                                              v
///                 free slots                                    ready slots (in order)
///                    ^                                              |
///  sender thread: release <── encode + send (the kernel checks) <── take
/// ```
///
/// Several sender threads may take from one pipe (`ProcessMemoryWriter`'s writers): each
/// published slot goes to exactly one of them, oldest first.
///
/// `capacity` slots of `maxData` bytes each: memory is bounded whatever the image size.
/// The sender reports a failure with `fail(_:)`; the walk's next `acquire()` throws it, so
/// neither side waits for the other forever.
///
/// `@unchecked Sendable`, sound because every mutable field is read and written only under
/// `lock`, and a slot's bytes are touched by one side at a time: by the walk between
/// `acquire()` and `publish`, by the sender between `take()` and `release(_:)` (a slot index
/// is in exactly one of the free list, the ready queue, or a side's hands). Data that is a
/// view of the mapped image is only read, by both sides.
final class FragmentPipe: @unchecked Sendable {
    /// What the sender needs to rebuild a fragment from a slot (its data is in the slot).
    struct Header {
        var type: RecordType
        var id: UInt32
        var parent: UInt32
        var dataLength: UInt64
        var dataOffset: UInt64
        /// The fragment's data: in the slot's buffer, or a view of the mapped image, which
        /// outlives the replay (the caller holds the reader until the sender is joined).
        var data: UnsafeRawBufferPointer
        var hasMeta: Bool
        /// Where the data goes in the process (`ProcessMemoryWriter`; unused by the kernel's
        /// replay, which sends the record's address in its meta).
        var address: UInt64 = 0
        /// Data the walk left unchecked (`FragmentDataCheck.deferred`): the taker checksums
        /// it as this chunk of this record's check.
        var deferred: (check: PendingRecordCheck, chunk: Int)? = nil
    }

    private let lock = ConditionLock()
    private let buffers: [UnsafeMutableRawBufferPointer]
    private var metas: [[UInt8]]
    private var headers: [Header?]
    private var free: [Int]
    private var ready: [Int] = []
    private var readyHead = 0
    private var closed = false
    private var failure: ReplayError?

    init(capacity: Int, maxData: Int) {
        precondition(capacity >= 1 && maxData >= 1)
        buffers = (0..<capacity).map { _ in .allocate(byteCount: maxData, alignment: 4096) }
        metas = Array(repeating: [], count: capacity)
        headers = Array(repeating: nil, count: capacity)
        free = Array((0..<capacity).reversed())
        ready.reserveCapacity(capacity)
    }

    deinit { for b in buffers { b.deallocate() } }

    /// Walk side: a free slot, waiting for one; throws the sender's failure instead.
    func acquire() throws(ReplayError) -> Int {
        lock.lock()
        defer { lock.unlock() }
        while free.isEmpty && failure == nil { lock.wait() }
        if let failure { throw failure }
        return free.removeLast()
    }

    /// The slot's data buffer (`maxData` bytes), for the walk to read into.
    func buffer(_ slot: Int) -> UnsafeMutableRawBufferPointer { buffers[slot] }

    /// Walk side: hands the slot to the sender; `meta` is copied (it is a view the walk
    /// reuses).
    func publish(_ slot: Int, _ header: Header, meta: UnsafeRawBufferPointer?) {
        lock.withLock {
            metas[slot].removeAll(keepingCapacity: true)
            if let meta { metas[slot].append(contentsOf: meta) }
            headers[slot] = header
            ready.append(slot)
        }
        lock.broadcast()
    }

    /// Walk side: no more fragments.
    func close() {
        lock.withLock { closed = true }
        lock.broadcast()
    }

    /// Sender side: the oldest published slot, waiting for one; nil when the walk closed
    /// the pipe and every slot was taken, or after `fail(_:)`.
    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        while readyHead == ready.count && !closed && failure == nil { lock.wait() }
        guard failure == nil, readyHead < ready.count else { return nil }
        let slot = ready[readyHead]
        readyHead += 1
        if readyHead == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyHead = 0
        }
        return slot
    }

    /// Sender side: calls `body` with the slot's fragment (crid and seq 0), valid only
    /// inside `body`.
    func withFragment<T>(_ slot: Int, _ body: (RecordFragment) throws -> T) rethrows -> T {
        let (h, meta) = lock.withLock { (headers[slot]!, metas[slot]) }
        return try meta.withUnsafeBytes { m in
            try body(RecordFragment(crid: 0, seq: 0, type: h.type, id: h.id, parent: h.parent, dataLength: h.dataLength,
                                    dataOffset: h.dataOffset, meta: h.hasMeta ? m : nil, data: h.data))
        }
    }

    /// Published slots no sender has taken yet.
    var queued: Int { lock.withLock { ready.count - readyHead } }

    /// Sender side: the slot's header (its data valid until the slot is released).
    func header(_ slot: Int) -> Header { lock.withLock { headers[slot]! } }

    /// Either side: the slot is free again (the walk frees a slot it fills with nothing to
    /// send).
    func release(_ slot: Int) {
        lock.withLock {
            headers[slot] = nil
            free.append(slot)
        }
        lock.broadcast()
    }

    /// Sender side: stop; the walk's next `acquire()` throws `error`.
    func fail(_ error: ReplayError) {
        lock.withLock { if failure == nil { failure = error } }
        lock.broadcast()
    }

    /// The sender's failure, if any.
    var failed: ReplayError? { lock.withLock { failure } }
}

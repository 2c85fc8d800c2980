#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCkptShims
import CkptProtocol
import CkptSystem
import SystemPackage

/// `ImageWriter(dataChecksums: .readBack)`'s helper: checksums complete records' data, read back
/// from the file (`FileRangeChecksum`), on a thread of its own at `SCHED_IDLE` while the
/// stream still arrives, so `finish` has little left to read. The writer hands it each
/// record once its bytes are in the file (`add`, after a flush); the data is cut into
/// chunks of at most `step` bytes, checked in order.
///
/// At `finish` the writer checks the chunks still open itself, beside the thread (which now
/// has the CPU the stopped stream left: two readers), then those the thread is inside: it
/// never waits for the thread, it reads such a chunk again. At `SCHED_IDLE` the thread
/// may get no CPU at all on a busy machine: then `finish` does it all, as without it. After
/// `finish` (or `cancel`) the thread ends at its next look at the chunks; it closes its own
/// descriptor (a `dup`, so the writer's caller may close theirs) and is detached.
///
/// What it checks is the file as it was when read: a byte changed in the file after that is
/// not seen by `finish` (it is by `ckpt verify`, in the record's CRC), as a byte changed
/// after the inline check is not.
///
/// `@unchecked Sendable`, sound because every `var` is read and written with `lock` held,
/// and the `let`s are set in `init`.
final class TrailingDataCheck: @unchecked Sendable {
    /// One record's data in the file.
    struct Span {
        var offset: UInt64
        var length: UInt64
    }

    /// At most `step` bytes of one span's data, and their CRC-32C once checked.
    private struct Chunk {
        var offset: UInt64
        var length: UInt64
        var crc: UInt32?
    }

    /// The largest chunk: what the thread reads between two looks at the chunks, and so the
    /// most `finish` reads again for a chunk the thread is inside.
    static let step: UInt64 = 1 << 20

    private let lock = ConditionLock()
    private let fd: FileDescriptor
    private let path: String
    private var chunks: [Chunk] = []
    /// Per span, its first chunk (a span of no data has none: the next span's first).
    private var firstChunk: [Int] = []
    /// The first chunk no reader has taken.
    private var next = 0
    private var ended = false
    /// Tests: called by the thread after each chunk it read, without the lock.
    private let afterStep: (@Sendable () -> Void)?

    /// Starts the thread, on a `dup` of `fd` (which must be open for reading). nil when there
    /// is no descriptor or thread to be had (`EMFILE`, a thread limit): the writer then checks
    /// everything at `finish`, as it would anyway. `startThread` is the tests' way to refuse.
    init?(fd: FileDescriptor, path: String, afterStep: (@Sendable () -> Void)? = nil,
          startThread: (@escaping @Sendable () -> Void) -> Bool = startDetachedThread) {
        guard let copy = try? fd.duplicate() else { return nil }
        self.fd = copy
        self.path = path
        self.afterStep = afterStep
        guard startThread({ [self] in run() }) else {
            try? copy.close()
            return nil
        }
    }

    /// Records whose data is now in the file, in record order.
    func add<S: Sequence>(_ more: S) where S.Element == Span {
        lock.withLock {
            for s in more {
                firstChunk.append(chunks.count)
                var at = s.offset
                while at < s.offset + s.length {
                    let n = min(Self.step, s.offset + s.length - at)
                    chunks.append(Chunk(offset: at, length: n))
                    at += n
                }
            }
            lock.signal()
        }
    }

    /// Checks every chunk the thread has not, on the calling thread through `fd`, first the
    /// ones no reader took, then the ones the thread is inside; ends the thread. Returns the
    /// data CRC of each span added, in order, and the bytes read here.
    func finish(_ fd: FileDescriptor) throws(ImageError) -> (spans: [CRC32C], bytesReadHere: UInt64) {
        var readHere: UInt64 = 0
        lock.lock()
        defer { lock.unlock() }
        while next < chunks.count {  // beside the thread, taking chunks in turn
            next += 1
            readHere += try check(next - 1, through: fd)
        }
        ended = true
        lock.signal()
        for i in chunks.indices where chunks[i].crc == nil {  // the thread is inside it: no waiting
            readHere += try check(i, through: fd)
        }
        var spans: [CRC32C] = []
        spans.reserveCapacity(firstChunk.count)
        for (n, first) in firstChunk.enumerated() {
            let end = n + 1 < firstChunk.count ? firstChunk[n + 1] : chunks.count
            var crc = CRC32C()
            for c in chunks[first..<end] { crc.append(crc: c.crc!, length: Int(c.length)) }
            spans.append(crc)
        }
        return (spans, readHere)
    }

    /// Chunk `i` read and its CRC set by the caller (lock held, released while reading; a
    /// result the thread set meanwhile is replaced by this one, of the same bytes read
    /// again). Returns the bytes read.
    private func check(_ i: Int, through fd: FileDescriptor) throws(ImageError) -> UInt64 {
        let c = chunks[i]
        lock.unlock()
        let crc = Result { () throws(ImageError) in try FileRangeChecksum.crc32c(fd, offset: c.offset, length: c.length, path: path) }
        lock.lock()
        chunks[i].crc = try crc.get()
        return c.length
    }

    /// Ends the thread without `finish` (a writer dropped unfinished).
    func cancel() {
        lock.withLock {
            ended = true
            lock.signal()
        }
    }

    private func run() {
        _ = ckpt_sched_idle_self()  // lowering its own priority needs no privilege
        defer { try? fd.close() }
        lock.lock()
        defer { lock.unlock() }
        while !ended {
            guard next < chunks.count else {
                lock.wait()
                continue
            }
            let i = next, c = chunks[i]
            next += 1
            lock.unlock()
            let crc = try? FileRangeChecksum.crc32c(fd, offset: c.offset, length: c.length, path: path)
            afterStep?()
            lock.lock()
            guard let crc else { return }  // `finish` reads it again and reports the error
            if chunks[i].crc == nil { chunks[i].crc = crc }  // else `finish` read it too
        }
    }
}

import Foundation
import CkptSystem
import XCTest
@testable import CkptListener

/// The pool's watermarks and backpressure, on the pure state machine and the locked pool.
final class BufferPoolTests: XCTestCase {
    func testAcquireUntilEmptyThenStall() {
        var pool = BufferPoolStateMachine(count: 3, resumeAt: 2)
        var used: [Int] = []
        for _ in 0..<3 {
            guard case let .use(i) = pool.acquire(now: 0) else { return XCTFail() }
            used.append(i)
        }
        XCTAssertEqual(Set(used).count, 3)
        XCTAssertEqual(pool.acquire(now: 10), .stall)
        XCTAssertEqual(pool.stalls, 1)
        XCTAssertTrue(pool.isStalled)
        // Below the low watermark: still stalled, even though a buffer is free.
        XCTAssertEqual(pool.release(used[0], now: 20), .none)
        XCTAssertEqual(pool.acquire(now: 25), .stall)
        XCTAssertEqual(pool.stalls, 1, "one stall, however often the reader asks")
        XCTAssertEqual(pool.stalledNs(now: 30), 20)
        // Low watermark reached: resume, and the stall time is accounted.
        XCTAssertEqual(pool.release(used[1], now: 50), .resumeReader(stalledNs: 40))
        XCTAssertFalse(pool.isStalled)
        XCTAssertEqual(pool.finishedStallNs, 40)
        guard case .use = pool.acquire(now: 60) else { return XCTFail() }
        XCTAssertEqual(pool.peakInUse, 3)
    }

    /// A freed buffer is the next one handed out, so a listener whose writer keeps up
    /// touches only the few buffers it cycles through, however large the pool
    /// (docs/listener.md, `--pool-buffers`).
    func testTheLastFreedBufferIsReusedFirst() {
        var pool = BufferPoolStateMachine(count: 512, resumeAt: 128)
        var touched = Set<Int>()
        for round in 0..<1000 {
            guard case let .use(a) = pool.acquire(now: UInt64(round)), case let .use(b) = pool.acquire(now: UInt64(round))
            else { return XCTFail("round \(round): no buffer") }
            touched.formUnion([a, b])
            _ = pool.release(b, now: UInt64(round))
            _ = pool.release(a, now: UInt64(round))
        }
        XCTAssertEqual(touched.count, 2, "two buffers in use at a time touched \(touched.count) of 512")
    }

    /// The writer releases every buffer it wrote; the clock is read only for the release that
    /// ends a stall (its length), not for each of them.
    func testTheClockIsReadOnlyWhenAReleaseEndsAStall() {
        var pool = BufferPoolStateMachine(count: 2, resumeAt: 1)
        var reads = 0
        func clock() -> UInt64 { reads += 1; return 70 }
        guard case let .use(a) = pool.acquire(now: 0), case let .use(b) = pool.acquire(now: 0) else { return XCTFail() }
        XCTAssertEqual(pool.release(a, now: clock()), .none)
        XCTAssertEqual(reads, 0, "a release without a stall read the clock")
        guard case let .use(c) = pool.acquire(now: 0) else { return XCTFail() }
        XCTAssertEqual(pool.acquire(now: 50), .stall)
        XCTAssertEqual(pool.release(b, now: clock()), .resumeReader(stalledNs: 20))
        XCTAssertEqual(reads, 1)
        _ = pool.release(c, now: clock())
        XCTAssertEqual(reads, 1)
    }

    func testBufferIsFreeOnlyAfterItsLastReference() {
        var pool = BufferPoolStateMachine(count: 1)
        guard case let .use(i) = pool.acquire(now: 0) else { return XCTFail() }
        XCTAssertTrue(pool.isUniquelyReferenced(i))
        pool.retain(i)
        pool.retain(i)
        XCTAssertFalse(pool.isUniquelyReferenced(i))
        XCTAssertEqual(pool.release(i, now: 0), .none)  // reader done
        XCTAssertEqual(pool.inUse, 1)
        XCTAssertEqual(pool.release(i, now: 0), .none)  // first write done
        XCTAssertEqual(pool.inUse, 1)
        XCTAssertEqual(pool.release(i, now: 0), .none)  // second write done: free, no stall to end
        XCTAssertEqual(pool.inUse, 0)
    }

    /// The writer's batch release: each buffer as `release` would, a buffer twice for two
    /// writes into it; a stall ended once, the clock read once for it.
    func testReleaseOfABatchEndsAStallOnceAndFreesABufferAtItsLastReference() {
        var pool = BufferPoolStateMachine(count: 3, resumeAt: 2)
        var reads = 0
        func clock() -> UInt64 { reads += 1; return 90 }
        guard case let .use(a) = pool.acquire(now: 0), case let .use(b) = pool.acquire(now: 0),
              case let .use(c) = pool.acquire(now: 0) else { return XCTFail() }
        pool.retain(a)  // a second write into a
        XCTAssertEqual(pool.acquire(now: 40), .stall)
        XCTAssertEqual(pool.release(contentsOf: [], now: clock()), .none)
        XCTAssertEqual(pool.release(contentsOf: [a, b], now: clock()), .none, "a still has a write: one free, below 2")
        XCTAssertEqual(reads, 0)
        XCTAssertEqual(pool.release(contentsOf: [a, c], now: clock()), .resumeReader(stalledNs: 50))
        XCTAssertEqual(reads, 1)
        XCTAssertEqual(pool.inUse, 0)
        XCTAssertFalse(pool.isStalled)
    }

    /// The locked form wakes a reader stalled in `acquire`.
    func testLockedBatchReleaseWakesTheStalledReader() {
        let pool = BufferPool(count: 2, size: 4096, resumeAt: 2)
        let a = pool.acquire(deadlineNs: .max)!
        let b = pool.acquire(deadlineNs: .max)!
        let releaser = JoinableThread {
            usleep(50_000)
            pool.release(contentsOf: [a, b])
        }
        let c = pool.acquire(deadlineNs: monotonicNanoseconds() + 5_000_000_000)
        releaser.join()
        XCTAssertNotNil(c)
        XCTAssertEqual(pool.snapshot().stalls, 1)
        pool.release(c!)
        XCTAssertEqual(pool.snapshot().inUse, 0)
    }

    func testDefaultLowWatermarkIsAQuarter() {
        XCTAssertEqual(BufferPoolStateMachine(count: 64).resumeAt, 16)
        XCTAssertEqual(BufferPoolStateMachine(count: 2).resumeAt, 1)
        XCTAssertEqual(BufferPoolStateMachine(count: 8, resumeAt: 100).resumeAt, 8)
    }

    func testLockedPoolBlocksTheReaderUntilAWriterReleases() {
        let pool = BufferPool(count: 2, size: 4096, resumeAt: 1)
        let a = pool.acquire(deadlineNs: .max)!
        let b = pool.acquire(deadlineNs: .max)!
        XCTAssertNil(pool.acquire(deadlineNs: monotonicNanoseconds() + 20_000_000), "times out while empty")
        let releaser = JoinableThread {
            usleep(50_000)
            pool.release(a)
        }
        let c = pool.acquire(deadlineNs: monotonicNanoseconds() + 5_000_000_000)
        releaser.join()
        XCTAssertEqual(c, a)
        let snapshot = pool.snapshot()
        XCTAssertEqual(snapshot.stalls, 1)
        XCTAssertGreaterThanOrEqual(snapshot.stalledNs, 40_000_000)
        pool.release(b)
        pool.release(c!)
        XCTAssertEqual(pool.snapshot().inUse, 0)
    }

    func testExchangeKeepsAnUnreferencedBufferAndHandsOverAReferencedOne() {
        let pool = BufferPool(count: 2, size: 4096, resumeAt: 1)
        let a = pool.acquire(deadlineNs: .max)!
        XCTAssertEqual(pool.exchange(a), a, "nothing points into it: reuse")
        pool.retain(a)  // a queued write
        let b = pool.exchange(a)!
        XCTAssertNotEqual(a, b)
        pool.retain(b)
        XCTAssertNil(pool.exchange(b), "both held by writes: the reader stalls")
        XCTAssertTrue(pool.snapshot().isStalled)
        pool.release(a)  // the writer finished: the reader may go on
        XCTAssertEqual(pool.acquire(deadlineNs: .max), a)
        XCTAssertEqual(pool.snapshot().stalls, 1)
    }

    /// The batch receive's bookkeeping: slots nothing points into stay with the reader, the
    /// others go to their writes, the slots are topped up without a stall, and only an
    /// empty pool leaves the reader with no slot.
    func testRecycleKeepsFreeSlotsHandsOverReferencedOnesAndTopsUp() {
        let pool = BufferPool(count: 4, size: 4096, resumeAt: 1)
        var slots: [Int] = []
        pool.topUp(&slots, target: 3)
        XCTAssertEqual(slots.count, 3)
        let (a, b, c) = (slots[0], slots[1], slots[2])
        // Two datagrams received: a has two writes, b none; c was not received into.
        pool.recycle(&slots, used: 2, retains: [2, 0, 0], target: 3)
        XCTAssertEqual(Set(slots).count, 3)
        XCTAssertFalse(slots.contains(a), "a belongs to its writes now")
        XCTAssertTrue(slots.contains(b) && slots.contains(c))
        XCTAssertEqual(pool.snapshot().inUse, 4)
        // Every slot handed over: the pool is empty, the reader gets none, no stall yet.
        pool.recycle(&slots, used: 3, retains: [1, 1, 1], target: 3)
        XCTAssertEqual(slots, [])
        XCTAssertFalse(pool.snapshot().isStalled)
        pool.release(a)
        XCTAssertEqual(pool.snapshot().inUse, 4, "a had two writes")
        pool.release(a)
        pool.topUp(&slots, target: 3)
        XCTAssertEqual(slots, [a])
    }
}

/// The operator's views: the stats file is valid JSON with the documented keys; the status line.
final class StatsTests: XCTestCase {
    func testStatsFileIsJSONWithTheDocumentedKeys() throws {
        var settled = SettledCounters()
        for failure in [StreamFailure(crid: 9, seq: 4, recordID: 2, rule: .sequenceGap(expected: 3, got: 4)),
                        StreamFailure(crid: 10, seq: 1, recordID: nil, rule: .aborted(reason: 1, message: "a \"quoted\"\nline"))] {
            settled.note(SettledStream(session: 1, crid: failure.crid, outcome: .failed(name: nil, failure), bytes: 0))
        }
        var stats = ListenerStats()
        stats.transport = "usersock port 7"
        stats.failed = settled.failed
        stats.failuresByRule = settled.failuresByRule
        stats.recentFailures = settled.recentFailures
        let object = try JSONSerialization.jsonObject(with: Data(stats.json().utf8)) as! [String: Any]
        XCTAssertEqual(Set(object.keys), ["state", "pid", "transport", "uptime_ms", "streams", "failures_by_rule",
                                          "recent_failures", "receive", "write", "pool"])
        XCTAssertEqual((object["streams"] as! [String: Int])["failed"], 2)
        XCTAssertEqual(object["failures_by_rule"] as! [String: Int], ["sequence-gap": 1, "aborted": 1])
        XCTAssertEqual((object["recent_failures"] as! [String]).last,
                       "crid 10 seq 1: aborted by the sender: SINK_GONE (the sink's socket closed): a \"quoted\"\nline")
    }

    func testStatusLine() {
        var stats = ListenerStats()
        stats.inFlight = 3
        stats.poolInUse = 12
        stats.poolBuffers = 64
        stats.stalls = 5
        stats.stalledNs = 1_200_000_000
        stats.completed = 12
        stats.failed = 1
        XCTAssertEqual(stats.statusLine(rate: 812_400_000),
                       "ckpt listen: 3 in flight | 812.4 MB/s | pool 12/64 | stalls 5 (1.2 s) | 12 done, 1 failed")
    }
}

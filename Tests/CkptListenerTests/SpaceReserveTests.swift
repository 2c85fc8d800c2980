#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import Foundation
import Logging
import Synchronization
import SystemPackage
import XCTest
@testable import CkptListener

/// `ckpt listen --reserve`: space allocated for the next image, taken by its stream, cut to
/// what the stream wrote.
final class SpaceReserveTests: XCTestCase {
    private let mib: UInt64 = 1 << 20

    func testTheTargetIsRoundedUpToAStepAndAtMostHalfTheFreeSpace() {
        let step = SpaceReserve.step
        XCTAssertEqual(SpaceReserve.target(1, have: 0, free: 1 << 40), step)
        XCTAssertEqual(SpaceReserve.target(step + 1, have: 0, free: 1 << 40), 2 * step)
        XCTAssertNil(SpaceReserve.target(step, have: step, free: 1 << 40), "what is there will do")
        XCTAssertEqual(SpaceReserve.target(100 * step, have: 0, free: 40 * step), 20 * step, "half the free space")
        XCTAssertEqual(SpaceReserve.target(100 * step, have: 8 * step, free: 32 * step), 20 * step, "the reserve counts as free")
        XCTAssertNil(SpaceReserve.target(100 * step, have: 0, free: step + step / 2), "less than a step")
        XCTAssertEqual(SpaceReserve.target(UInt64.max, have: 0, free: 64 * step), 32 * step, "a huge --reserve")
    }

    /// With a spool limit the reserve stays below the spool's room, in whole steps.
    func testWithASpoolRoomTheTargetStaysBelowIt() {
        let step = SpaceReserve.step
        XCTAssertEqual(SpaceReserve.target(10 * step, have: 0, free: 1 << 40, room: 4 * step + 1), 4 * step)
        XCTAssertEqual(SpaceReserve.target(10 * step, have: 0, free: 1 << 40, room: 4 * step), 3 * step,
                       "never the whole room: the spool would count as full with nothing to upload")
        XCTAssertNil(SpaceReserve.target(10 * step, have: 0, free: 1 << 40, room: step), "less than a step")
        XCTAssertNil(SpaceReserve.target(10 * step, have: 0, free: 1 << 40, room: 0))
        XCTAssertEqual(SpaceReserve.target(2 * step, have: 0, free: 1 << 40, room: 100 * step), 2 * step, "room to spare")
        XCTAssertEqual(SpaceReserve.target(10 * step, have: 0, free: 8 * step, room: 100 * step), 4 * step,
                       "half the free space still")
    }

    /// `--store-spool-max`: the listener makes the reserve below the spool's room and counts
    /// it in the spool it reports to the uploader.
    func testWithASpoolLimitTheReserveStaysBelowTheRoomAndCountsInTheSpool() throws {
        let step = SpaceReserve.step
        let seen = SpoolProbe()
        let harness = try ListenerHarness {
            $0.exitAfter = 1
            $0.reserve = .bytes(8 * step)
            $0.spoolRoom = { 3 * step }
            $0.spoolFull = { seen.last.store($0, ordering: .relaxed); return false }
        }
        harness.start()
        try waitFor { reserveSize(harness) >= 2 * step && seen.last.load(ordering: .relaxed) >= 2 * step }
        XCTAssertLessThan(reserveSize(harness), 3 * step, "below the room")
        TestSender().send(EncodedStream(crid: 91).messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 1)
        assertImage(harness.directory + "/91.ckpt", matches: EncodedStream(crid: 91))
    }

    func testAReserveIsMadeWholeTakenOnceAndLeavesNothingWhenStopped() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        XCTAssertEqual(directory.makeReserve(bytes: 3 * mib, step: mib, stop: { false }), .made)
        XCTAssertGreaterThanOrEqual(directory.reserveBytes(), 3 * mib, "allocated, not sparse")
        let first = try directory.createPartial(crid: 5, fromReserve: true)
        XCTAssertTrue(first.reserved)
        XCTAssertEqual(directory.reserveBytes(), 0, "taken: renamed to the partial")
        XCTAssertEqual(lseek(first.fd, 0, SEEK_END), 0, "empty: its blocks lie past its end")
        XCTAssertGreaterThanOrEqual(allocatedBytes(first.fd), 3 * mib)
        let second = try directory.createPartial(crid: 5, fromReserve: true)
        XCTAssertFalse(second.reserved)
        XCTAssertEqual(second.name, "5-1.partial")
        // Written into; what it did not fill is freed, its bytes unchanged.
        XCTAssertEqual(write(first.fd, "abc", 3), 3)
        ImageDirectory.releaseSurplus(first.fd)
        XCTAssertEqual(lseek(first.fd, 0, SEEK_END), 3)
        XCTAssertLessThan(allocatedBytes(first.fd), mib)
        var back = [UInt8](repeating: 0, count: 3)
        XCTAssertEqual(pread(first.fd, &back, 3, 0), 3)
        XCTAssertEqual(back, Array("abc".utf8))
        Syscall.close(first.fd)
        Syscall.close(second.fd)
        var steps = 0
        XCTAssertEqual(directory.makeReserve(bytes: 4 * mib, step: mib, stop: { steps += 1; return steps > 2 }), .stopped)
        XCTAssertEqual(directory.reserveBytes(), 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix(".ckpt-reserve") }
        XCTAssertEqual(left, [], "a stopped reserve leaves no file")
    }

    /// The second stream is written into the reserve the first one's image left sized for
    /// it; its image ends where its trailer ends (the reader finds it complete and equal),
    /// and the reserve's blocks it did not fill are freed.
    func testAnImageWrittenIntoTheReserveIsItsBytesAlone() throws {
        let harness = try ListenerHarness { $0.exitAfter = 2; $0.reserve = .auto }
        harness.start()
        let first = EncodedStream(crid: 61)
        TestSender().send(first.messages, to: harness.port)
        try waitFor { harness.files().contains("61.ckpt") && reserveSize(harness) >= SpaceReserve.step }
        var reserveFile = stat()
        XCTAssertEqual(stat(harness.directory + "/" + SpaceReserve.fileName, &reserveFile), 0)
        let second = EncodedStream(crid: 62, runs: 3, pagesPerRun: 16)
        TestSender().send(second.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 2, "\(outcome.stats.recentFailures)")
        XCTAssertEqual(harness.files(), ["61.ckpt", "62.ckpt"])
        assertImage(harness.directory + "/61.ckpt", matches: first)
        assertImage(harness.directory + "/62.ckpt", matches: second)
        var imageFile = stat()
        XCTAssertEqual(stat(harness.directory + "/62.ckpt", &imageFile), 0)
        XCTAssertEqual(imageFile.st_ino, reserveFile.st_ino, "the second image is the reserve's file")
        XCTAssertLessThan(harness.size("62.ckpt") ?? 0, Int(SpaceReserve.step))
        let image = open(harness.directory + "/62.ckpt", O_RDONLY)
        defer { close(image) }
        XCTAssertLessThan(allocatedBytes(image), SpaceReserve.step / 2, "the unfilled reserve freed")
        XCTAssertEqual(reserveSize(harness), 0, "removed when the listener stops")
    }

    /// A failed stream written into the reserve keeps exactly what it would have kept
    /// without one (its complete records), and not the reserve's unfilled blocks.
    func testAFailedStreamOverTheReserveKeepsOnlyItsBytes() throws {
        var sizes: [ReservePolicy: Int] = [:]
        for policy in [ReservePolicy.off, .bytes(SpaceReserve.step)] {
            let harness = try ListenerHarness { $0.exitAfter = 1; $0.reserve = policy }
            harness.start()
            if policy != .off { try waitFor { reserveSize(harness) >= SpaceReserve.step } }
            var broken = EncodedStream(crid: 71)
            broken.messages.remove(at: 9)
            TestSender().send(broken.messages, to: harness.port)
            let outcome = try XCTUnwrap(harness.wait())
            XCTAssertEqual(outcome.stats.failuresByRule, ["sequence-gap": 1], "\(policy)")
            sizes[policy] = harness.size("71.failed")
            let kept = open(harness.directory + "/71.failed", O_RDONLY)
            XCTAssertLessThan(allocatedBytes(kept), SpaceReserve.step / 2, "\(policy)")
            close(kept)
        }
        XCTAssertNotNil(sizes[.off])
        XCTAssertGreaterThan(sizes[.off] ?? 0, 0)
        XCTAssertEqual(sizes[.bytes(SpaceReserve.step)], sizes[.off])
    }

    /// Only what the listener makes is taken as a reserve: a `.ckpt-reserve` that is a
    /// symlink, a FIFO or a file with bytes is not written into (nor is a symlink's target).
    func testAForeignReserveFileIsNotWrittenInto() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        let reserve = path + "/" + SpaceReserve.fileName
        let target = path + "/elsewhere"
        XCTAssertTrue(FileManager.default.createFile(atPath: target, contents: Data("keep".utf8)))
        XCTAssertEqual(symlink(target, reserve), 0)
        let first = try directory.createPartial(crid: 1, fromReserve: true)
        XCTAssertFalse(first.reserved)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "keep")
        XCTAssertEqual(mkfifo(reserve, 0o600), 0)
        let second = try directory.createPartial(crid: 2, fromReserve: true)  // must not block on the FIFO
        XCTAssertFalse(second.reserved)
        XCTAssertTrue(FileManager.default.createFile(atPath: reserve, contents: Data("bytes".utf8)))
        let third = try directory.createPartial(crid: 3, fromReserve: true)
        XCTAssertFalse(third.reserved)
        for made in [first, second, third] {
            XCTAssertEqual(lseek(made.fd, 0, SEEK_END), 0, made.name)
            var st = stat()
            XCTAssertEqual(fstat(made.fd, &st), 0)
            XCTAssertEqual(st.st_mode & S_IFMT, S_IFREG, made.name)
            Syscall.close(made.fd)
        }
    }

    /// A `.partial` a killed listener was writing into a reserve: marked failed at the next
    /// start, without the reserve's unfilled blocks.
    func testALeftoverWrittenIntoAReserveIsReleasedAtStart() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        XCTAssertEqual(directory.makeReserve(bytes: 4 * mib, step: mib, stop: { false }), .made)
        let partial = try directory.createPartial(crid: 9, fromReserve: true)
        XCTAssertTrue(partial.reserved)
        XCTAssertEqual(write(partial.fd, "half an image", 13), 13)
        Syscall.close(partial.fd)
        _ = LeftoverRecovery(directory: directory, logger: Logger(label: "test"), onPublished: nil).run()
        let kept = open(path + "/9.failed", O_RDONLY)
        defer { close(kept) }
        XCTAssertEqual(lseek(kept, 0, SEEK_END), 13)
        XCTAssertLessThan(allocatedBytes(kept), mib)
    }

    /// A stream in flight when the reserve is made cannot take it, and uploads cannot drain
    /// it: when the two would fill the spool's room, the reserve is dropped and the stream goes
    /// on (it was held until abandoned).
    func testAReserveInTheWayOfAStreamInFlightIsDropped() throws {
        let step = SpaceReserve.step
        let room = step + (2 << 20)
        let harness = try ListenerHarness {
            $0.exitAfter = 2
            $0.reserve = .auto
            $0.streamTimeoutNs = 2_000_000_000
            $0.spoolRoom = { room }
            $0.spoolFull = { $0 >= room }
        }
        harness.start()
        let inFlight = EncodedStream(crid: 101, runs: 4, pagesPerRun: 256)  // 4 MiB of pages
        TestSender().send(Array(inFlight.messages.prefix(3)), to: harness.port)
        let small = EncodedStream(crid: 102)
        TestSender().send(small.messages, to: harness.port)
        try waitFor { harness.files().contains("102.ckpt") && reserveSize(harness) >= step }
        usleep(300_000)  // the listener looks at the reserve once a tick (100 ms)
        TestSender().send(Array(inFlight.messages.dropFirst(3)), to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 2, "\(outcome.stats.recentFailures)")
        assertImage(harness.directory + "/101.ckpt", matches: inFlight)
    }

    /// A larger reserve replaces a smaller one only after that one is gone: both at once
    /// could take most of the free space.
    func testASmallerReserveIsRemovedBeforeALargerOneIsMade() throws {
        let directory = try ImageDirectory(path: try makeTemporaryDirectory())
        XCTAssertEqual(directory.makeReserve(bytes: SpaceReserve.step, step: SpaceReserve.step, stop: { false }), .made)
        let heldWhenMaking = SpoolProbe()
        heldWhenMaking.last.store(.max, ordering: .relaxed)
        let reserve = SpaceReserve(policy: .auto, directory: directory, logger: Logger(label: "test"), makeReserve: { bytes, step, stop in
            heldWhenMaking.last.store(directory.reserveBytes(includingHalfMade: true), ordering: .relaxed)
            return directory.makeReserve(bytes: bytes, step: step, stop: stop)
        })
        reserve.start()  // removes a reserve left from before: make it again
        XCTAssertEqual(directory.makeReserve(bytes: SpaceReserve.step, step: SpaceReserve.step, stop: { false }), .made)
        reserve.request(imageBytes: 3 * SpaceReserve.step)
        try waitFor { directory.reserveBytes() >= 3 * SpaceReserve.step }
        XCTAssertEqual(heldWhenMaking.last.load(ordering: .relaxed), 0)
        reserve.stop()
    }

    /// A failed stream that took the reserve leaves none: it is made again for the next one.
    func testAReserveAFailedStreamTookIsMadeAgain() throws {
        let harness = try ListenerHarness { $0.exitAfter = 2; $0.reserve = .bytes(SpaceReserve.step) }
        harness.start()
        try waitFor { reserveSize(harness) >= SpaceReserve.step }
        var broken = EncodedStream(crid: 111)
        broken.messages.remove(at: 9)
        TestSender().send(broken.messages, to: harness.port)
        try waitFor { harness.files().contains("111.failed") && reserveSize(harness) >= SpaceReserve.step }
        TestSender().send(EncodedStream(crid: 112).messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 1)
        XCTAssertEqual(outcome.stats.failuresByRule, ["sequence-gap": 1])
    }

    /// A file system that cannot allocate ahead: one attempt, then none for the listener's life.
    func testAFileSystemWithoutFallocateIsTriedOnce() throws {
        let directory = try ImageDirectory(path: try makeTemporaryDirectory())
        let attempts = SpoolProbe()
        let reserve = SpaceReserve(policy: .auto, directory: directory, logger: Logger(label: "test"), makeReserve: { _, _, _ in
            attempts.last.add(1, ordering: .relaxed)
            return .failed(Errno(rawValue: EOPNOTSUPP))
        })
        reserve.start()
        defer { reserve.stop() }
        reserve.request(imageBytes: 20 * mib)
        try waitFor { attempts.last.load(ordering: .relaxed) == 1 }
        for n in 1...3 {
            reserve.request(imageBytes: UInt64(n) * 40 * mib)
            usleep(50_000)
        }
        XCTAssertEqual(attempts.last.load(ordering: .relaxed), 1)
        XCTAssertEqual(reserve.allocatedBytes(), 0)
    }

    func testNoReserveIsMadeWhenOff() throws {
        let harness = try ListenerHarness { $0.exitAfter = 1; $0.reserve = .off }
        harness.start()
        TestSender().send(EncodedStream(crid: 81).messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 1)
        XCTAssertEqual(reserveSize(harness), 0)
        XCTAssertEqual(outcome.stats.reservedBytes, 0)
    }
}

/// A number tests read from another thread: the unsettled bytes the listener last reported
/// to its spool check, or attempts counted.
private final class SpoolProbe: Sendable {
    let last = Atomic<UInt64>(0)
}

private func reserveSize(_ harness: ListenerHarness) -> UInt64 {
    (try? ImageDirectory(path: harness.directory).reserveBytes()) ?? 0
}

private func allocatedBytes(_ fd: Int32) -> UInt64 {
    var st = stat()
    guard fstat(fd, &st) == 0 else { return 0 }
    return UInt64(st.st_blocks) * 512
}

#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptInject
import Foundation
import CkptTestSupport
import XCTest

/// The real listener on a 2 MiB tmpfs. CkptListenerTests cover one stream too big for the
/// disk, a vanished directory and a writer that gets EACCES, in-process. These extend them
/// to the executable, to concurrent streams filling the disk mid-capture, and to a
/// directory that turns read-only (EROFS) under a running listener and back.
final class DiskTests: XCTestCase {
    private var mountPoint: String?
    private var listener: ListenerProcess?

    override func tearDown() {
        listener?.kill9()
        listener = nil
        if let mountPoint {
            _ = umount2(mountPoint, Int32(MNT_DETACH))
            rmdir(mountPoint)
        }
    }

    private func mountTmpfs() throws -> String {
        let directory = try makeTemporaryDirectory("tmpfs")
        guard mount("tmpfs", directory, "tmpfs", 0, "size=2m,mode=0700") == 0 else {
            rmdir(directory)
            throw XCTSkip("cannot mount a tmpfs here (errno \(errno)); needs root")
        }
        mountPoint = directory
        return directory
    }

    private func streams(seed: UInt64, count: Int, pages: Int, crid: UInt64) -> InjectRun {
        var p = InjectPlan()
        p.seed = seed
        p.streams = count
        p.firstCrid = crid
        p.shape = StreamShape(threads: 1, vmas: 2, pages: pages, files: 1, fragmentSize: 16_000)
        return InjectRun(plan: p)
    }

    func testConcurrentStreamsFillingTheDiskFailOnlyThemselvesAndNothingBadLooksComplete() throws {
        let directory = try mountTmpfs()
        let listener = try ListenerProcess(directory: directory, arguments: ["--stream-timeout", "2"], logName: "diskfull")
        self.listener = listener
        // Five concurrent streams of ~600 KiB into 2 MiB: some fit, the rest hit ENOSPC mid-record.
        let full = streams(seed: 31, count: 5, pages: 150, crid: 61_000)
        try full.send(toPort: listener.port)
        try waitFor("every stream settled or refused: \(files(in: directory)) \(listener.log.suffix(3000))") {
            full.streams.allSatisfy { p in
                isSettled(p, in: directory)
                    || listener.log.split(separator: "\n").contains { $0.contains("crid=\(p.stream.crid) ") && $0.contains("failed") }
            }
        }
        var complete = 0, failed = 0, reasonlessFailures = 0
        for p in full.streams {
            let c = p.stream.crid
            if FileManager.default.fileExists(atPath: directory + "/\(c).ckpt") {
                XCTAssertNil(captureDifference(directory + "/\(c).ckpt", p.stream))
                complete += 1
            } else {
                failed += 1
                if FileManager.default.fileExists(atPath: directory + "/\(c).failed") {
                    XCTAssertThrowsError(try verifyImage(path: directory + "/\(c).failed"))
                    let reason = ListenerProcess.read(directory + "/\(c).failed.reason")
                    let logged = listener.log.split(separator: "\n").filter { $0.contains("crid=\(c) ") && $0.contains("stream failed") }
                    if reason.isEmpty {
                        // The reserve buys one reason file; the others are then only in the
                        // log and the stats (docs/listener.md). Reported to the lead.
                        XCTAssertTrue(logged.contains { $0.contains("rule=io") && $0.contains("ENOSPC") && $0.contains("keep-error") },
                                      "crid \(c): no reason file and no logged reason: \(logged)")
                        reasonlessFailures += 1
                    } else {
                        XCTAssertTrue(reason.hasPrefix("crid \(c) ") && reason.contains("io: ") && reason.contains("ENOSPC"), reason)
                    }
                }
            }
        }
        print("disk full: \(complete) complete, \(failed) failed (\(reasonlessFailures) with the reason only in the log)")
        XCTAssertGreaterThan(failed, 0, "the disk never filled: \(files(in: directory))")
        XCTAssertGreaterThan(complete, 0)
        XCTAssertTrue(listener.isRunning)

        // The operator makes room; the same listener captures the next stream.
        for name in files(in: directory) where name.hasSuffix(".ckpt") || name.contains(".failed") {
            unlink(directory + "/" + name)
        }
        let next = streams(seed: 32, count: 1, pages: 64, crid: 62_000)
        try next.send(toPort: listener.port)
        try waitFor("stream after space was freed") { FileManager.default.fileExists(atPath: directory + "/62000.ckpt") }
        XCTAssertNil(captureDifference(directory + "/62000.ckpt", next.streams[0].stream))
        XCTAssertEqual(listener.stop(), 0)
    }

    func testDirectoryTurnedReadOnlyFailsNewStreamsAndRecoversWhenWritableAgain() throws {
        let directory = try mountTmpfs()
        let listener = try ListenerProcess(directory: directory, arguments: ["--stream-timeout", "2"], logName: "readonly")
        self.listener = listener
        let before = streams(seed: 41, count: 1, pages: 8, crid: 63_000)
        try before.send(toPort: listener.port)
        try waitFor("first image") { FileManager.default.fileExists(atPath: directory + "/63000.ckpt") }

        XCTAssertEqual(mount("tmpfs", directory, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), "size=2m,mode=0700"), 0, "remount ro: errno \(errno)")
        let refused = streams(seed: 42, count: 2, pages: 8, crid: 63_100)
        try refused.send(toPort: listener.port)
        try waitFor("read-only refusals logged") {
            refused.streams.allSatisfy { p in
                listener.log.split(separator: "\n").contains { $0.contains("crid=\(p.stream.crid) ") && $0.contains("EROFS") }
            }
        }
        XCTAssertTrue(listener.isRunning)
        XCTAssertFalse(files(in: directory).contains { $0.hasPrefix("631") }, "nothing can be written to a read-only directory")

        XCTAssertEqual(mount("tmpfs", directory, "tmpfs", UInt(MS_REMOUNT), "size=2m,mode=0700"), 0, "remount rw: errno \(errno)")
        let after = streams(seed: 43, count: 2, pages: 8, crid: 63_200)
        try after.send(toPort: listener.port)
        try waitFor("images after the directory is writable again") {
            after.streams.allSatisfy { FileManager.default.fileExists(atPath: directory + "/\($0.stream.crid).ckpt") }
        }
        for p in after.streams { XCTAssertNil(captureDifference(directory + "/\(p.stream.crid).ckpt", p.stream)) }
        XCTAssertNil(captureDifference(directory + "/63000.ckpt", before.streams[0].stream), "the earlier image is untouched")
        XCTAssertEqual(listener.stop(), 0)
    }
}

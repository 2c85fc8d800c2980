#if canImport(Glibc)
import Glibc
#endif
@testable import CkptCLI
import Foundation
import XCTest

/// `ckpt checkpoint --wait`'s look for the published image, as a listener publishes it:
/// written as `.partial`, renamed to `.ckpt` (or `.failed`), and with `--store` deleted once
/// the store has it.
final class PublishedImageWatchTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ckpt-watch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Publishes NAME the listener's way: `.partial`, then a rename.
    func publish(_ stem: String, as ext: String) {
        let partial = "\(dir)/\(stem).partial"
        XCTAssertTrue(FileManager.default.createFile(atPath: partial, contents: Data("image".utf8)))
        XCTAssertEqual(rename(partial, "\(dir)/\(stem)\(ext)"), 0)
    }

    func look(_ watch: PublishedImageWatch, _ crid: UInt64) throws -> PublishedImageWatch.Found? {
        try watch.look(crid: crid).get()
    }

    func testAnImagePublishedAndRemovedBeforeTheFirstLookIsFound() throws {
        let watch = try PublishedImageWatch(directory: dir)
        XCTAssertNil(watch.watchError)
        publish("8", as: ".ckpt")
        XCTAssertEqual(unlink("\(dir)/8.ckpt"), 0)  // the store has it: the listener's copy goes
        XCTAssertEqual(try look(watch, 8), .image(name: "8.ckpt", present: false))
    }

    func testAnImageStillThereIsPresent() throws {
        let watch = try PublishedImageWatch(directory: dir)
        XCTAssertNil(try look(watch, 8))
        publish("8-1", as: ".ckpt")
        publish("80", as: ".ckpt")  // another crid's
        XCTAssertEqual(try look(watch, 8), .image(name: "8-1.ckpt", present: true))
        XCTAssertNil(try look(watch, 9))
    }

    func testNamesFromBeforeTheWatchAreAnEarlierStream() throws {
        publish("8", as: ".ckpt")
        publish("9", as: ".failed")
        let watch = try PublishedImageWatch(directory: dir)
        XCTAssertNil(try look(watch, 8))
        XCTAssertNil(try look(watch, 9))
        publish("8-1", as: ".ckpt")  // the listener's name for crid 8 when 8.ckpt is taken
        XCTAssertEqual(try look(watch, 8), .image(name: "8-1.ckpt", present: true))
    }

    func testAFailedStream() throws {
        let watch = try PublishedImageWatch(directory: dir)
        publish("8", as: ".failed")
        XCTAssertEqual(try look(watch, 8), .failed(name: "8.failed"))
    }

    /// `--wait` sleeps on the watch: a rename into DIR ends the sleep long before its
    /// timeout (a waiter that only slept the timeout would return false after 5 s).
    func testThePublishingRenameWakesTheWaiter() throws {
        let watch = try PublishedImageWatch(directory: dir)
        XCTAssertNil(try look(watch, 8))
        let publisher = Thread { [dir] in
            usleep(100_000)
            let partial = "\(dir)/8.partial"
            _ = FileManager.default.createFile(atPath: partial, contents: Data("image".utf8))  // failing, the look below fails
            rename(partial, "\(dir)/8.ckpt")
        }
        let started = Date()
        publisher.start()
        // The .partial's creation may wake it first: look, and wait again, as the command does.
        while try look(watch, 8) == nil, Date().timeIntervalSince(started) < 5 {
            XCTAssertTrue(watch.waitForChange(milliseconds: 5000), "no event within 5 s")
        }
        XCTAssertEqual(try look(watch, 8), .image(name: "8.ckpt", present: true))
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }

    func testNothingPublishedWaitsOutItsTime() throws {
        let watch = try PublishedImageWatch(directory: dir)
        let started = Date()
        XCTAssertFalse(watch.waitForChange(milliseconds: 50))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.045)
    }

    func testAMissingDirectoryIsAnError() {
        XCTAssertThrowsError(try PublishedImageWatch(directory: dir + "/nonexistent"))
    }
}

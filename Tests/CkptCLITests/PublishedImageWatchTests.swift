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

    func testAMissingDirectoryIsAnError() {
        XCTAssertThrowsError(try PublishedImageWatch(directory: dir + "/nonexistent"))
    }
}

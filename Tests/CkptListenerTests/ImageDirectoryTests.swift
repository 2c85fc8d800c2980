#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import CkptListener

/// Names in the image directory: never overwrite, next free `<crid>-N`, leftovers found.
final class ImageDirectoryTests: XCTestCase {
    func testNamesNeverCollide() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        let first = try directory.createPartial(crid: 7)
        let second = try directory.createPartial(crid: 7)
        close(first.fd)
        close(second.fd)
        XCTAssertEqual([first.name, second.name], ["7.partial", "7-1.partial"])
        XCTAssertEqual(try directory.partialFiles(), ["7-1.partial", "7.partial"])
        _ = FileManager.default.createFile(atPath: path + "/7.failed", contents: Data("older".utf8))
        XCTAssertEqual(try directory.moveToFreeName("7.partial", crid: 7, ext: "failed"), "7-1.failed")
        XCTAssertEqual(try directory.moveToFreeName("7-1.partial", crid: 7, ext: "ckpt"), "7.ckpt")
        XCTAssertEqual(try String(contentsOfFile: path + "/7.failed", encoding: .utf8), "older")
        XCTAssertEqual(try directory.partialFiles(), [])
    }

    func testCridOfName() {
        XCTAssertEqual(ImageDirectory.crid(ofName: "42.partial"), 42)
        XCTAssertEqual(ImageDirectory.crid(ofName: "42-3.failed"), 42)
        XCTAssertNil(ImageDirectory.crid(ofName: "notes.partial"))
    }

    func testMissingDirectoryIsATypedError() {
        XCTAssertThrowsError(try ImageDirectory(path: "/nonexistent/ckpt")) { error in
            let e = error as? ListenerFileError
            XCTAssertEqual(e?.errno, .noSuchFileOrDirectory)
            XCTAssertEqual(e?.description, "open directory /nonexistent/ckpt: No such file or directory (ENOENT)")
        }
    }

    func testStatsFileIsReplacedWhole() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        try directory.replaceFile(".ckpt-listen.stats", contents: "{\"a\": 1}\n")
        try directory.replaceFile(".ckpt-listen.stats", contents: "{}\n")
        XCTAssertEqual(try String(contentsOfFile: path + "/.ckpt-listen.stats", encoding: .utf8), "{}\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/.ckpt-listen.stats.tmp"))
    }
}

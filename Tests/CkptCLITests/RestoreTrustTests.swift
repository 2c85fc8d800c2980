#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `ckpt restore` as root refuses an image file someone else could have written, before
/// reading it (docs/restore.md, "Who may restore what").
final class RestoreTrustTests: XCTestCase {
    func testRootRefusesAnImageFileAnotherUserCouldHaveWritten() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root: the check applies to privileged restorers only")
        let dir = try makeTemporaryDirectory()
        let notAnImage = Array("not an image, but the check comes first".utf8)
        let theirs = dir + "/theirs.ckpt", open = dir + "/open.ckpt", mine = dir + "/mine.ckpt"
        for path in [theirs, open, mine] { writeBytes(path, notAnImage) }
        XCTAssertEqual(chown(theirs, 65534, 65534), 0)
        XCTAssertEqual(chmod(theirs, 0o600), 0)
        XCTAssertEqual(chmod(open, 0o666), 0)
        XCTAssertEqual(chmod(mine, 0o600), 0)
        let a = try ckpt(["restore", theirs])
        XCTAssertEqual(a.status, 1, a.all)
        XCTAssertTrue(a.stderr.contains("refused: it is owned by uid 65534"), a.all)
        let b = try ckpt(["restore", open])
        XCTAssertEqual(b.status, 1, b.all)
        XCTAssertTrue(b.stderr.contains("writable by group or others"), b.all)
        // Root's own file passes the check and fails as what it is: not an image (65).
        let c = try ckpt(["restore", mine])
        XCTAssertEqual(c.status, 65, c.all)
        XCTAssertFalse(c.stderr.contains("refused"), c.all)
    }
}

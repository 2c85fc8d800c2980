#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptImage
import CkptProtocol
@testable import CkptRestore
import Foundation
import XCTest

/// An open file another user's tree shares, opened in the tree's root stub with that user's
/// rights (`TreeEnds.open`), in real stubs.
extension RemoteSyscallsTests {
    /// The root stub (another user's process, uid 65534) opens the user's file at its
    /// position with its flags; a child forked after holds the same open file (one offset);
    /// a file only root may open, not the one the image held, is refused, not opened with
    /// the restorer's rights.
    func testAnotherUsersSharedFileIsOpenedWithTheirRights() throws {
        let dir = NSTemporaryDirectory() + "ckpt-shared-as-user-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let theirs = dir + "/app.log", roots = dir + "/secret"
        XCTAssertTrue(FileManager.default.createFile(atPath: theirs, contents: Data("0123456789".utf8)))
        XCTAssertTrue(FileManager.default.createFile(atPath: roots, contents: Data("x".utf8)))
        XCTAssertEqual(chown(theirs, 65534, 65534), 0)
        XCTAssertEqual(chmod(theirs, 0o600), 0)
        XCTAssertEqual(chmod(roots, 0o600), 0)

        let builder = TreePlanTests()
        let (image, p1) = try builder.image(10, parent: 1, uid: 65534)
        defer { unlink(p1) }
        let plan = try RestorePlan(image, shellJob: false)
        XCTAssertFalse(plan.task.idsAreTheRestorers)
        let restorer = Restorer(plan: plan, reader: image, replayer: nil, options: .init(pids: .new, memory: .process))
        let root = try restorer.start(step: { _ in })
        pid = root.pid  // tearDown kills it
        let access = try ProcessFileAccess.begin(root.remote, task: plan.task)
        let file = SharedFile(fileID: 7, path: theirs, flags: O_WRONLY | O_APPEND, position: 4)
        let fd = try XCTUnwrap(try TreeEnds.open(file, in: root.remote, access: access)[TreeEnds.key(file: 7)])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(root.pid)/fd/\(fd)"), theirs)
        let info = try String(contentsOfFile: "/proc/\(root.pid)/fdinfo/\(fd)", encoding: .utf8)
        XCTAssertTrue(info.hasPrefix("pos:\t4\n"), info)
        let flags = info.split(separator: "\n").first { $0.hasPrefix("flags:") }.flatMap { Int32($0.split(separator: "\t").last ?? "", radix: 8) }
        XCTAssertEqual(try XCTUnwrap(flags) & (O_ACCMODE | O_APPEND | O_NONBLOCK), O_WRONLY | O_APPEND, info)

        // Forked after: one open file, one offset.
        let child = try Restorer.forkChild(20, from: root, pids: .new)
        defer { child.kill() }
        try child.remote.call("lseek", Int32(CKPT_SYS_LSEEK), UInt64(fd), 8, UInt64(SEEK_SET))
        let after = try String(contentsOfFile: "/proc/\(root.pid)/fdinfo/\(fd)", encoding: .utf8)
        XCTAssertTrue(after.hasPrefix("pos:\t8\n"), after)

        // Root's file, not the one the image held: not opened with the restorer's rights.
        let secret = SharedFile(fileID: 8, path: roots, flags: O_RDONLY, position: 0)
        XCTAssertThrowsError(try TreeEnds.open(secret, in: root.remote, access: access)) { error in
            XCTAssertTrue("\(error)".contains("uid 65534 may not open \(roots)"), "\(error)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptProtocol
@testable import CkptRestore
import XCTest

/// Whose rights a restore opens another user's paths with (`ProcessFileAccess`), in a real
/// stub as the restorer makes it: as root restoring uid 65534's process, a path is opened
/// as 65534; a file 65534 may not open only when it is the very file the image says the
/// process held; a symlink swapped in for that file is refused, and nothing of its target
/// is left open in the process.
final class ProcessFileAccessTests: XCTestCase {
    var pid: pid_t = 0
    var dir = ""
    let nobody: UInt32 = 65534

    override func setUpWithError() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root: only a privileged restorer opens with other rights than the process's")
        dir = String(cString: mkdtemp(strdup(NSTemporaryDirectory() + "ckpt-access-XXXXXX")))
        XCTAssertEqual(chmod(dir, 0o755), 0)
    }

    override func tearDown() {
        killAndReap(pid)
        if !dir.isEmpty { _ = try? FileManager.default.removeItem(atPath: dir) }
    }

    /// A file in `dir` with `mode`, owned by `owner`.
    func file(_ name: String, _ text: String, mode: mode_t, owner: UInt32) -> String {
        let path = dir + "/" + name
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(text.withCString { write(fd, $0, strlen($0)) }, text.utf8.count)
        XCTAssertEqual(fchown(fd, owner, owner), 0)
        XCTAssertEqual(fchmod(fd, mode), 0)
        close(fd)
        return path
    }

    func identity(_ path: String) -> FileIdentity {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        return FileIdentity(inode: UInt64(st.st_ino), device: UInt32(truncatingIfNeeded: st.st_dev),
                            size: UInt64(st.st_size), mtimeNs: 0)
    }

    /// The stub, seized, with its filesystem ids those of a process of `uid`.
    func access(as uid: UInt32) throws -> ProcessFileAccess {
        let remote = try RemoteSyscallsTests.spawnStub(&pid)
        let task = TaskMeta(pid: 1, tgid: 1, ppid: 0, comm: "t", uid: uid, gid: uid, euid: uid, egid: uid)
        return try ProcessFileAccess.begin(remote, task: task)
    }

    /// /proc/PID/status's Uid line: real, effective, saved, filesystem.
    func uids() throws -> [String] {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
        return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().map(String.init)
    }

    func target(_ fd: UInt64) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/fd/\(fd)", &buf, buf.count - 1)
        return n > 0 ? String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    func openTargets() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.compactMap { UInt64($0) }.map(target) ?? []
    }

    func testAnotherUsersPathsAreOpenedWithItsRights() throws {
        let mine = file("mine", "mine", mode: 0o600, owner: nobody)
        let secret = file("secret", "secret", mode: 0o600, owner: 0)
        let access = try access(as: nobody)
        XCTAssertEqual(try uids(), ["0", "0", "0", "\(nobody)"], "the stub's fsuid is the process's")
        let fd = try access.open(mine, flags: O_RDWR, held: nil, what: "fd 3")
        XCTAssertEqual(target(fd), mine)
        XCTAssertThrowsError(try access.open(secret, flags: O_RDONLY, held: nil, what: "fd 4")) { error in
            XCTAssertTrue("\(error)".contains("uid 65534 may not open \(secret)"), "\(error)")
        }
        XCTAssertFalse(openTargets().contains(secret))
    }

    func testAFileTheProcessHeldIsOpenedAgainThoughItsUserMayNot() throws {
        let log = file("log", "a service's log its manager opened", mode: 0o644, owner: 0)
        let other = file("other", "root's", mode: 0o600, owner: 0)
        let access = try access(as: nobody)
        let fd = try access.open(log, flags: O_WRONLY, held: identity(log), what: "fd 1")
        XCTAssertEqual(target(fd), log)
        XCTAssertEqual(try uids().last, "\(nobody)", "back to the process's fsuid after the reopen")
        // Not a general key: another root file is still refused.
        XCTAssertThrowsError(try access.open(other, flags: O_RDONLY, held: nil, what: "fd 2"))
        XCTAssertEqual(openTargets().filter { $0.hasPrefix(dir) }, [log], "only the reopened file; no O_PATH descriptor left")
    }

    func testASymlinkSwappedInForTheHeldFileIsRefused() throws {
        let mine = file("mine", "mine", mode: 0o600, owner: nobody)
        let held = identity(mine)
        let secret = file("secret", "secret", mode: 0o600, owner: 0)
        // The user replaces its file with a link to root's (as it may in its own directory).
        XCTAssertEqual(unlink(mine), 0)
        XCTAssertEqual(symlink(secret, mine), 0)
        let access = try access(as: nobody)
        XCTAssertThrowsError(try access.open(mine, flags: O_RDWR, held: held, what: "fd 3")) { error in
            XCTAssertTrue("\(error)".contains("it is not the file the process had open"), "\(error)")
        }
        XCTAssertFalse(openTargets().contains(secret), "the link's target is not left open in the process")
        XCTAssertEqual(try uids().last, "\(nobody)")
    }

    func testAListOfFilesIsOpenedInOrderEachByItsRule() throws {
        let mine = file("mine", "mine", mode: 0o600, owner: nobody)
        let lib = file("lib", "root's, readable", mode: 0o644, owner: 0)
        let log = file("log", "root's, held", mode: 0o600, owner: 0)
        let access = try access(as: nobody)
        let fds = try access.open([.init(path: mine, flags: O_RDONLY, held: nil, what: "mine"),
                                   .init(path: log, flags: O_RDONLY, held: identity(log), what: "log"),
                                   .init(path: lib, flags: O_RDONLY, held: nil, what: "lib")])
        XCTAssertEqual(fds.map(target), [mine, log, lib])
        XCTAssertEqual(try uids().last, "\(nobody)")
    }

    func testTheRestorersOwnProcessIsOpenedAsTheRestorer() throws {
        let secret = file("secret", "secret", mode: 0o600, owner: 0)
        let access = try access(as: 0)
        XCTAssertNil(access.user)
        XCTAssertEqual(try uids(), ["0", "0", "0", "0"])
        XCTAssertEqual(target(try access.open(secret, flags: O_RDONLY, held: nil, what: "fd 3")), secret)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
@testable import CkptRestore
import Foundation
import XCTest

/// A tree's child made by its parent's fork, and a pipe between them, in real stubs.
extension RemoteSyscallsTests {
    /// The parent stub (started and cleared as a restore starts one) forks the child inside
    /// itself: the child's parent is the parent stub, not this test; the child is traced
    /// and cleared for its own image (its gadget page moved to a page of its own, the
    /// parent's gone). Both inherited the restorer's ends of the pipe between them and place
    /// them at their images' fds, closing the rest: the parent's fd 5 and the child's fd 0
    /// are one pipe, holding the bytes it held; their fds 7 and 8 one open file, at its
    /// offset.
    func testAChildIsForkedByItsParentAndSharesItsPipe() throws {
        let builder = TreePlanTests()
        let held = Array("queued".utf8)
        // Both also hold one open file (their stdout, inherited across fork): fd 7 and fd 8.
        let (log, _) = try RestorePlanTests.tempFile("tree-log")
        defer { unlink(log) }
        let shared = FileMeta(fd: 7, fFlags: UInt32(O_WRONLY), pos: 100, path: log, fileID: 0xf11e)
        var sharedInChild = shared
        sharedInChild.fd = 8
        let (parentImage, p1) = try builder.image(10, parent: 1, [(5, "pipe:[9]", false, [])], extra: [shared])
        let (childImage, p2) = try builder.image(20, parent: 10, [(0, "pipe:[9]", true, held)], extra: [sharedInChild])
        defer { unlink(p1); unlink(p2) }
        let plans = try [childImage, parentImage].map {
            try RestorePlan($0, shellJob: false, sharedPipes: ["pipe:[9]"], sharedFiles: [0xf11e])
        }
        let tree = try TreePlan(plans)
        XCTAssertEqual(tree.files, [SharedFile(fileID: 0xf11e, path: log, flags: O_WRONLY, position: 100)])
        let pipe = try XCTUnwrap(tree.pipes.first)
        var ends = try TreeEnds.make(pipe)
        ends.merge(try TreeEnds.make(tree.files[0])) { a, _ in a }
        var made = false
        defer { if !made { for fd in ends.values { close(fd) } } }

        var parentRestorer = Restorer(plan: tree.plans[0], reader: parentImage, replayer: nil, options: .init(pids: .new, memory: .process))
        var childRestorer = Restorer(plan: tree.plans[1], reader: childImage, replayer: nil, options: .init(pids: .new, memory: .process))
        parentRestorer.treeFDs = ends
        childRestorer.treeFDs = ends
        let parent = try parentRestorer.start(step: { _ in })
        pid = parent.pid  // tearDown kills it
        let child = try childRestorer.fork(from: parent)
        defer { child.kill() }
        let fileFD = try XCTUnwrap(ends[TreeEnds.key(file: 0xf11e)])
        for (key, fd) in ends where key != TreeEnds.key(file: 0xf11e) { close(fd) }
        defer { close(fileFD) }
        made = true

        let stat = try XCTUnwrap(String(contentsOfFile: "/proc/\(child.pid)/stat", encoding: .utf8))
        let fields = stat[stat.index(after: try XCTUnwrap(stat.lastIndex(of: ")")))...].split(separator: " ")
        XCTAssertEqual(fields[2], "\(parent.pid)", "the child's parent: \(stat)")
        let maps = try child.tracee.maps().filter { $0.name != "[vsyscall]" }
        XCTAssertEqual(maps.map(\.start), [child.remote.gadget & ~0xfff], "the child kept more than its own gadget page: \(maps)")
        XCTAssertNotEqual(child.remote.gadget, parent.remote.gadget)

        for (restorer, process) in [(parentRestorer, parent), (childRestorer, child)] {
            try restorer.placeTreeEnds(process.remote)
            try restorer.restoreDescriptors(process.remote, objects: [:], access: ProcessFileAccess(remote: process.remote, user: nil))
        }
        let parentFiles = openFiles()
        pid = child.pid
        let childFiles = openFiles()
        pid = parent.pid
        XCTAssertEqual(Set(parentFiles.keys), [5, 7], "\(parentFiles)")
        XCTAssertEqual(Set(childFiles.keys), [0, 8], "\(childFiles)")
        XCTAssertEqual(parentFiles[7], log)
        XCTAssertEqual(childFiles[8], log)
        // One open file: moving this test's copy's offset moves theirs (a second open would not).
        XCTAssertEqual(lseek(fileFD, 0, SEEK_CUR), 100)
        XCTAssertEqual(lseek(fileFD, 1234, SEEK_SET), 1234)
        for (process, fd) in [(parent.pid, 7), (child.pid, 8)] {
            let info = try String(contentsOfFile: "/proc/\(process)/fdinfo/\(fd)", encoding: .utf8)
            XCTAssertTrue(info.hasPrefix("pos:\t1234\n"), "pid \(process) fd \(fd): \(info)")
        }
        XCTAssertEqual(parentFiles[5], childFiles[0])
        XCTAssertTrue(parentFiles[5]?.hasPrefix("pipe:[") == true, "\(parentFiles)")
        // The bytes it held, read through the child's end.
        let fd = open("/proc/\(child.pid)/fd/0", O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        XCTAssertEqual(read(fd, &buf, buf.count), held.count)
        XCTAssertEqual(Array(buf.prefix(held.count)), held)
    }
}

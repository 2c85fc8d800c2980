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
    /// are one pipe, holding the bytes it held.
    func testAChildIsForkedByItsParentAndSharesItsPipe() throws {
        let builder = TreePlanTests()
        let held = Array("queued".utf8)
        let (parentImage, p1) = try builder.image(10, parent: 1, [(5, "pipe:[9]", false, [])])
        let (childImage, p2) = try builder.image(20, parent: 10, [(0, "pipe:[9]", true, held)])
        defer { unlink(p1); unlink(p2) }
        let plans = try [childImage, parentImage].map { try RestorePlan($0, shellJob: false, sharedPipes: ["pipe:[9]"]) }
        let tree = try TreePlan(plans)
        let pipe = try XCTUnwrap(tree.pipes.first)
        let ends = try TreeEnds.make(pipe)
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
        for fd in ends.values { close(fd) }
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
        XCTAssertEqual(Array(parentFiles.keys), [5], "\(parentFiles)")
        XCTAssertEqual(Array(childFiles.keys), [0], "\(childFiles)")
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

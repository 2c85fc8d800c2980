#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
@testable import CkptRestore
import Foundation
import XCTest

/// `--inherit-fd`: the restorer's own fd takes the image's place, in a real stub.
extension RemoteSyscallsTests {
    /// The image's fd 77 was a pipe to another process (refused without the option); the
    /// stub inherits this test's fd 77 (another pipe) and keeps it, while the restorer's
    /// other fds it inherited are closed. An fd the stub did not inherit fails by name.
    func testAnInheritedFdIsTheRestorersOwn() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]) }
        XCTAssertEqual(dup2(ends[1], 77), 77)  // without close-on-exec: the stub inherits it
        close(ends[1])
        let image = FileMeta(fd: 77, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[123456]")
        let builder = RestorePlanTests()
        let (reader, path) = try builder.image(vmas: [builder.anon], files: [image], pipes: [0: (PipeMeta(size: 65536, bytes: 0), [])])
        defer { unlink(path) }
        XCTAssertThrowsError(try RestorePlan(reader, shellJob: false))
        let plan = try RestorePlan(reader, shellJob: false, inheritedFDs: [77])
        XCTAssertEqual(plan.descriptors, [.inherited(fd: 77)])
        XCTAssertTrue(plan.pipes.isEmpty && plan.namedFIFOs.isEmpty)

        let remote = try stub()
        close(77)
        var st = stat()
        XCTAssertEqual(fstat(ends[0], &st), 0)
        let restorer = Restorer(plan: plan, reader: reader, replayer: nil, options: .init(memory: .process))
        try restorer.restoreDescriptors(remote, objects: [:], access: ProcessFileAccess(remote: remote, user: nil))
        let files = openFiles()
        XCTAssertEqual(files[77], "pipe:[\(st.st_ino)]", "\(files)")
        XCTAssertEqual(Array(files.keys), [77], "the stub kept fds it was not asked to: \(files)")

        // A second stub that did not inherit fd 77.
        tearDown()
        pid = 0
        let remote2 = try stub()
        let restorer2 = Restorer(plan: plan, reader: reader, replayer: nil, options: .init(memory: .process))
        XCTAssertThrowsError(try restorer2.restoreDescriptors(remote2, objects: [:], access: ProcessFileAccess(remote: remote2, user: nil))) {
            guard case let .mismatch(why)? = $0 as? RestoreError else { return XCTFail("\($0)") }
            XCTAssertEqual(why, "fd 77 (--inherit-fd): the new process did not inherit it from ckpt restore")
        }
    }
}

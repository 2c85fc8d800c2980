@testable import CkptCLI
import Foundation
import Logging
import XCTest

/// `ckpt listen`'s choice of allocating image blocks ahead of the writes: on unless
/// `--reserve off`, a spool bound, or a file system in memory.
final class AllocateAheadChoiceTests: XCTestCase {
    private let logger = Logger(label: "test")

    func testTmpfsIsAFileSystemInMemory() {
        XCTAssertEqual(ListenCommand.memoryFileSystem("/dev/shm"), "tmpfs")
        XCTAssertEqual(ListenCommand.chooseAllocateAhead(.auto, spoolBounded: false, directory: "/dev/shm", logger: logger), 0)
    }

    func testOnForADiskUnlessOffOrSpoolBounded() throws {
        let dir = FileManager.default.temporaryDirectory.path
        let onDisk = ListenCommand.memoryFileSystem(dir) == nil
        XCTAssertEqual(ListenCommand.chooseAllocateAhead(.auto, spoolBounded: false, directory: dir, logger: logger),
                       onDisk ? ListenCommand.allocateAheadMax : 0, "\(dir)")
        XCTAssertEqual(ListenCommand.chooseAllocateAhead(.bytes(1 << 30), spoolBounded: false, directory: dir, logger: logger),
                       onDisk ? ListenCommand.allocateAheadMax : 0)
        XCTAssertEqual(ListenCommand.chooseAllocateAhead(.off, spoolBounded: false, directory: dir, logger: logger), 0)
        XCTAssertEqual(ListenCommand.chooseAllocateAhead(.auto, spoolBounded: true, directory: dir, logger: logger), 0)
    }

    func testAMissingDirectoryIsNotInMemory() {
        XCTAssertNil(ListenCommand.memoryFileSystem("/nonexistent/ckpt-test"))
    }
}

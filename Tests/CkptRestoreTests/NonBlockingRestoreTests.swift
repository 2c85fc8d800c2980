#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
@testable import CkptRestore
import Foundation
import XCTest

/// The restorer's own steps in a real stub process, on what the plan cannot see: a path
/// that becomes a FIFO after the plan looked, and pipe contents a pipe does not take. Each
/// must fail or succeed at once; before, each waited for ever in the new process, and the
/// restorer with it. A watchdog ends the wait (a writer for the FIFO, SIGKILL for the stub)
/// so that a regression fails here instead of hanging the suite.
extension RemoteSyscallsTests {
    /// Runs `work` later unless cancelled: the caller cancels it once done.
    func watchdog(after seconds: Double, _ work: @escaping @Sendable () -> Void) -> DispatchWorkItem {
        let item = DispatchWorkItem(block: work)
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
        return item
    }

    /// A plan (and its image's reader) from RestorePlanTests' image builder.
    func plan(files: [FileMeta], pipes: [Int: (PipeMeta, [UInt8])] = [:]) throws -> (RestorePlan, ImageReader) {
        let builder = RestorePlanTests()
        let (reader, path) = try builder.image(vmas: [builder.anon], files: files, pipes: pipes)
        defer { unlink(path) }
        return (try RestorePlan(reader, shellJob: false), reader)
    }

    func testAPathThatBecameAFIFOIsOpenedWithoutWaiting() throws {
        let path = NSTemporaryDirectory() + "ckpt-becomes-fifo-\(getpid())-\(UUID().uuidString)"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1])))
        defer { unlink(path) }
        let (plan, reader) = try plan(files: [FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: path)])
        // After the plan: a FIFO with no writer, whose blocking open would wait for one.
        unlink(path)
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        let remote = try stub()
        let restorer = Restorer(plan: plan, reader: reader, replayer: nil, options: .init(memory: .process))
        let writer = watchdog(after: 3) {
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        defer { writer.cancel() }
        let start = Date()
        try restorer.restoreDescriptors(remote, objects: [:], access: ProcessFileAccess(remote: remote, user: nil))
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "the open waited for a writer")
        XCTAssertEqual(openFiles()[3], path)
        // The image's flags: O_NONBLOCK, added for the open only, is gone again.
        let info = try String(contentsOfFile: "/proc/\(pid)/fdinfo/3", encoding: .utf8)
        let flags = info.split(separator: "\n").first { $0.hasPrefix("flags:") }
            .flatMap { Int32($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) }
        XCTAssertEqual(try XCTUnwrap(flags) & O_NONBLOCK, 0, info)
    }

    /// Pipe contents past the capacity the pipe got (a plan that refuses them is bypassed
    /// here): refused before writing, or by the non-blocking write when the capacity is the
    /// new pipe's own (size 0: no F_SETPIPE_SZ).
    func testPipeBytesPastItsCapacityFailInsteadOfWaiting() throws {
        let r = FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: "pipe:[77]")
        let w = FileMeta(fd: 4, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[77]")
        let (valid, reader) = try plan(files: [r, w], pipes: [0: (PipeMeta(size: 65536, bytes: 1), [1]),
                                                             1: (PipeMeta(size: 65536, bytes: 1), [])])
        for (size, count) in [(UInt32(4096), 8192), (0, 256 << 10)] {
            var plan = valid
            plan.pipes[0].size = size
            plan.pipes[0].data = [UInt8](repeating: 5, count: count)
            let remote = try stub()
            let victim = pid
            let killer = watchdog(after: 5) { kill(victim, SIGKILL) }
            defer { killer.cancel() }
            let restorer = Restorer(plan: plan, reader: reader, replayer: nil, options: .init(memory: .process))
            XCTAssertThrowsError(try restorer.restorePipes(remote)) { error in
                switch error as? RestoreError {
                case let .mismatch(why)?: XCTAssertTrue(size > 0 && why.contains("holds 4096 bytes, not the 8192"), why)
                case let .remote(step, errno)?:
                    XCTAssertTrue(size == 0 && step.hasPrefix("write") && errno == .resourceTemporarilyUnavailable, "\(step): \(errno)")
                default: XCTFail("\(error)")
                }
            }
            killer.cancel()
            tearDown()
            pid = 0
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
@testable import CkptRestore
import Foundation
import XCTest

/// `Restorer.restoreNamedFIFOs` in a real stub process: FIFOs opened again at their paths
/// without waiting for an other end, with their bytes, flags and numbers. A watchdog
/// (SIGKILL for the stub) turns a wait into a failure instead of a hung suite.
extension RemoteSyscallsTests {
    func fifoPath(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "ckpt-\(name)-\(getpid())-\(UUID().uuidString).fifo"
        XCTAssertEqual(mkfifo(path, 0o600), 0, "mkfifo \(path)")
        return path
    }

    /// `fd`'s flags in the stub, from its fdinfo.
    func statusFlags(_ fd: Int32) throws -> Int32 {
        let info = try String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8)
        let flags = info.split(separator: "\n").first { $0.hasPrefix("flags:") }
            .flatMap { Int32($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) }
        return try XCTUnwrap(flags, info)
    }

    /// Everything the FIFO holds now, read through a non-blocking reader of our own.
    func drain(_ path: String) -> [UInt8] { readAll(closing: open(path, O_RDONLY | O_NONBLOCK)) }

    func restoreFIFOs(_ plan: RestorePlan, _ reader: ImageReader) throws -> [String] {
        let remote = try stub()
        let victim = pid
        let killer = watchdog(after: 5) { kill(victim, SIGKILL) }
        defer { killer.cancel() }
        let restorer = Restorer(plan: plan, reader: reader, replayer: nil, options: .init(memory: .process))
        let start = Date()
        let warnings = try restorer.restoreNamedFIFOs(remote, access: ProcessFileAccess(remote: remote, user: nil))
        XCTAssertLessThan(Date().timeIntervalSince(start), 3, "an open or write waited")
        return warnings
    }

    /// Both ends in the process (a read end holding bytes, a non-blocking write end): each
    /// at its number with its flags, the bytes back in the pipe, nothing to warn about.
    func testAFIFOWithBothEndsComesBackWithItsBytes() throws {
        let path = fifoPath("both")
        defer { unlink(path) }
        let hello = Array("hello".utf8)
        let (plan, reader) = try plan(files: [FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: path),
                                              FileMeta(fd: 4, fFlags: UInt32(O_WRONLY | O_NONBLOCK), pos: 0, path: path)],
                                      pipes: [0: (PipeMeta(size: 65536, bytes: 5), hello), 1: (PipeMeta(size: 65536, bytes: 5), [])])
        let warnings = try restoreFIFOs(plan, reader)
        XCTAssertEqual(warnings, [])
        let files = openFiles()
        XCTAssertEqual(files[3], path)
        XCTAssertEqual(files[4], path)
        XCTAssertEqual(try statusFlags(3) & (O_ACCMODE | O_NONBLOCK), O_RDONLY)
        XCTAssertEqual(try statusFlags(4) & (O_ACCMODE | O_NONBLOCK), O_WRONLY | O_NONBLOCK)
        XCTAssertEqual(files.values.filter { $0 == path }.count, 2, "a helper end was left open: \(files)")
        XCTAssertEqual(drain(path), hello)
    }

    /// A write end alone, no reader anywhere: opened without waiting (ENXIO avoided by a
    /// reader held for the open), with the warning that its next write meets no reader.
    func testAWriteEndWithoutAReaderOpensAndWarns() throws {
        let path = fifoPath("writer")
        defer { unlink(path) }
        let (plan, reader) = try plan(files: [FileMeta(fd: 3, fFlags: UInt32(O_WRONLY), pos: 0, path: path)],
                                      pipes: [0: (PipeMeta(size: 65536, bytes: 0), [])])
        let warnings = try restoreFIFOs(plan, reader)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("fd 3 (FIFO \(path)): no process reads the FIFO now") == true, "\(warnings)")
        XCTAssertEqual(openFiles()[3], path)
        XCTAssertEqual(try statusFlags(3) & (O_ACCMODE | O_NONBLOCK), O_WRONLY)
        XCTAssertEqual(openFiles().values.filter { $0 == path }.count, 1, "the held reader was left open")
    }

    /// A read end whose pipe another process kept open with bytes in it: those stay, the
    /// image's are not written again (they would be there twice), and a warning says so.
    /// Without the other process, a read end alone gets its bytes from a writer of the
    /// restorer's that is closed again.
    func testAReadEndGetsItsBytesOnlyIntoAnEmptyPipe() throws {
        let path = fifoPath("reader")
        defer { unlink(path) }
        let image = Array("from the image".utf8)
        let (plan, reader) = try plan(files: [FileMeta(fd: 3, fFlags: UInt32(O_RDWR), pos: 0, path: path)],
                                      pipes: [0: (PipeMeta(size: 65536, bytes: UInt32(image.count)), image)])
        let keep = open(path, O_RDWR | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(keep, 0)
        XCTAssertEqual(write(keep, "kept", 4), 4)
        let warnings = try restoreFIFOs(plan, reader)
        XCTAssertEqual(warnings, ["fd 3 (FIFO \(path)): the pipe already holds 4 bytes (another process kept the FIFO open): "
                                  + "the 14 bytes it held at the checkpoint are not written again"])
        XCTAssertEqual(drain(path), Array("kept".utf8))
        close(keep)
        tearDown()
        pid = 0

        let (plan2, reader2) = try self.plan(files: [FileMeta(fd: 5, fFlags: UInt32(O_RDONLY), pos: 0, path: path)],
                                             pipes: [0: (PipeMeta(size: 65536, bytes: UInt32(image.count)), image)])
        XCTAssertEqual(try restoreFIFOs(plan2, reader2), [])
        XCTAssertEqual(openFiles()[5], path)
        XCTAssertEqual(openFiles().values.filter { $0 == path }.count, 1, "the writer for the bytes was left open")
        XCTAssertEqual(drain(path), image)
    }

    /// A FIFO the plan saw, replaced by a regular file before the restore opens it: the
    /// opened file is checked and refused, not used as a pipe.
    func testAFIFOReplacedAfterThePlanIsRefused() throws {
        let path = fifoPath("replaced")
        defer { unlink(path) }
        let (plan, reader) = try plan(files: [FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: path)],
                                      pipes: [0: (PipeMeta(size: 65536, bytes: 0), [])])
        unlink(path)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        XCTAssertThrowsError(try restoreFIFOs(plan, reader)) { error in
            guard case let .unsupported(what, why)? = error as? RestoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "fd 3 (FIFO \(path))")
            XCTAssertTrue(why.contains("is not a FIFO now"), why)
        }
    }
}

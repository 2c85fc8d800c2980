#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
@testable import CkptRestore
import SystemPackage
import XCTest

/// Remote system calls in a real stub process (StubProgram, spawned and seized as the
/// restorer does): the batch loop's machine code runs a table of calls in one resume,
/// returns their results in order, and stops at the first that fails.
final class RemoteSyscallsTests: XCTestCase {
    var pid: pid_t = 0
    /// The restorer's gadget page in the stub: free there (the stub loads far above).
    let page: UInt64 = 0x1000_0000

    override func tearDown() { killAndReap(pid) }

    /// The stub, stopped and seized; with `batchLoop` the restorer's gadget page at `page`.
    func stub(batchLoop: Bool = true) throws -> RemoteSyscalls {
        try Self.spawnStub(&pid, batchLoop: batchLoop, page: page)
    }

    /// The same for other tests: the stub's pid in `pid` (the caller kills and reaps it).
    static func spawnStub(_ pid: inout pid_t, batchLoop: Bool = true, page: UInt64 = 0x1000_0000) throws -> RemoteSyscalls {
        let fd = ckpt_memfd_create("ckpt-remote-test", UInt32(CKPT_MFD_CLOEXEC))
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let image = StubProgram.image
        XCTAssertEqual(image.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, image.count)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("ckpt-remote-test"), nil]
        defer { free(argv[0]) }
        var envp: [UnsafeMutablePointer<CChar>?] = [nil]
        XCTAssertEqual(posix_spawn(&pid, "/proc/self/fd/\(fd)", nil, nil, &argv, &envp), 0)
        try Restorer.waitForStop(pid)
        let tracee = try Tracee.seize(pid)
        var remote = RemoteSyscalls(tracee: tracee, base: try tracee.getRegisters(),
                                    gadget: StubProgram.base + UInt64(StubProgram.gadgetOffset))
        if batchLoop {
            try remote.call("mmap the gadget page", Int32(CKPT_SYS_MMAP), page, 4096, UInt64(PROT_READ | PROT_WRITE | PROT_EXEC),
                            UInt64(MAP_PRIVATE | MAP_ANONYMOUS | Int32(CKPT_MAP_FIXED_NOREPLACE)), UInt64.max, 0)
            try tracee.write(StubProgram.gadgetPage, at: page)
            remote.gadget = page
            remote.batchLoop = true
        }
        return remote
    }

    func anonymous(_ at: UInt64) -> RemoteSyscalls.Call {
        .init("mmap \(hex(at))", Int32(CKPT_SYS_MMAP), at, 4096, UInt64(PROT_READ | PROT_WRITE),
              UInt64(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), UInt64.max, 0)
    }

    func mapped(_ remote: RemoteSyscalls, _ at: UInt64) throws -> Bool {
        try remote.tracee.maps().contains { $0.start <= at && at < $0.end }
    }

    func testABatchReturnsEachResultInOrder() throws {
        let remote = try stub()
        let results = try remote.calls([
            .init("getpid", Int32(SYS_getpid)),
            anonymous(page + 0x10000),
            .init("getppid", Int32(SYS_getppid)),
        ])
        XCTAssertEqual(results, [UInt64(pid), page + 0x10000, UInt64(getpid())])
        XCTAssertTrue(try mapped(remote, page + 0x10000))
    }

    func testTheFirstFailingCallStopsTheBatchAndIsNamed() throws {
        let remote = try stub()
        XCTAssertThrowsError(try remote.calls([
            anonymous(page + 0x10000),
            .init("close 4242", Int32(CKPT_SYS_CLOSE), 4242),
            anonymous(page + 0x20000),
        ])) { error in
            guard case let .remote(step, errno) = error as? RestoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(step, "close 4242")
            XCTAssertEqual(errno, .badFileDescriptor)
        }
        XCTAssertTrue(try mapped(remote, page + 0x10000))
        XCTAssertFalse(try mapped(remote, page + 0x20000), "a call after the failed one ran")
    }

    func testMoreCallsThanOneTableHolds() throws {
        let remote = try stub()
        let n = RemoteSyscalls.batchMax * 2 + 3
        let results = try remote.calls((0..<n).map { _ in .init("getpid", Int32(SYS_getpid)) })
        XCTAssertEqual(results, [UInt64](repeating: UInt64(pid), count: n))
        // The gadget still works after batches, and an empty batch does nothing.
        XCTAssertEqual(try remote.call("getpid", Int32(SYS_getpid)), UInt64(pid))
        XCTAssertEqual(try remote.calls([]), [])
    }

    func testNoBatchBeforeTheGadgetPage() throws {
        let remote = try stub(batchLoop: false)
        XCTAssertThrowsError(try remote.calls([.init("getpid", Int32(SYS_getpid))])) { error in
            guard case .mismatch = error as? RestoreError else { return XCTFail("\(error)") }
        }
    }

    /// The files of the process's descriptors, by number (/proc/PID/fd).
    func openFiles() -> [Int: String] {
        var out: [Int: String] = [:]
        guard let dir = opendir("/proc/\(pid)/fd") else { return out }
        defer { closedir(dir) }
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let n = Int(name) else { continue }
            var target = [CChar](repeating: 0, count: 4097)
            let len = readlink("/proc/\(pid)/fd/\(n)", &target, 4096)
            if len > 0 { out[n] = String(decoding: target[0..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return out
    }

    /// Files with names of 60 to 250 bytes in a new directory; removed by the caller.
    func files(_ count: Int) throws -> (dir: String, paths: [String]) {
        var template = Array("/tmp/ckpt-remote-open.XXXXXX".utf8CString)
        let dir = try XCTUnwrap(mkdtemp(&template).map { String(cString: $0) })
        let paths = (0..<count).map { i in "\(dir)/\(String(repeating: "f", count: 60 + (i * 37) % 190))-\(i)" }
        for p in paths {
            let fd = open(p, O_CREAT | O_WRONLY, 0o600)
            XCTAssertGreaterThanOrEqual(fd, 0, p)
            close(fd)
        }
        return (dir, paths)
    }

    func remove(_ dir: String, _ paths: [String]) {
        for p in paths { unlink(p) }
        rmdir(dir)
    }

    func testOpensMoreFilesThanOneScratchAreaHoldsEachAtItsPath() throws {
        let remote = try stub()
        let (dir, paths) = try files(60)  // ~9 KiB of paths: three stops or more
        defer { remove(dir, paths) }
        let fds = try remote.open(paths.enumerated().map { ($1, $0 % 2 == 0 ? O_RDONLY : O_RDWR, "open \($0)") })
        XCTAssertEqual(fds.count, paths.count)
        let now = openFiles()
        for (fd, path) in zip(fds, paths) { XCTAssertEqual(now[Int(fd)], path) }
        XCTAssertEqual(Set(fds).count, fds.count)
        XCTAssertEqual(try remote.open([]), [])
    }

    func testTheFirstFailingOpenStopsTheRestAndIsNamed() throws {
        let remote = try stub()
        let (dir, paths) = try files(2)
        defer { remove(dir, paths) }
        let before = openFiles().count
        XCTAssertThrowsError(try remote.open([(paths[0], O_RDONLY, "open first"), ("\(dir)/absent", O_RDONLY, "open absent"),
                                              (paths[1], O_RDONLY, "open second")])) { error in
            guard case let .remote(step, errno) = error as? RestoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(step, "open absent")
            XCTAssertEqual(errno, .noSuchFileOrDirectory)
        }
        let after = openFiles()
        XCTAssertEqual(after.count, before + 1, "\(after)")
        XCTAssertTrue(after.values.contains(paths[0]))
        XCTAssertFalse(after.values.contains(paths[1]), "an open after the failed one ran")
    }

    func testAPathLongerThanTheScratchAreaIsRefusedBeforeAnyOpen() throws {
        let remote = try stub()
        let (dir, paths) = try files(1)
        defer { remove(dir, paths) }
        let before = openFiles().count
        let long = "/" + String(repeating: "d/", count: 2000)
        XCTAssertThrowsError(try remote.open([(paths[0], O_RDONLY, "open short"), (long, O_RDONLY, "open long")])) { error in
            guard case .unsupported = error as? RestoreError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(openFiles().count, before)
    }

    /// The file `path` holds, read by the test.
    func contents(_ path: String) -> [UInt8] { readAll(closing: open(path, O_RDONLY)) }

    func testACallsDataIsWhereItsArgumentPoints() throws {
        let remote = try stub()
        let results = try remote.calls([
            .init("chdir /tmp", Int32(SYS_chdir), pointingAt: Array("/tmp".utf8) + [0], in: 0, 0),
            .init("getpid", Int32(SYS_getpid)),
            .init("prctl(PR_SET_NAME)", Int32(SYS_prctl), pointingAt: Array("ckpt-batched".utf8) + [0], in: 1, UInt64(PR_SET_NAME), 0),
        ])
        XCTAssertEqual(results, [0, UInt64(pid), 0])
        var target = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/\(pid)/cwd", &target, 255)
        XCTAssertEqual(String(decoding: target[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self), "/tmp")
        XCTAssertEqual(contents("/proc/\(pid)/comm"), Array("ckpt-batched\n".utf8))
    }

    /// Writes of 1,000 distinct bytes each, more than one scratch area holds: several stops,
    /// each call's bytes where its argument points (the file holds them in order).
    func testDataOfMoreCallsThanOneScratchAreaHolds() throws {
        let remote = try stub()
        let (dir, paths) = try files(1)
        defer { remove(dir, paths) }
        let fd = try XCTUnwrap(try remote.open([(paths[0], O_WRONLY, "open")]).first)
        let chunks = (0..<10).map { i in (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7 + i * 31) } }
        let results = try remote.calls(chunks.enumerated().map { i, c in
            .init("write \(i)", Int32(SYS_write), pointingAt: c, in: 1, fd, 0, UInt64(c.count))
        })
        XCTAssertEqual(results, [UInt64](repeating: 1000, count: 10))
        XCTAssertEqual(contents(paths[0]), chunks.flatMap { $0 })
    }

    /// A call whose data fits no batch runs alone (its data at the scratch area's start);
    /// one longer than the scratch area is refused, and nothing after it runs.
    func testACallWhoseDataFitsNoBatchRunsAloneAndALongerOneIsRefused() throws {
        let remote = try stub()
        let (dir, paths) = try files(1)
        defer { remove(dir, paths) }
        let fd = try XCTUnwrap(try remote.open([(paths[0], O_WRONLY, "open")]).first)
        let big = (0..<(RemoteSyscalls.scratchSize - 64)).map { UInt8(truncatingIfNeeded: $0 * 13) }
        let small = Array("after".utf8)
        let results = try remote.calls([
            .init("write small", Int32(SYS_write), pointingAt: small, in: 1, fd, 0, UInt64(small.count)),
            .init("write big", Int32(SYS_write), pointingAt: big, in: 1, fd, 0, UInt64(big.count)),
            .init("write small again", Int32(SYS_write), pointingAt: small, in: 1, fd, 0, UInt64(small.count)),
        ])
        XCTAssertEqual(results, [UInt64(small.count), UInt64(big.count), UInt64(small.count)])
        XCTAssertEqual(contents(paths[0]), small + big + small)
        let tooBig = [UInt8](repeating: 1, count: RemoteSyscalls.scratchSize + 1)
        XCTAssertThrowsError(try remote.calls([
            .init("write too big", Int32(SYS_write), pointingAt: tooBig, in: 1, fd, 0, UInt64(tooBig.count)),
            .init("write small last", Int32(SYS_write), pointingAt: small, in: 1, fd, 0, UInt64(small.count)),
        ])) { error in
            guard case .unsupported = error as? RestoreError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(contents(paths[0]), small + big + small, "a call after the refused one ran")
    }
}

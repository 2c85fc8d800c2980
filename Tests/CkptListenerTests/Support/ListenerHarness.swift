#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import Logging
import XCTest
@testable import CkptListener

/// A real listener on a real NETLINK_USERSOCK socket, in this process, on its own thread,
/// writing into a fresh temporary directory.
final class ListenerHarness: @unchecked Sendable {
    let directory: String
    let source: NetlinkSource
    let listener: Listener
    private var thread: JoinableThread?
    private var outcome: Listener.Outcome?
    private let done = ConditionLock()

    var port: UInt32 { source.portID }

    init(
        directory: String? = nil, configure: (inout ListenerConfiguration) -> Void = { _ in },
        makeWriter: @escaping StreamImageWriterFactory = ImageWriters.standard
    ) throws {
        self.directory = try directory ?? makeTemporaryDirectory()
        var configuration = ListenerConfiguration(directory: self.directory)
        configuration.statsIntervalNs = 100_000_000
        configure(&configuration)
        source = try NetlinkSource.usersock(receiveBuffer: configuration.socketReceiveBuffer)
        var logger = Logger(label: "ckpt.listen.test")
        logger.logLevel = ProcessInfo.processInfo.environment["CKPT_TEST_LOGS"] != nil ? .debug : .critical
        listener = try Listener(configuration: configuration, source: source, logger: logger, makeWriter: makeWriter)
    }

    func start() {
        thread = JoinableThread { [self] in
            let result = listener.run()
            done.withLock { outcome = result }
            done.broadcast()
        }
    }

    /// Waits for `run()` to return (it must, within `seconds`).
    func wait(seconds: Double = 20, file: StaticString = #filePath, line: UInt = #line) -> Listener.Outcome? {
        let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
        let result: Listener.Outcome? = done.withLock {
            while outcome == nil, monotonicNanoseconds() < deadline { done.wait(untilNs: deadline) }
            return outcome
        }
        if result == nil {
            XCTFail("listener did not stop within \(seconds) s", file: file, line: line)
            listener.requestStop()
        }
        thread?.join()
        return result
    }

    func stop() -> Listener.Outcome? {
        listener.requestStop()
        return wait()
    }

    func files() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { !$0.hasPrefix(".ckpt-") }.sorted() ?? []
    }

    func read(_ name: String) -> String? {
        try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    func size(_ name: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name))?[.size] as? Int
    }
}

/// A fresh directory under this test process's own temporary folder, which is removed when
/// the process exits (set `CKPT_TEST_KEEP=1` to keep it for a post-mortem).
func makeTemporaryDirectory() throws -> String {
    var template = Array((testRoot + "/d.XXXXXX").utf8CString)
    guard let path = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: path)
}

private let testRoot: String = {
    var template = Array((NSTemporaryDirectory() + "/ckpt-listen-test.XXXXXX").utf8CString)
    let root = String(cString: mkdtemp(&template)!)
    testRootForCleanup = root
    if ProcessInfo.processInfo.environment["CKPT_TEST_KEEP"] == nil {
        atexit {
            // Mount points (the disk-full tests) are unmounted in their tearDown; whatever
            // is still mounted stays, with its folder.
            if let root = testRootForCleanup { try? FileManager.default.removeItem(atPath: root) }
        }
    }
    return root
}()

nonisolated(unsafe) private var testRootForCleanup: String?

#if canImport(Glibc)
import Glibc
#endif
@testable import CkptCLI
import Foundation
import XCTest

/// `ckpt checkpoint --tree`'s view of a process tree, from /proc, of real processes.
final class ProcessTreeTests: XCTestCase {
    /// A shell with two children, one of which has a child: four processes, breadth first
    /// (the root, its children, then the grandchild); a stopped process's state letter is
    /// "T"; a pid that does not exist has no tree.
    func testTheTreeBreadthFirstFromProc() throws {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "sleep 60 & sh -c 'sleep 60 & wait' & wait"]
        try shell.run()
        defer {
            let pids = ProcessTree.read(root: shell.processIdentifier)?.pids ?? [shell.processIdentifier]
            for p in pids.reversed() { kill(p, SIGKILL) }
            shell.waitUntilExit()
        }
        var tree: ProcessTree?
        for _ in 0..<200 {
            tree = ProcessTree.read(root: shell.processIdentifier)
            if tree?.pids.count == 4 { break }
            usleep(10_000)
        }
        let pids = try XCTUnwrap(tree).pids
        XCTAssertEqual(pids.count, 4, "\(pids)")
        XCTAssertEqual(pids.first, shell.processIdentifier)
        func parent(_ p: Int32) -> Int32? {
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            return Int32(stat[stat.index(after: close)...].split(separator: " ")[1])
        }
        XCTAssertEqual(pids[1...2].map(parent), [shell.processIdentifier, shell.processIdentifier])
        XCTAssertTrue(pids[1...2].contains(try XCTUnwrap(parent(pids[3]))), "the grandchild comes last: \(pids)")

        kill(pids[3], SIGSTOP)
        var state: Character?
        for _ in 0..<200 {
            state = ProcessTree.state(pids[3])
            if state == "T" { break }
            usleep(10_000)
        }
        XCTAssertEqual(state, "T")
        XCTAssertNil(ProcessTree.read(root: 0x3fff_fff0))
    }
}

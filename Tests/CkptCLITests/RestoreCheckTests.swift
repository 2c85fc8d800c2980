#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
@testable import CkptCLI
import CkptImage
import CkptProtocol
import CkptTestSupport
import Foundation
import XCTest

/// `ckpt restore --check`: the plan's answer, and no process.
final class RestoreCheckTests: XCTestCase {
    /// A one-thread image with one anonymous mapping and `files` (their pipe records by
    /// index), of this user's process.
    func image(files: [FileMeta] = [], pipes: [Int: PipeMeta] = [:], pid: UInt32 = 77, ppid: UInt32 = 1,
               header: HeaderMeta = HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1),
               crid: UInt64 = 1, path: String? = nil) throws -> String {
        let f = try ImageFixture("restore-check", crid: crid, path: path)
        _ = try f.record(.header(header), parent: 0)
        let task = try f.record(.task(TaskMeta(pid: pid, tgid: pid, ppid: ppid, comm: "t", uid: getuid(), gid: getgid(),
                                               euid: geteuid(), egid: getegid())), parent: 0)
        _ = try f.record(.regs(RegsMeta(tid: 77)), parent: task, data: [UInt8](repeating: 0, count: 216))
        let mm = try f.record(.mm(MMMeta(startCode: 0x40_0000, endCode: 0x40_1000, startData: 0, endData: 0, startBrk: 0,
                                         brk: 0, startStack: 0, argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)), parent: task)
        _ = try f.record(.vma(VMAMeta(start: 0x1000_0000, end: 0x1000_2000, vmFlags: 0x3 | 0x70, pgoff: 0x1000_0)), parent: mm)
        for (i, file) in files.enumerated() {
            let id = try f.record(.file(file), parent: task)
            if let p = pipes[i] { _ = try f.record(.pipe(p), parent: id) }
        }
        _ = try f.record(.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 1, nrPagesTotal: 0, nrFiles: UInt32(files.count))), parent: 0)
        return try f.finish().1
    }

    func testCheckSaysRestorableOrWhyNotAndStartsNothing() throws {
        let good = try image()
        defer { unlink(good) }
        let a = try ckpt(["restore", good, "--check"])
        XCTAssertEqual(a.status, 0, a.all)
        XCTAssertTrue(a.stdout.contains("\(good): restorable: 1 thread, 1 mappings, 0 fds"), a.all)
        XCTAssertFalse(a.all.contains("starting the new process"), a.all)

        // Its stdout a pipe whose read end another process held: refused, as the restore
        // would be; with --inherit-fd 1 (this command's own stdout instead), restorable; an
        // fd the image lacks is refused by name.
        let w = FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[88]")
        let piped = try image(files: [w], pipes: [0: PipeMeta(size: 65536, bytes: 0)])
        defer { unlink(piped) }
        let b = try ckpt(["restore", piped, "--check"])
        XCTAssertEqual(b.status, 1, b.all)
        XCTAssertTrue(b.stderr.contains("refused: fd 1 (pipe:[88]): its read end is held by another process"), b.all)
        let c = try ckpt(["restore", piped, "--check", "--inherit-fd", "1"])
        XCTAssertEqual(c.status, 0, c.all)
        XCTAssertTrue(c.stdout.contains("restorable: 1 thread, 1 mappings, 1 fds"), c.all)
        let d = try ckpt(["restore", piped, "--check", "--inherit-fd", "1,2"])
        XCTAssertEqual(d.status, 1, d.all)
        XCTAssertTrue(d.stderr.contains("refused: --inherit-fd 2: the image has no fd 2 (its fds: 1)"), d.all)
    }

    /// --timings: each progress line begins with the wall-clock time it was written, from
    /// `reading IMAGE` at the start to `done`, in order and within this test's own clock;
    /// without it, no stamped line (the plain restore's stderr is unchanged).
    func testTimingsStampTheFirstAndLastLinesWithTheWallClock() throws {
        let good = try image()
        defer { unlink(good) }
        let before = Date().timeIntervalSince1970
        let a = try ckpt(["restore", good, "--check", "--timings"])
        let after = Date().timeIntervalSince1970
        XCTAssertEqual(a.status, 0, a.all)
        let lines = a.stderr.split(separator: "\n").filter { $0.hasPrefix("ckpt restore: ") && !$0.contains(": warning: ") }
        XCTAssertEqual(lines.count, 2, a.all)
        var times: [Double] = []
        for (line, what) in zip(lines, ["reading \(good)", "done"]) {
            let words = line.dropFirst("ckpt restore: ".count).split(separator: " ", maxSplits: 1)
            XCTAssertEqual(words.count, 2, String(line))
            XCTAssertEqual(words.last.map(String.init), what, String(line))
            let stamp = String(words[0])
            XCTAssertEqual(stamp.split(separator: ".").last?.count, 6, "six decimals: \(line)")
            times.append(try XCTUnwrap(Double(stamp), String(line)))
        }
        XCTAssertLessThanOrEqual(times[0], times[1])
        XCTAssertGreaterThanOrEqual(times[0], before.rounded(.down) - 1)
        XCTAssertLessThanOrEqual(times[1], after + 1)
        let b = try ckpt(["restore", good, "--check"])
        XCTAssertEqual(b.status, 0, b.all)
        XCTAssertFalse(b.stderr.split(separator: "\n").contains { $0.hasPrefix("ckpt restore: ") && $0.dropFirst(14).first?.isNumber == true }, b.all)
    }

    func testStepTimesFormatsSecondsToTheMicrosecondPadded() {
        XCTAssertEqual(StepTimes.format(1_765_115_123_000_042_999), "1765115123.000042")
        XCTAssertEqual(StepTimes.format(1_765_115_123_987_654_321), "1765115123.987654")
        XCTAssertEqual(StepTimes.format(999), "0.000000")
        XCTAssertEqual(StepTimes(enabled: false).prefix, "")
        XCTAssertTrue(StepTimes(enabled: true).prefix.hasSuffix(" "))
    }

    /// Several images are one process tree: planned together (a pipe between a parent and
    /// its child is no refusal), said restorable with the tree's shape; images that are not
    /// one tree are refused as such, before any pipe of theirs is.
    func testCheckPlansSeveralImagesAsOneTree() throws {
        // Both hold one open file too (an inherited stdout): counted in the tree's line.
        let null = FileMeta(fd: 2, fFlags: UInt32(O_WRONLY), pos: 0, path: "/dev/null", fileID: 0x5eed)
        let parent = try image(files: [FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[88]"), null],
                               pipes: [0: PipeMeta(size: 65536, bytes: 0)], pid: 70)
        let child = try image(files: [FileMeta(fd: 0, fFlags: UInt32(O_RDONLY), pos: 0, path: "pipe:[88]"), null],
                              pipes: [0: PipeMeta(size: 65536, bytes: 0)], pid: 71, ppid: 70)
        let stranger = try image(pid: 90, ppid: 5)
        defer { for p in [parent, child, stranger] { unlink(p) } }
        let a = try ckpt(["restore", child, parent, "--check"])
        XCTAssertEqual(a.status, 0, a.all)
        XCTAssertTrue(a.stdout.contains("\(parent): restorable: 1 thread, 1 mappings, 2 fds\n\(child): restorable"), a.all)
        XCTAssertTrue(a.stdout.contains("tree of 2 processes (root pid 70), 1 pipe and 0 socketpairs between them, 1 open file they share: restorable"),
                      a.all)
        let b = try ckpt(["restore", child, parent, stranger, "--check"])
        XCTAssertEqual(b.status, 1, b.all)
        XCTAssertTrue(b.stderr.contains("refused: images: they are not one process tree: 2 processes whose parent is not among them"), b.all)
        let c = try ckpt(["restore", child, "--check"])
        XCTAssertEqual(c.status, 1, c.all)
        XCTAssertTrue(c.stderr.contains("its write end is held by another process"), c.all)
    }

    /// `--inherit-fd` in a tree: the root's fd, and each process's fd of the same open file at
    /// that number, are the command's; what they held (here a pipe to a process outside the
    /// tree, which would be refused) is not planned. A child whose fd of that number is
    /// another file keeps it as its own.
    func testInheritFdInATreeReplacesTheRootsOpenFileWhereverItWasInherited() throws {
        let logger = FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[99]", fileID: 0x10)
        let parent = try image(files: [logger], pipes: [0: PipeMeta(size: 65536, bytes: 0)], pid: 80)
        let child = try image(files: [logger], pipes: [0: PipeMeta(size: 65536, bytes: 0)], pid: 81, ppid: 80)
        let own = try image(files: [FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 0, path: "/dev/null", fileID: 0x11)], pid: 82, ppid: 80)
        defer { for p in [parent, child, own] { unlink(p) } }
        let a = try ckpt(["restore", child, parent, own, "--check"])
        XCTAssertEqual(a.status, 1, a.all)
        XCTAssertTrue(a.stderr.contains("its read end is held by a process outside the restored tree"), a.all)
        let b = try ckpt(["restore", child, parent, own, "--inherit-fd", "1", "--check"])
        XCTAssertEqual(b.status, 0, b.all)
        XCTAssertTrue(b.stdout.contains("tree of 3 processes (root pid 80), 0 pipes and 0 socketpairs between them: restorable"), b.all)
        // Which processes' fds are the command's: the root's and the child's, not the other child's.
        XCTAssertTrue(b.stdout.contains("\(parent): restorable: 1 thread, 1 mappings, 1 fds (1: --inherit-fd)\n"), b.all)
        XCTAssertTrue(b.stdout.contains("\(child): restorable: 1 thread, 1 mappings, 1 fds (1: --inherit-fd)\n"), b.all)
        XCTAssertTrue(b.stdout.contains("\(own): restorable: 1 thread, 1 mappings, 1 fds\n"), b.all)
        // The child of another open file at fd 1 keeps its own: a pipe to the outside there is refused.
        let stranger = try image(files: [FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[98]", fileID: 0x12)],
                                 pipes: [0: PipeMeta(size: 65536, bytes: 0)], pid: 83, ppid: 80)
        defer { unlink(stranger) }
        let c = try ckpt(["restore", child, parent, stranger, "--inherit-fd", "1", "--check"])
        XCTAssertEqual(c.status, 1, c.all)
        XCTAssertTrue(c.stderr.contains("\(stranger): refused: fd 1 (pipe:[98])"), c.all)
    }

    /// `ckpt checkpoint --pre-copy --wait` lists the pre-copy's image and the checkpoint's:
    /// given both, the pre-copy is read as the checkpoint's parent, not planned as a process
    /// (which would be a second process of the same pid); a pre-copy no image names is
    /// refused as one alone is.
    func testAPreCopyBesideItsCheckpointIsItsParent() throws {
        let dir = NSTemporaryDirectory() + "ckpt-pre-copy-check-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let preCopy = try image(pid: 70, header: HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1,
                                                            checkpointFlags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue)),
                                crid: 5, path: dir + "/5.ckpt")
        let final = try image(pid: 70, header: HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 2, parentCrid: 5),
                              crid: 6, path: dir + "/6.ckpt")
        let a = try ckpt(["restore", preCopy, final, "--check"])
        XCTAssertEqual(a.status, 0, a.all)
        XCTAssertTrue(a.stdout.contains("\(final): restorable: 1 thread"), a.all)
        XCTAssertFalse(a.all.contains(preCopy + ":"), a.all)
        let other = try image(pid: 70, header: HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1,
                                                          checkpointFlags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue)),
                              crid: 9, path: dir + "/9.ckpt")
        let b = try ckpt(["restore", final, other, "--check"])
        XCTAssertEqual(b.status, 1, b.all)
        XCTAssertTrue(b.stderr.contains("\(other): refused: a pre-copy holds memory only"), b.all)
        XCTAssertTrue(b.stderr.contains("names crid 9 as its parent"), b.all)
    }
}

/// A zombie's image (header, task with exit-status, trailer: what the kernel streams for one)
/// is an ordinary image to the inspecting commands.
final class ZombieImageTests: XCTestCase {
    func testAZombiesImageVerifiesListsAndShows() throws {
        let dir = NSTemporaryDirectory() + "ckpt-zombie-image-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try ImageFixture("zombie", crid: 4, path: dir + "/4.ckpt")
        _ = try f.record(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1,
                                            checkpointFlags: UInt32(CKPT_CHECKPOINT_FLAGS_ZOMBIE.rawValue))), parent: 0)
        _ = try f.record(.task(TaskMeta(pid: 31, tgid: 31, ppid: 30, comm: "z", uid: getuid(), gid: getgid(), euid: geteuid(),
                                        egid: getegid(), pgid: 30, sid: 30, exitStatus: 15)), parent: 0)
        _ = try f.record(.trailer(TrailerMeta(nrThreads: 0, nrVMAs: 0, nrPagesTotal: 0, nrFiles: 0)), parent: 0)
        let path = try f.finish().1
        let v = try ckpt(["verify", path])
        XCTAssertEqual(v.status, 0, v.all)
        let l = try ckpt(["list", dir])
        XCTAssertEqual(l.status, 0, l.all)
        let row = l.stdout.split(separator: "\n").first { $0.hasPrefix("4 ") }
        XCTAssertTrue(row?.hasSuffix("complete (zombie, killed by signal 15: restore it with its parent's tree)") == true, l.all)
        let j = try ckpt(["list", dir, "--json"])
        XCTAssertTrue(j.stdout.contains("\"exit_status\":15") || j.stdout.contains("\"exit_status\": 15"), j.all)
        let s = try ckpt(["show", path])
        XCTAssertEqual(s.status, 0, s.all)
        XCTAssertTrue(s.stdout.contains("pid 31 tgid 31 ppid 30 pgid 30 sid 30") && s.stdout.contains("zombie (killed by signal 15)"), s.all)
        let r = try ckpt(["restore", path, "--check"])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertTrue(r.stderr.contains("pid 31 was a zombie (killed by signal 15): it comes back only with its parent"), r.all)
    }
}

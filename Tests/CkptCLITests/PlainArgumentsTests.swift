import ArgumentParser
@testable import CkptCLI
import XCTest

/// `PlainArguments` against ArgumentParser, command line by command line: whatever the plain
/// parser takes, ArgumentParser must parse to the same run (every field compared), and the
/// plain parser must take the common command lines.
final class PlainArgumentsTests: XCTestCase {
    /// The plain parser's run for `arguments` (if it takes them) equals ArgumentParser's.
    /// Returns whether each took them.
    func compare<Run: Equatable>(_ arguments: [String], plain: (ArraySlice<String>) -> Run?,
                                 parsed: ([String]) -> Run?) -> (plain: Bool, parser: Bool) {
        let mine = plain(arguments[...])
        let theirs = parsed(arguments)
        if let mine { XCTAssertEqual(mine, theirs, "\(arguments)") }
        return (mine != nil, theirs != nil)
    }

    func compareRestore(_ arguments: [String]) -> (plain: Bool, parser: Bool) {
        compare(arguments, plain: PlainArguments.restore,
                parsed: { ((try? RestoreCommand.parseAsRoot($0)) as? RestoreCommand).map(RestoreRun.init) })
    }

    func compareCheckpoint(_ arguments: [String]) -> (plain: Bool, parser: Bool) {
        compare(arguments, plain: PlainArguments.checkpoint,
                parsed: { ((try? CheckpointCommand.parseAsRoot($0)) as? CheckpointCommand).map(CheckpointRun.init) })
    }

    /// Both parsers over `count` command lines from `pool`: they agree (`compare`), and both
    /// sides were exercised (ArgumentParser took many and refused many, and the plain parser
    /// took a good share of what it took).
    func agree(_ pool: [[String]], positional: String, seed: UInt64,
               _ compare: ([String]) -> (plain: Bool, parser: Bool)) {
        var plain = 0, parser = 0
        for arguments in commandLines(pool, positional: positional, count: 3000, seed: seed) {
            let (p, a) = compare(arguments)
            plain += p ? 1 : 0
            parser += a ? 1 : 0
        }
        XCTAssertGreaterThan(parser, 300)
        XCTAssertLessThan(parser, 2700)
        XCTAssertGreaterThan(plain, parser / 3)
    }

    /// Command lines of up to five of `pool`'s tokens, `count` of them, deterministic; every
    /// other one with `positional` at a random place.
    func commandLines(_ pool: [[String]], positional: String, count: Int, seed: UInt64) -> [[String]] {
        var state = seed
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        return (0..<count).map { k in
            var line = (0..<next(6)).flatMap { _ in pool[next(pool.count)] }
            if k % 2 == 0 { line.insert(positional, at: next(line.count + 1)) }
            return line
        }
    }

    func testTheCommonRestoresAreTakenAsArgumentParserParsesThem() {
        let common: [[String]] = [
            ["/var/lib/ckpt/7.ckpt"], ["7", "--dir", "/var/lib/ckpt"], ["7.ckpt", "--stopped"],
            ["/tmp/8.ckpt", "--pid", "same", "--shell-job"], ["--memory-by", "kernel", "/tmp/8.ckpt"],
            ["/tmp/9.ckpt", "--tcp-close"], ["/tmp/9.ckpt", "--unix-close", "--tcp-close"],
            ["/tmp/8.ckpt", "--parent=/tmp/7.ckpt", "--verify", "--progress", "never"],
            ["s3://bucket/host/7.ckpt", "--no-verify", "--pid=new", "--dir=/x"],
            ["/tmp/9.ckpt", "--inherit-fd", "1,2"], ["/tmp/9.ckpt", "--inherit-fd=0"], ["/tmp/9.ckpt", "--check"],
            ["/tmp/9.ckpt", "--timings"],
        ]
        for arguments in common {
            XCTAssertEqual(compareRestore(arguments).plain, true, "\(arguments)")
        }
    }

    func testTheCommonCheckpointsAreTakenAsArgumentParserParsesThem() {
        let common: [[String]] = [
            ["1234", "--stop"], ["1234"], ["1234", "--stop", "--wait", "/var/lib/ckpt"],
            ["1234", "--pre-copy", "--wait=/var/lib/ckpt", "--wait-timeout", "2.5"],
            ["--timeout-ms", "120000", "99", "--stop"], ["+7", "--wait-timeout=1e3"],
            ["1234", "--tree", "--stop", "--wait", "/var/lib/ckpt"],
        ]
        for arguments in common {
            XCTAssertEqual(compareCheckpoint(arguments).plain, true, "\(arguments)")
        }
    }

    func testRestoreCommandLinesAgreeWithArgumentParser() {
        let pool: [[String]] = [
            ["/tmp/7.ckpt"], ["7"], ["-7"], [""], ["--"], ["-h"], ["--help"], ["--version"], ["--bogus"],
            ["--dir", "/x"], ["--dir=/y"], ["--dir"], ["--dir", "-x"], ["--dir=-x"], ["--dir="],
            ["--stopped"], ["--stopped=true"], ["--shell-job"], ["--tcp-close"], ["--tcp-close=yes"], ["--unix-close"], ["--verify"], ["--no-verify"], ["--verify=1"],
            ["--progress", "always"], ["--progress", "sometimes"], ["--progress=never"],
            ["--parent", "/tmp/6.ckpt"], ["--parent="], ["--parent"],
            ["--pid", "any"], ["--pid", "same"], ["--pid=new"], ["--pid", "old"], ["--pid", "SAME"],
            ["--memory-by", "kernel"], ["--memory-by=process"], ["--memory-by", "both"],
            ["--inherit-fd", "1"], ["--inherit-fd", "1,2,1"], ["--inherit-fd=3,0"], ["--inherit-fd", "1,,2"], ["--inherit-fd", "x"],
            ["--inherit-fd", "-1"], ["--inherit-fd=-1"], ["--inherit-fd", "2147483648"], ["--inherit-fd="],
            ["--check"], ["--check=yes"], ["--timings"], ["--timings=1"],
        ]
        agree(pool, positional: "/tmp/8.ckpt", seed: 24, compareRestore)
    }

    func testCheckpointCommandLinesAgreeWithArgumentParser() {
        let pool: [[String]] = [
            ["1234"], ["0"], ["-5"], ["+6"], ["0x10"], ["12a"], ["99999999999"], ["--"], ["-h"], ["--bogus"],
            ["--stop"], ["--stop=yes"], ["--pre-copy"], ["--tree"], ["--tree=1"], ["--timeout-ms", "500"], ["--timeout-ms", "0"],
            ["--timeout-ms=-1"], ["--timeout-ms"], ["--wait", "/var/lib/ckpt"], ["--wait="], ["--wait", "-d"],
            ["--wait-timeout", "2"], ["--wait-timeout", "0"], ["--wait-timeout=inf"], ["--wait-timeout", "nan"],
            ["--wait-timeout", "x"],
        ]
        agree(pool, positional: "4321", seed: 13, compareCheckpoint)
    }

    /// `ckpt restore` and `ckpt checkpoint` take the plain way from `Ckpt.main`; nothing else does.
    func testCkptTakesThePlainWay() {
        XCTAssertNotNil(PlainArguments.run(["restore", "/tmp/7.ckpt"]))
        XCTAssertNotNil(PlainArguments.run(["checkpoint", "1234", "--stop"]))
        XCTAssertNil(PlainArguments.run(["verify", "/tmp/7.ckpt"]))
        XCTAssertNil(PlainArguments.run(["restore", "--help"]))
        XCTAssertNil(PlainArguments.run(["checkpoint", "0"]), "invalid: ArgumentParser says why")
        XCTAssertNil(PlainArguments.run(["checkpoint", "5", "--stop", "--pre-copy"]), "invalid: ArgumentParser says why")
        XCTAssertNil(PlainArguments.run(["checkpoint", "5", "--tree", "--stop", "--pre-copy"]), "invalid: ArgumentParser says why")
        XCTAssertNotNil(PlainArguments.run(["checkpoint", "5", "--tree", "--pre-copy"]))
        // Several images (a tree): ArgumentParser's, which takes them.
        XCTAssertNil(PlainArguments.run(["restore", "/tmp/7.ckpt", "/tmp/8.ckpt"]))
        XCTAssertEqual(((try? RestoreCommand.parseAsRoot(["/tmp/7.ckpt", "/tmp/8.ckpt"])) as? RestoreCommand).map(RestoreRun.init)?.images,
                       ["/tmp/7.ckpt", "/tmp/8.ckpt"])
        XCTAssertNil(PlainArguments.run([]))
    }

    /// The command's own validation is the run's: the same words either way.
    func testCheckpointValidationIsTheRuns() throws {
        XCTAssertThrowsError(try CheckpointCommand.parseAsRoot(["5", "--stop", "--pre-copy"])) { error in
            XCTAssertTrue(CheckpointCommand.message(for: error).contains("drop --stop"), CheckpointCommand.message(for: error))
        }
        XCTAssertEqual(CheckpointRun(pid: 5, stop: true, preCopy: true, timeoutMs: nil, wait: nil, waitTimeout: 30).invalid,
                       "--pre-copy stops the process itself (for the final copy only): drop --stop")
        XCTAssertNotNil(CheckpointRun(pid: 5, stop: false, preCopy: false, timeoutMs: nil, wait: nil, waitTimeout: .nan).invalid)
        XCTAssertNil(CheckpointRun(pid: 5, stop: false, preCopy: true, timeoutMs: nil, wait: nil, waitTimeout: 30, tree: true).invalid)
        XCTAssertEqual(CheckpointRun(pid: 5, stop: true, preCopy: true, timeoutMs: nil, wait: nil, waitTimeout: 30, tree: true).invalid,
                       "--pre-copy stops the process itself (for the final copy only): drop --stop")
        // --hold: wherever a freeze is asked for (--stop, --pre-copy's final copy, a tree's);
        // not for a process stopped by someone else, whom nothing here would continue.
        XCTAssertNil(CheckpointRun(pid: 5, stop: true, preCopy: false, timeoutMs: nil, wait: nil, waitTimeout: 30, hold: true).invalid)
        XCTAssertEqual(CheckpointRun(pid: 5, stop: false, preCopy: false, timeoutMs: nil, wait: nil, waitTimeout: 30, hold: true).invalid,
                       "--hold ends a freeze this command asks for as soon as the kernel has read the process: add --stop (or --pre-copy)")
        XCTAssertNil(CheckpointRun(pid: 5, stop: true, preCopy: false, timeoutMs: nil, wait: nil, waitTimeout: 30, tree: true, hold: true).invalid)
        XCTAssertNil(CheckpointRun(pid: 5, stop: false, preCopy: true, timeoutMs: nil, wait: nil, waitTimeout: 30, hold: true).invalid)
        XCTAssertNil(CheckpointRun(pid: 5, stop: false, preCopy: true, timeoutMs: nil, wait: nil, waitTimeout: 30, tree: true, hold: true).invalid)
        XCTAssertNotNil(CheckpointRun(pid: 5, stop: false, preCopy: false, timeoutMs: nil, wait: nil, waitTimeout: 30, tree: true, hold: true).invalid)
        XCTAssertEqual(PlainArguments.checkpoint(["5", "--stop", "--hold"])?.hold, true)
        XCTAssertNil(PlainArguments.checkpoint(["5", "--hold"]), "invalid: ArgumentParser says why")
        XCTAssertThrowsError(try CheckpointCommand.parseAsRoot(["5", "--hold"])) { error in
            XCTAssertTrue(CheckpointCommand.message(for: error).contains("add --stop"), CheckpointCommand.message(for: error))
        }
    }
}

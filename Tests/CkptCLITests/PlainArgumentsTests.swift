import ArgumentParser
@testable import CkptCLI
import XCTest

/// `PlainArguments` against ArgumentParser, command line by command line: whatever the plain
/// parser takes, ArgumentParser must parse to the same command, field by field, with every
/// property set; and the plain parser must take the common command lines.
final class PlainArgumentsTests: XCTestCase {
    /// Every field of a restore, as text (reading an unparsed property would trap).
    func fields(_ c: RestoreCommand) -> String {
        "\(c.imageArgument)|\(c.location.dir)|\(c.stopped)|\(c.shellJob)|\(c.progress.progress)|"
            + "\(String(describing: c.parent))|\(c.pid)|\(c.memoryBy)|\(c.verify)"
    }

    func fields(_ c: CheckpointCommand) -> String {
        "\(c.pid)|\(c.stop)|\(c.preCopy)|\(String(describing: c.timeoutMs))|\(String(describing: c.wait))|\(c.waitTimeout)"
    }

    /// The property wrappers of `value` (recursing into option groups) that hold no value:
    /// a property the plain parser forgot, which the command would trap on reading.
    func unset(_ value: Any, _ path: String = "") -> [String] {
        var found: [String] = []
        for child in Mirror(reflecting: value).children {
            guard let label = child.label, label.hasPrefix("_"),
                  let parsed = Mirror(reflecting: child.value).children.first(where: { $0.label == "_parsedValue" })
            else { continue }
            let state = Mirror(reflecting: parsed.value)
            guard let (name, held) = state.children.first.map({ ($0.label, $0.value) }), name == "value" else {
                found.append(path + label)
                continue
            }
            found += unset(held, path + label + ".")
        }
        return found
    }

    func compareRestore(_ arguments: [String]) -> (plain: Bool, parser: Bool) {
        let plain = PlainArguments.restore(arguments[...])
        let parsed = (try? RestoreCommand.parseAsRoot(arguments)) as? RestoreCommand
        if let plain {
            let missing = unset(plain)
            guard missing.isEmpty else {  // reading one would trap
                XCTFail("the plain parser left \(missing) unset for \(arguments)")
                return (true, parsed != nil)
            }
            guard let parsed else {
                XCTFail("the plain parser took \(arguments), ArgumentParser refuses it")
                return (true, false)
            }
            XCTAssertEqual(fields(plain), fields(parsed), "\(arguments)")
        }
        return (plain != nil, parsed != nil)
    }

    func compareCheckpoint(_ arguments: [String]) -> (plain: Bool, parser: Bool) {
        let plain = PlainArguments.checkpoint(arguments[...])
        let parsed = (try? CheckpointCommand.parseAsRoot(arguments)) as? CheckpointCommand
        if let plain {
            let missing = unset(plain)
            guard missing.isEmpty else {  // reading one would trap
                XCTFail("the plain parser left \(missing) unset for \(arguments)")
                return (true, parsed != nil)
            }
            guard let parsed else {
                XCTFail("the plain parser took \(arguments), ArgumentParser refuses it")
                return (true, false)
            }
            XCTAssertEqual(fields(plain), fields(parsed), "\(arguments)")
        }
        return (plain != nil, parsed != nil)
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
            ["/tmp/8.ckpt", "--parent=/tmp/7.ckpt", "--verify", "--progress", "never"],
            ["s3://bucket/host/7.ckpt", "--no-verify", "--pid=new", "--dir=/x"],
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
        ]
        for arguments in common {
            XCTAssertEqual(compareCheckpoint(arguments).plain, true, "\(arguments)")
        }
    }

    func testRestoreCommandLinesAgreeWithArgumentParser() {
        let pool: [[String]] = [
            ["/tmp/7.ckpt"], ["7"], ["-7"], [""], ["--"], ["-h"], ["--help"], ["--version"], ["--bogus"],
            ["--dir", "/x"], ["--dir=/y"], ["--dir"], ["--dir", "-x"], ["--dir=-x"], ["--dir="],
            ["--stopped"], ["--stopped=true"], ["--shell-job"], ["--verify"], ["--no-verify"], ["--verify=1"],
            ["--progress", "always"], ["--progress", "sometimes"], ["--progress=never"],
            ["--parent", "/tmp/6.ckpt"], ["--parent="], ["--parent"],
            ["--pid", "any"], ["--pid", "same"], ["--pid=new"], ["--pid", "old"], ["--pid", "SAME"],
            ["--memory-by", "kernel"], ["--memory-by=process"], ["--memory-by", "both"],
        ]
        var plain = 0, parser = 0
        for arguments in commandLines(pool, positional: "/tmp/8.ckpt", count: 3000, seed: 24) {
            let (p, a) = compareRestore(arguments)
            plain += p ? 1 : 0
            parser += a ? 1 : 0
        }
        // Both sides were exercised: ArgumentParser took many, refused many, and the plain
        // parser took a good share of what it took.
        XCTAssertGreaterThan(parser, 300)
        XCTAssertLessThan(parser, 2700)
        XCTAssertGreaterThan(plain, parser / 3)
    }

    func testCheckpointCommandLinesAgreeWithArgumentParser() {
        let pool: [[String]] = [
            ["1234"], ["0"], ["-5"], ["+6"], ["0x10"], ["12a"], ["99999999999"], ["--"], ["-h"], ["--bogus"],
            ["--stop"], ["--stop=yes"], ["--pre-copy"], ["--timeout-ms", "500"], ["--timeout-ms", "0"],
            ["--timeout-ms=-1"], ["--timeout-ms"], ["--wait", "/var/lib/ckpt"], ["--wait="], ["--wait", "-d"],
            ["--wait-timeout", "2"], ["--wait-timeout", "0"], ["--wait-timeout=inf"], ["--wait-timeout", "nan"],
            ["--wait-timeout", "x"],
        ]
        var plain = 0, parser = 0
        for arguments in commandLines(pool, positional: "4321", count: 3000, seed: 13) {
            let (p, a) = compareCheckpoint(arguments)
            plain += p ? 1 : 0
            parser += a ? 1 : 0
        }
        XCTAssertGreaterThan(parser, 300)
        XCTAssertLessThan(parser, 2700)
        XCTAssertGreaterThan(plain, parser / 3)
    }

    /// A property the plain parser does not set is found (the guard the tests above rely on).
    func testAnUnsetPropertyIsFound() {
        var c = RestoreCommand()
        c.imageArgument = "/tmp/7.ckpt"
        let missing = unset(c)
        XCTAssertTrue(missing.contains("_stopped"), "\(missing)")
        XCTAssertTrue(missing.contains("_location"), "\(missing)")
        XCTAssertFalse(missing.contains("_imageArgument"), "\(missing)")
        var location = ImageLocationOptions()
        c.location = location
        XCTAssertEqual(unset(c).filter { $0.hasPrefix("_location") }, ["_location._dir"])
        location.dir = "/x"
        c.location = location
        XCTAssertEqual(unset(c).filter { $0.hasPrefix("_location") }, [])
    }

    /// `ckpt restore` and `ckpt checkpoint` reach the plain parser from `Ckpt.main`'s path.
    func testCkptTakesThePlainWay() {
        XCTAssertNotNil(PlainArguments.command(["restore", "/tmp/7.ckpt"]))
        XCTAssertNotNil(PlainArguments.command(["checkpoint", "1234", "--stop"]))
        XCTAssertNil(PlainArguments.command(["verify", "/tmp/7.ckpt"]))
        XCTAssertNil(PlainArguments.command(["checkpoint", "0"]), "validate() refuses it")
        XCTAssertTrue(Ckpt.parseSubcommandDirectly(["restore", "/tmp/7.ckpt", "--pid", "same"]) is RestoreCommand)
    }
}

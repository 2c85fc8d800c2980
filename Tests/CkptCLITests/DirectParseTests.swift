import ArgumentParser
@testable import CkptCLI
import XCTest

/// `Ckpt.main` parses `ckpt SUB ARGS` with the subcommand alone (it skips ArgumentParser's
/// second and third parse for `--generate-completion-script`) and everything else from the
/// root. These tests pin which command lines take which way and that the user sees the same.
final class DirectParseTests: XCTestCase {
    func testASubcommandRunIsParsedWithoutTheRoot() throws {
        XCTAssertTrue(Ckpt.parseSubcommandDirectly(["restore", "/tmp/7.ckpt"]) is RestoreCommand)
        XCTAssertTrue(Ckpt.parseSubcommandDirectly(["verify", "/tmp/7.ckpt"]) is VerifyCommand)
        let checkpoint = try XCTUnwrap(Ckpt.parseSubcommandDirectly(["checkpoint", "1234", "--stop"]) as? CheckpointCommand)
        XCTAssertEqual(checkpoint.pid, 1234)
        XCTAssertTrue(checkpoint.stop)
    }

    func testEverythingElseIsParsedFromTheRoot() {
        let rootOnly: [[String]] = [
            [], ["--help"], ["--version"], ["help", "restore"], ["nosuch"],
            ["restore", "--help"], ["restore", "-h"], ["restore"],  // help; a missing argument
            ["restore", "--version"], ["restore", "--generate-completion-script", "bash"],
            ["checkpoint", "0"],  // the command's own validate() refuses it
        ]
        for arguments in rootOnly {
            XCTAssertNil(Ckpt.parseSubcommandDirectly(arguments), "\(arguments)")
        }
    }

    /// Without `_superCommandName` a subcommand parsed as the root runs ArgumentParser's
    /// completion check: still correct, but the start is no faster. A new subcommand must
    /// name the root too.
    func testEverySubcommandNamesTheRoot() {
        for subcommand in Ckpt.configuration.subcommands {
            XCTAssertEqual(subcommand.configuration._superCommandName, Ckpt.name, "\(subcommand)")
        }
    }

    func testHelpAndUsageErrorsAreTheRootsAsBefore() throws {
        for name in ["restore", "checkpoint", "verify"] {
            let direct = try ckpt([name, "--help"])
            let viaHelp = try ckpt(["help", name])
            XCTAssertEqual(direct.status, 0)
            XCTAssertEqual(direct.stdout, viaHelp.stdout, name)
            XCTAssertTrue(direct.stdout.contains("USAGE: ckpt \(name)"), direct.stdout)
        }
        let usage = try ckpt(["checkpoint", "0"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("PID must be a positive process id"), usage.stderr)
        XCTAssertTrue(usage.stderr.contains("Usage: ckpt checkpoint"), usage.stderr)
        let completion = try ckpt(["restore", "--generate-completion-script", "bash"])
        XCTAssertEqual(completion.status, 0)
        XCTAssertTrue(completion.stdout.contains("-F _ckpt ckpt"), String(completion.stdout.prefix(300)))
    }

    func testARunsErrorKeepsItsExitCode() throws {
        let missing = try ckpt(["verify", "/nonexistent/7.ckpt"])
        XCTAssertEqual(missing.status, 74, missing.all)
        XCTAssertTrue(missing.all.contains("/nonexistent/7.ckpt: FAILED"), missing.all)
    }
}

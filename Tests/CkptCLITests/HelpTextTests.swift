import ArgumentParser
@testable import CkptCLI
import XCTest

/// `--help` as an 80-column terminal shows it. ArgumentParser wraps a discussion's lines at
/// the terminal's width, so an example line (indented: a command and its comment) longer
/// than 80 columns is split mid-comment and reads as a broken command.
final class HelpTextTests: XCTestCase {
    func testExampleLinesFitEightyColumns() {
        let commands: [ParsableCommand.Type] = [Ckpt.self] + Ckpt.configuration.subcommands
        XCTAssertGreaterThan(commands.count, 8)
        var examples = 0
        for command in commands {
            let name = command.configuration.commandName ?? "\(command)"
            for line in command.configuration.discussion.split(separator: "\n") where line.hasPrefix("  ") {
                examples += 1
                XCTAssertLessThanOrEqual(line.count, 80, "ckpt \(name) --help: \(line)")
            }
        }
        XCTAssertGreaterThan(examples, 20)  // the examples were found
    }

    /// The image argument is named as the user knows it, not after the property.
    func testTheImageArgumentIsCalledImage() {
        for command in [RestoreCommand.self, ReplayCommand.self, ShowCommand.self] as [ParsableCommand.Type] {
            let usage = command.usageString()
            XCTAssertTrue(usage.contains("<image>"), usage)
            XCTAssertFalse(usage.contains("image-argument"), usage)
        }
    }
}

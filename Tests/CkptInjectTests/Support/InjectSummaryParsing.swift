import CkptInject
import Foundation

extension InjectSummary {
    /// Reads `ckpt inject --json` back with Foundation's decoder (the CLI writes it without
    /// Foundation): a key the CLI misspells or leaves out fails the decode.
    static func parse(_ json: String) throws -> InjectSummary {
        try JSONDecoder().decode(InjectSummary.self, from: Data(json.utf8))
    }
}

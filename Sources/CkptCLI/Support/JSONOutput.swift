import CkptJSON

/// What every `--json` output is: one object whose first key is `json_version`, the format
/// version of the keys below it. Scripts check it; a change that renames or removes a key, or
/// changes a value's meaning, bumps it (new keys do not).
enum JSONOutput {
    static let version: UInt64 = 1

    /// An object: `json_version`, then `fields` in order.
    static func document(_ fields: [(String, JSON)]) -> JSON {
        .object([("json_version", .uint(version))] + fields)
    }
}

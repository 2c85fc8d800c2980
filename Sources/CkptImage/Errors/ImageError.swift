import CkptProtocol
import SystemPackage

/// Everything that can go wrong writing, reading or verifying an image.
///
/// Every case says where: the file (`path`; a writer on a bare descriptor says `fd N`),
/// the byte `offset` in it, the record (`recordID`, when the problem is in or about one),
/// and what was expected against what was found. I/O errors carry the `Errno`.
///
/// Offsets: for a damaged structure, the offset of the structure's first byte (a record's
/// header, the index, the trailer); for a bad field, the offset of that field.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed: `operation` ("write", "read", "open", ...) at `offset`.
    case io(operation: String, path: String, offset: UInt64, errno: Errno)
    /// The file ends inside `structure`: it needs `needed` bytes from `offset`, the file has
    /// `available`.
    case truncated(path: String, offset: UInt64, recordID: UInt32?, structure: String, needed: UInt64, available: UInt64)
    /// A magic number is not the expected one.
    case badMagic(path: String, offset: UInt64, recordID: UInt32?, structure: String, expected: UInt64, found: UInt64)
    /// A format version this reader does not know.
    case unsupportedVersion(path: String, offset: UInt64, structure: String, found: UInt32, supported: UInt32)
    /// A field holds a value the format does not allow.
    case badField(path: String, offset: UInt64, recordID: UInt32?, field: String, expected: String, found: String)
    /// A stored CRC-32C differs from the one computed over the bytes it covers.
    case checksumMismatch(path: String, offset: UInt64, recordID: UInt32?, structure: String, stored: UInt32, computed: UInt32)
    /// The record tree breaks a rule of `RecordTreeRules` (the record at `offset`).
    case nesting(path: String, offset: UInt64, violation: RecordTreeViolation)
    /// The trailer's stream summary (or the caller's, for the writer) disagrees with the records.
    case summaryMismatch(path: String, offset: UInt64, field: String, expected: UInt64, found: UInt64)
    /// An index entry disagrees with the record it points to.
    case indexMismatch(path: String, offset: UInt64, recordID: UInt32?, field: String, index: UInt64, record: UInt64)
    /// The API was called out of order or with arguments that cannot be right
    /// (a bug in the caller): `call` expected `expected`, got `found`.
    case misuse(path: String, offset: UInt64, recordID: UInt32?, call: String, expected: String, found: String)

    public var path: String {
        switch self {
        case let .io(_, path, _, _), let .truncated(path, _, _, _, _, _), let .badMagic(path, _, _, _, _, _),
            let .unsupportedVersion(path, _, _, _, _), let .badField(path, _, _, _, _, _),
            let .checksumMismatch(path, _, _, _, _, _), let .nesting(path, _, _), let .summaryMismatch(path, _, _, _, _),
            let .indexMismatch(path, _, _, _, _, _), let .misuse(path, _, _, _, _, _):
            path
        }
    }

    public var offset: UInt64 {
        switch self {
        case let .io(_, _, offset, _), let .truncated(_, offset, _, _, _, _), let .badMagic(_, offset, _, _, _, _),
            let .unsupportedVersion(_, offset, _, _, _), let .badField(_, offset, _, _, _, _),
            let .checksumMismatch(_, offset, _, _, _, _), let .nesting(_, offset, _), let .summaryMismatch(_, offset, _, _, _),
            let .indexMismatch(_, offset, _, _, _, _), let .misuse(_, offset, _, _, _, _):
            offset
        }
    }

    /// The record the problem is in or about, when there is one.
    public var recordID: UInt32? {
        switch self {
        case let .truncated(_, _, id, _, _, _), let .badMagic(_, _, id, _, _, _), let .badField(_, _, id, _, _, _),
            let .checksumMismatch(_, _, id, _, _, _), let .indexMismatch(_, _, id, _, _, _), let .misuse(_, _, id, _, _, _):
            id
        case let .nesting(_, _, violation): violation.recordID
        case .io, .unsupportedVersion, .summaryMismatch: nil
        }
    }

    public var description: String {
        func rec(_ id: UInt32?) -> String { id.map { " (record \($0))" } ?? "" }
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        func hex32(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case let .io(operation, path, offset, errno):
            return "\(path): \(operation) at offset \(offset) failed: \(errno) (errno \(errno.rawValue))"
        case let .truncated(path, offset, id, structure, needed, available):
            return "\(path): truncated at offset \(offset)\(rec(id)): \(structure) needs \(needed) bytes, the file has \(available)"
        case let .badMagic(path, offset, id, structure, expected, found):
            return "\(path): bad magic at offset \(offset)\(rec(id)): \(structure) must start with \(hex(expected)), found \(hex(found))"
        case let .unsupportedVersion(path, offset, structure, found, supported):
            return "\(path): \(structure) at offset \(offset) has format version \(found); this reader supports \(supported)"
        case let .badField(path, offset, id, field, expected, found):
            return "\(path): bad \(field) at offset \(offset)\(rec(id)): expected \(expected), found \(found)"
        case let .checksumMismatch(path, offset, id, structure, stored, computed):
            return "\(path): CRC-32C mismatch in \(structure) at offset \(offset)\(rec(id)): stored \(hex32(stored)), computed \(hex32(computed))"
        case let .nesting(path, offset, violation):
            return "\(path): at offset \(offset): \(violation)"
        case let .summaryMismatch(path, offset, field, expected, found):
            return "\(path): stream summary \(field) (trailer at offset \(offset)) says \(expected), the records give \(found)"
        case let .indexMismatch(path, offset, id, field, index, record):
            return "\(path): index entry at offset \(offset)\(rec(id)) says \(field) \(index), the record has \(record)"
        case let .misuse(path, offset, id, call, expected, found):
            return "\(path): \(call) at offset \(offset)\(rec(id)): expected \(expected), found \(found)"
        }
    }
}

extension RecordTreeViolation {
    /// The record that broke the rule (nil for a missing trailer).
    var recordID: UInt32? {
        switch self {
        case let .firstRecordNotHeader(id, _), let .idNotIncreasing(id, _), let .parentNotOpen(id, _),
            let .wrongParentType(id, _, _, _), let .tooDeep(id, _), let .recordAfterTrailer(id):
            id
        case .missingTrailer: nil
        }
    }
}

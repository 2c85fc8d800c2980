import CCkptUAPI

/// A record tree rule that a stream or image broke. Each case names the rule and the
/// records involved, so an operator can find the spot.
public enum RecordTreeViolation: Error, Equatable, Sendable, CustomStringConvertible {
    case firstRecordNotHeader(id: UInt32, type: RecordType)
    case idNotIncreasing(id: UInt32, previous: UInt32)
    case parentNotOpen(id: UInt32, parent: UInt32)
    case wrongParentType(id: UInt32, type: RecordType, parentType: RecordType?, expected: RecordType?)
    case tooDeep(id: UInt32, depth: Int)
    case recordAfterTrailer(id: UInt32)
    case missingTrailer(records: UInt64)

    public var description: String {
        switch self {
        case let .firstRecordNotHeader(id, type):
            "nesting: first record \(id) is a \(type) record, not header"
        case let .idNotIncreasing(id, previous):
            "nesting: record id \(id) does not increase (previous \(previous)); ids are unique and increasing"
        case let .parentNotOpen(id, parent):
            "nesting: record \(id) names parent \(parent), which is not open (unknown, or already closed)"
        case let .wrongParentType(id, type, parentType, expected):
            "nesting: \(type) record \(id) is under \(parentType.map { "a \($0)" } ?? "the root"), must be under \(expected.map { "a \($0)" } ?? "the root")"
        case let .tooDeep(id, depth):
            "nesting: record \(id) is at depth \(depth), deeper than \(CKPT_DEPTH_MAX)"
        case let .recordAfterTrailer(id):
            "nesting: record \(id) follows the trailer record"
        case let .missingTrailer(records):
            "nesting: stream of \(records) records ended without a trailer record"
        }
    }
}

/// Checks the record tree of a stream or image, one record at a time, in O(1) per record
/// and O(depth) memory: the rules of the UAPI header's "Records" section.
///
/// - ids strictly increase (which makes them unique without remembering them);
/// - a record's parent is open: it is on the stack of the most recent record at each
///   depth; opening a child of an outer record closes the deeper ones, in order;
/// - depth is at most `CKPT_DEPTH_MAX`;
/// - each type stands under its `RecordType.parentType`;
/// - the first record is the header, the last the trailer, nothing follows the trailer.
///
/// Used by the listener's reassembler, the image verifier and replay, so all three
/// enforce the same rules.
public struct RecordTreeRules: Sendable {
    private var open: [(id: UInt32, type: RecordType)] = []
    private var lastID: UInt32 = 0
    private var sawTrailer = false
    public private(set) var records: UInt64 = 0

    public init() {
        open.reserveCapacity(Int(CKPT_DEPTH_MAX))
    }

    /// The depth (1 for a root) the last accepted record opened at.
    public var depth: Int { open.count }

    /// Accepts the next record or says which rule it breaks (state is then unchanged).
    public mutating func accept(id: UInt32, parent: UInt32, type: RecordType) throws(RecordTreeViolation) {
        if sawTrailer { throw .recordAfterTrailer(id: id) }
        if records == 0, type != .header { throw .firstRecordNotHeader(id: id, type: type) }
        if id <= lastID { throw .idNotIncreasing(id: id, previous: lastID) }
        var keep = 0
        var parentType: RecordType? = nil
        if parent != 0 {
            guard let index = open.lastIndex(where: { $0.id == parent }) else {
                throw .parentNotOpen(id: id, parent: parent)
            }
            keep = index + 1
            parentType = open[index].type
        }
        if parentType != type.parentType {
            throw .wrongParentType(id: id, type: type, parentType: parentType, expected: type.parentType)
        }
        if keep + 1 > Int(CKPT_DEPTH_MAX) { throw .tooDeep(id: id, depth: keep + 1) }
        open.removeLast(open.count - keep)
        open.append((id, type))
        lastID = id
        records += 1
        if type == .trailer { sawTrailer = true }
    }

    /// Call at the end of the stream: the trailer must have been seen.
    public func finish() throws(RecordTreeViolation) {
        if !sawTrailer { throw .missingTrailer(records: records) }
    }
}

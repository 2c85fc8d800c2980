/// A fault the injector can put into a stream. Each names the listener rule that must
/// catch it (`expectedRule` in `FaultEffect`): see `FaultInjector` for exactly what each
/// does to the bytes.
public enum FaultKind: String, CaseIterable, Sendable, Codable {
    /// Drop the message at the position (the listener sees a sequence gap; the end: silence).
    case drop
    /// Send the message twice (a gap backwards; the begin twice: a duplicate begin).
    case duplicate
    /// Swap the message with the next one (a sequence gap).
    case reorder
    /// Cut the datagram inside the message, `nlmsg_len` left as it was: undecodable, no
    /// stream named, so the stream sees a gap at its next message.
    case truncateMessage = "truncate-message"
    /// Cut the message inside its last attribute and shrink `nlmsg_len` to match: the
    /// attribute runs past its message; the crid was read first, so the stream fails as malformed.
    case truncateAttribute = "truncate-attribute"
    /// Flip a byte of a record's data: only the end's checksum can tell.
    case corruptPayload = "corrupt-payload"
    /// A wrong `CKPT_A_CHECKSUM` in the end message.
    case corruptChecksum = "corrupt-checksum"
    /// `nla_len` of the message's last attribute claims 8 bytes more than there are.
    case lieLength = "lie-length"
    /// A nest inside `CKPT_A_META` (the protocol's attribute tree is two deep).
    case nestTooDeep = "nest-too-deep"
    /// A record whose parent id names no open record.
    case orphan
    /// A record that reuses the previous record's id.
    case reuseID = "reuse-id"
    /// `CKPT_CMD_STREAM_ABORT` at the position; nothing after it.
    case abort
    /// Nothing from the position on: the listener must time the stream out.
    case silent
    /// Datagrams that are not netlink at all, sent between the stream's messages; the
    /// stream itself is clean and must complete.
    case garbage

    /// Parses `drop,reorder,...`; throws the unknown name.
    public static func parseList(_ text: String) throws(InjectError) -> [FaultKind] {
        var kinds: [FaultKind] = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: " ")
            guard let kind = FaultKind(rawValue: name) else {
                throw .usage("unknown fault \(name); known: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kinds.append(kind)
        }
        return kinds
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}

/// What the injector can fail with, in words a tester can act on.
public enum InjectError: Error, Equatable, CustomStringConvertible {
    case usage(String)
    case io(String)
    case send(String)
    case badDatagramFile(String)

    public var description: String {
        switch self {
        case let .usage(s): "usage: \(s)"
        case let .io(s): "io: \(s)"
        case let .send(s): "send: \(s)"
        case let .badDatagramFile(s): "datagram file: \(s)"
        }
    }
}

/// ckpt's one JSON writer: a JSON value rendered with keys in the order given (stable output
/// for scripts and diffs). The CLI's `--json` output and the listener's stats file use it.
public enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func optional(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }

    public func rendered(indent: Int = 0, pretty: Bool = true) -> String {
        let nl = pretty ? "\n" : ""
        let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let closePad = pretty ? String(repeating: "  ", count: indent) : ""
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(v): return "\(v)"
        case let .uint(v): return "\(v)"
        case let .string(s): return JSON.quote(s)
        case let .array(items):
            if items.isEmpty { return "[]" }
            return "[" + nl + items.map { pad + $0.rendered(indent: indent + 1, pretty: pretty) }.joined(separator: "," + nl)
                + nl + closePad + "]"
        case let .object(fields):
            if fields.isEmpty { return "{}" }
            let sep = pretty ? ": " : ":"
            return "{" + nl + fields.map { pad + JSON.quote($0.0) + sep + $0.1.rendered(indent: indent + 1, pretty: pretty) }
                .joined(separator: "," + nl) + nl + closePad + "}"
        }
    }

    /// A Swift string as a JSON string literal (quotes included; control characters escaped).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

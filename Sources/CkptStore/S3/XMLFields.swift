/// The few fields ckpt reads from S3's XML answers, found by element name.
///
/// S3 answers are flat, machine-written documents (no CDATA, no comments in the elements
/// read here, the five predefined entities only); these helpers take the text of
/// `<Name>...</Name>` elements in document order, within an optional enclosing element,
/// and decode the entities. A full XML parser (and Foundation) is not linked for this.
enum XMLFields {
    /// The text of every `<name>` element, in order.
    static func all(_ name: String, in xml: Substring) -> [String] {
        var result: [String] = []
        let open = "<\(name)>", close = "</\(name)>"
        var rest = xml
        while let start = rest.range(of: open) {
            let after = rest[start.upperBound...]
            guard let end = after.range(of: close) else { break }
            result.append(decodeEntities(after[..<end.lowerBound]))
            rest = after[end.upperBound...]
        }
        return result
    }

    static func first(_ name: String, in xml: Substring) -> String? {
        all(name, in: xml).first
    }

    /// The raw contents of every `<name>...</name>` block (for `<Contents>`, `<Part>`).
    static func blocks(_ name: String, in xml: Substring) -> [Substring] {
        var result: [Substring] = []
        let open = "<\(name)>", close = "</\(name)>"
        var rest = xml
        while let start = rest.range(of: open) {
            let after = rest[start.upperBound...]
            guard let end = after.range(of: close) else { break }
            result.append(after[..<end.lowerBound])
            rest = after[end.upperBound...]
        }
        return result
    }

    static func decodeEntities(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        return String(s).replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&quot;", with: "\"")
            .replacing("&apos;", with: "'").replacing("&amp;", with: "&")
    }

    static func escape(_ s: String) -> String {
        s.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
            .replacing("\"", with: "&quot;")
    }
}

extension Substring {
    /// The first occurrence of `needle` (no Foundation).
    func range(of needle: String) -> Range<Index>? {
        let n = Array(needle.utf8)
        guard let first = n.first else { return nil }
        let u = utf8
        var i = u.startIndex
        while let at = u[i...].firstIndex(of: first) {
            var j = at, k = 0
            while k < n.count, j < u.endIndex, u[j] == n[k] { j = u.index(after: j); k += 1 }
            if k == n.count { return at..<j }
            i = u.index(after: at)
        }
        return nil
    }
}

import CkptJSON
import CkptInject

/// `ckpt inject --json`: the summary with every key sorted, as scripts and the test fixtures
/// (`Tests/Fixtures/inject/*.expect.json`) read it. Written with the CLI's `JSON`, not
/// Foundation's encoder: the `ckpt` binary links no Foundation at all, which keeps the
/// listener's resident memory down (docs/benchmarks.md).
extension InjectSummary {
    func json() -> String {
        JSON.object([
            ("bytes", .uint(bytes)),
            ("datagrams", .int(Int64(datagrams))),
            ("json_version", .uint(JSONOutput.version)),
            ("seed", .uint(seed)),
            ("streams", .array(streams.map(\.json))),
        ]).rendered()
    }
}

extension InjectSummary.Stream {
    var json: JSON {
        .object([
            ("bytes", .uint(bytes)),
            ("checksum", .uint(UInt64(checksum))),
            ("crid", .uint(crid)),
            ("datagrams", .int(Int64(datagrams))),
            ("expect", expect.json),
            ("faults", .array(faults.map(\.json))),
            ("messages", .int(Int64(messages))),
            ("pid", .uint(UInt64(pid))),
            ("records", .uint(records)),
        ])
    }
}

extension StreamExpectation {
    /// Absent optionals are left out, as `Codable` does.
    var json: JSON {
        var fields: [(String, JSON)] = [("malformedDatagrams", .int(Int64(malformedDatagrams))), ("outcome", .string(outcome))]
        if let rule { fields.append(("rule", .string(rule))) }
        if let seq { fields.append(("seq", .uint(UInt64(seq)))) }
        return .object(fields)
    }
}

extension AppliedFault {
    var json: JSON {
        var fields: [(String, JSON)] = [("detail", .string(detail))]
        if let detectSeq { fields.append(("detectSeq", .uint(UInt64(detectSeq)))) }
        if let expectedRule { fields.append(("expectedRule", .string(expectedRule))) }
        fields += [("kind", .string(kind.rawValue)), ("malformedDatagrams", .int(Int64(malformedDatagrams))),
                   ("seq", .uint(UInt64(seq)))]
        return .object(fields)
    }
}

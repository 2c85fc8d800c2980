import CkptProtocol

/// What `ckpt inject` did, for people and (with `--json`) for tests: one entry per stream
/// with its totals, the faults put into it and how the listener must end it. `Codable` names
/// the JSON keys; the CLI renders it (CkptCLI's `InjectSummary.json`) without Foundation,
/// which `ckpt listen` would otherwise map into memory for nothing.
public struct InjectSummary: Codable, Equatable, Sendable {
    public struct Stream: Codable, Equatable, Sendable {
        public var crid: UInt64
        public var pid: UInt32
        public var records: UInt64
        public var bytes: UInt64
        /// CRC-32C of the stream (`CKPT_A_CHECKSUM`), of the records as generated.
        public var checksum: UInt32
        /// Messages of the clean stream (begin, fragments, end).
        public var messages: Int
        /// Datagrams actually sent for it (faults and garbage included).
        public var datagrams: Int
        public var faults: [AppliedFault]
        public var expect: StreamExpectation
    }

    public var seed: UInt64
    public var datagrams: Int
    public var bytes: UInt64
    public var streams: [Stream]

    public init(run: InjectRun) {
        seed = run.plan.seed
        datagrams = run.datagrams.count
        bytes = run.datagrams.reduce(0) { $0 + UInt64($1.count) }
        streams = run.streams.map { p in
            let s = p.stream.summary
            return Stream(crid: p.stream.crid, pid: p.stream.pid, records: s.records, bytes: s.bytes, checksum: s.checksum,
                          messages: p.cleanMessages.count, datagrams: p.datagrams.count, faults: p.faults, expect: p.expectation)
        }
    }

    /// One line per stream, for a terminal.
    public var text: String {
        var lines = ["inject: seed \(seed), \(streams.count) streams, \(datagrams) datagrams, \(bytes) bytes"]
        for s in streams {
            var line = "  crid \(s.crid) pid \(s.pid): \(s.records) records, \(s.bytes) bytes, crc32c 0x\(String(s.checksum, radix: 16)), \(s.messages) messages"
            for f in s.faults { line += "\n    fault \(f.kind.rawValue) at seq \(f.seq): \(f.detail)" }
            line += "\n    expect: \(s.expect.outcome)" + (s.expect.rule.map { " (\($0)" + (s.expect.seq.map { " at seq \($0)" } ?? "") + ")" } ?? "")
            if s.expect.malformedDatagrams > 0 { line += ", \(s.expect.malformedDatagrams) malformed datagrams" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

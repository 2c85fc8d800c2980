import CkptJSON
/// The listener's counters, as the stats file and the status line show them.
public struct ListenerStats: Sendable, Equatable {
    public var state = "running"
    public var pid: Int32 = 0
    public var transport = ""
    public var uptimeNs: UInt64 = 0

    // Streams.
    public var inFlight = 0
    public var begun: UInt64 = 0
    public var completed: UInt64 = 0
    public var failed: UInt64 = 0
    /// Published images that their check after publication found to differ from their
    /// sender's checksums (`--data-check after-publish`), set aside as `<crid>.corrupt`.
    public var corrupt: UInt64 = 0
    public var failuresByRule: [String: UInt64] = [:]
    /// The most recent failure reasons, newest last (at most `recentFailuresKept`).
    public var recentFailures: [String] = []
    /// `.partial` files found at start; those of them that were complete, verified images
    /// (the listener died between the trailer and the rename) and were published.
    public var leftoversFound: UInt64 = 0
    public var leftoversPublished: UInt64 = 0

    // Receive side.
    public var datagrams: UInt64 = 0
    public var messages: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var malformedDatagrams: UInt64 = 0
    public var droppedMessages: UInt64 = 0
    /// ENOBUFS reports (each a loss of unknown size).
    public var overruns: UInt64 = 0

    // Write side.
    public var bytesWritten: UInt64 = 0

    // Pool.
    public var poolBuffers = 0
    public var poolBufferBytes = 0
    public var poolInUse = 0
    public var poolPeakInUse = 0
    public var stalls: UInt64 = 0
    public var stalledNs: UInt64 = 0
    /// Who writes (`--writer`), and with `inline` the time the receive thread spent writing.
    public var writer = ""
    public var inlineWriteNs: UInt64 = 0
    /// Bytes allocated for the next image (`--reserve`).
    public var reservedBytes: UInt64 = 0

    // Object store (`ckpt listen --store`): the uploader's counters and status text.
    public var store: StatsSection? = nil
    public var storeStatus: String? = nil

    public static let recentFailuresKept = 16

    public init() {}

    /// The stats file: one JSON object, keys stable (documented in docs/listener.md),
    /// rendered by the CLI's JSON writer (`CkptJSON`).
    public func json() -> String {
        JSON.object([
            ("state", .string(state)),
            ("pid", .int(Int64(pid))),
            ("transport", .string(transport)),
            ("uptime_ms", .uint(uptimeNs / 1_000_000)),
            ("streams", .object([
                ("in_flight", .int(Int64(inFlight))), ("begun", .uint(begun)), ("completed", .uint(completed)),
                ("failed", .uint(failed)), ("corrupt", .uint(corrupt)), ("leftovers_found", .uint(UInt64(leftoversFound))),
                ("leftovers_published", .uint(UInt64(leftoversPublished))),
            ])),
            ("failures_by_rule", .object(failuresByRule.keys.sorted().map { ($0, .uint(failuresByRule[$0]!)) })),
            ("recent_failures", .array(recentFailures.map(JSON.string))),
            ("receive", .object([
                ("datagrams", .uint(datagrams)), ("messages", .uint(messages)), ("bytes", .uint(bytesReceived)),
                ("malformed_datagrams", .uint(malformedDatagrams)), ("dropped_messages", .uint(droppedMessages)),
                ("enobufs", .uint(overruns)),
            ])),
            ("write", .object([
                ("bytes", .uint(bytesWritten)), ("writer", .string(writer)),
                ("inline_ms", .uint(inlineWriteNs / 1_000_000)), ("reserved_bytes", .uint(reservedBytes)),
            ])),
            ("pool", .object([
                ("buffers", .int(Int64(poolBuffers))), ("buffer_bytes", .int(Int64(poolBufferBytes))),
                ("in_use", .int(Int64(poolInUse))), ("peak_in_use", .int(Int64(poolPeakInUse))),
                ("stalls", .uint(stalls)), ("stalled_ms", .uint(stalledNs / 1_000_000)),
            ])),
        ] + (store.map { [("store", $0.value)] } ?? [])).rendered() + "\n"
    }

    /// The one-line status: `3 in flight | 812.4 MB/s | pool 12/64 | stalls 5 (1.2 s) | 12 done, 1 failed`.
    /// `rate` is bytes per second over the last interval.
    public func statusLine(rate: Double) -> String {
        "ckpt listen: \(inFlight) in flight | \(formatRate(rate)) | pool \(poolInUse)/\(poolBuffers)"
            + " | stalls \(stalls) (\(formatSeconds(stalledNs))) | \(completed) done, \(failed) failed"
            + (overruns > 0 ? " | ENOBUFS \(overruns)" : "")
            + (storeStatus.map { " | " + $0 } ?? "")
    }
}

/// Streams settled by the writer thread, counted as they settle.
struct SettledCounters: Sendable {
    var settled: UInt64 = 0
    var completed: UInt64 = 0
    var failed: UInt64 = 0
    /// Published images found corrupt by their check after publication.
    var corrupt: UInt64 = 0
    /// Failures of streams that never had an image (unknown stream, refused begin).
    var withoutImage: UInt64 = 0
    var failuresByRule: [String: UInt64] = [:]
    /// The newest `ListenerStats.recentFailuresKept` reasons, oldest first.
    var recentFailures: [String] = []
    /// Bytes written to the files of settled streams (published or kept as failed).
    var bytes: UInt64 = 0

    mutating func note(_ stream: SettledStream) {
        settled += 1
        bytes += stream.bytes
        switch stream.outcome {
        case .completed:
            completed += 1
        case let .failed(_, failure):
            failed += 1
            if stream.session == nil { withoutImage += 1 }
            failuresByRule[failure.rule.name, default: 0] += 1
            recentFailures.append(failure.description)
            if recentFailures.count > ListenerStats.recentFailuresKept { recentFailures.removeFirst() }
        }
    }
}

func formatRate(_ bytesPerSecond: Double) -> String {
    let mb = bytesPerSecond / 1_000_000
    let tenths = Int((mb * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) MB/s"
}

/// A section another module adds to the stats file (the store uploader's counters); two are
/// equal when they render the same.
public struct StatsSection: Sendable, Equatable {
    public var value: JSON
    public init(_ value: JSON) { self.value = value }
    public static func == (a: StatsSection, b: StatsSection) -> Bool { a.value.rendered() == b.value.rendered() }
}

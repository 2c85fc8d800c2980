import CCkptUAPI
import CkptProtocol
import CkptTransport

/// What `ckpt inject` is asked to do: how many streams of which shape, from which seed,
/// with which faults. Everything it produces follows from this (same plan, same bytes).
public struct InjectPlan: Equatable, Sendable {
    public var seed: UInt64 = 1
    public var streams = 1
    public var shape = StreamShape()
    /// Faults put into each faulty stream (several: mixed in one stream).
    public var faults: [FaultKind] = []
    /// The stream seq the first fault aims at (nil: picked from the seed).
    public var faultAt: UInt32? = nil
    /// How many of the streams (the first ones) get the faults; the others stay clean
    /// and must be captured complete alongside. Default: all when faults are given.
    public var faultyStreams: Int? = nil
    /// The first stream's crid; the others follow (+1 each). Default: from the seed.
    public var firstCrid: UInt64? = nil

    public init() {}

    /// Stream `i`'s crid.
    public func crid(_ i: Int) -> UInt64 {
        (firstCrid ?? (1_000_000 &+ (seed % 1_000_000_000) &* 1_000)) &+ UInt64(i)
    }

    public var problem: String? {
        if streams < 1 || streams > 100_000 { return "--streams must be 1 ... 100000" }
        if let n = faultyStreams, n < 0 || n > streams { return "--faulty-streams must be 0 ... --streams" }
        if faultAt != nil && faults.isEmpty { return "--fault-at needs --fault" }
        return shape.problem
    }
}

/// The prepared run: every stream (clean and faulted) and the datagrams in the order they
/// will be sent, the streams interleaved as concurrent checkpoints would be.
public struct InjectRun: Sendable {
    public let plan: InjectPlan
    public let streams: [PreparedStream]
    /// Every datagram in send order.
    public let datagrams: [[UInt8]]

    public init(plan: InjectPlan) {
        precondition(plan.problem == nil, plan.problem ?? "")
        self.plan = plan
        let faulty = plan.faults.isEmpty ? 0 : (plan.faultyStreams ?? plan.streams)
        var streams: [PreparedStream] = []
        for i in 0..<plan.streams {
            let s = SyntheticStream(seed: plan.seed, index: i, crid: plan.crid(i), shape: plan.shape)
            var requests: [FaultRequest] = []
            if i < faulty {
                for (j, kind) in plan.faults.enumerated() {
                    requests.append(FaultRequest(kind, at: j == 0 ? plan.faultAt : nil))
                }
            }
            streams.append(FaultInjector.prepare(s, faults: requests, seed: plan.seed))
        }
        self.streams = streams
        datagrams = Self.interleave(streams.map(\.datagrams), seed: plan.seed)
    }

    /// Merges the streams' datagram lists, each kept in order: repeatedly a stream picked
    /// from the seed sends a burst of 1 ... 4 datagrams. O(total).
    static func interleave(_ lists: [[[UInt8]]], seed: UInt64) -> [[UInt8]] {
        var rng = SeededGenerator(seed: seed, stream: 0, purpose: 0x1_7E7)
        var cursors = [Int](repeating: 0, count: lists.count)
        var live = Array(lists.indices.filter { !lists[$0].isEmpty })
        var out: [[UInt8]] = []
        out.reserveCapacity(lists.reduce(0) { $0 + $1.count })
        while !live.isEmpty {
            let pick = rng.int(0...live.count - 1)
            let s = live[pick]
            let burst = rng.int(1...4)
            for _ in 0..<burst where cursors[s] < lists[s].count {
                out.append(lists[s][cursors[s]])
                cursors[s] += 1
            }
            if cursors[s] == lists[s].count { live.remove(at: pick) }
        }
        return out
    }

    /// Sends every datagram to `port` from a fresh NETLINK_USERSOCK socket, blocking while
    /// the listener's queue is full (its backpressure: nothing is dropped). Returns the bytes sent.
    @discardableResult
    public func send(toPort port: UInt32) throws(InjectError) -> UInt64 {
        try Self.send(datagrams, toPort: port)
    }

    /// Sends `datagrams` (e.g. read back from a `--out` file) in order to `port`.
    @discardableResult
    public static func send(_ datagrams: [[UInt8]], toPort port: UInt32, progress: ((Int) -> Void)? = nil) throws(InjectError) -> UInt64 {
        let socket: NetlinkSocket
        do {
            socket = try NetlinkSocket(family: .usersock)
            try socket.bind()
        } catch {
            throw .send("cannot open a NETLINK_USERSOCK socket: \(error)")
        }
        defer { socket.close() }
        var bytes: UInt64 = 0
        for (i, d) in datagrams.enumerated() {
            do {
                try d.withUnsafeBytes { raw in try socket.send(raw, toPort: port) }
            } catch {
                throw .send("datagram \(i) of \(datagrams.count) to port \(port): \(error)")
            }
            bytes += UInt64(d.count)
            progress?(i + 1)
        }
        return bytes
    }

    /// The machine-readable summary (`--json`).
    public var summary: InjectSummary { InjectSummary(run: self) }
}

import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptTransport

/// `ckpt replay IMAGE --usersock PORT`: re-emits an image as the capture stream the kernel
/// sent, into any listener, so replay is testable without a kernel.
///
/// ```
///  stream-begin {crid, seq 0, pid}
///  record       {crid, seq 1.., fragment}   meta verbatim, data in fragments of `maxData`
///  stream-end   {crid, seq n, records, bytes, checksum}
/// ```
///
/// The meta is sent exactly as the image holds it (as the kernel sent it), so a listener
/// that captures the replay writes an image with the same records and the same checksum.
/// Messages use `encoder` (`nlmsg_type` `CKPT_USERSOCK_TYPE` for NETLINK_USERSOCK) and go
/// out through `send`, which blocks while the listener's queue is full: backpressure, no loss.
public final class StreamReplayer {
    public let encoder: MessageEncoder
    public let maxData: Int
    private let send: (UnsafeRawBufferPointer) throws(TransportError) -> Void
    private let buffer = MessageBuffer()

    public struct Result: Equatable, Sendable {
        public var crid: UInt64
        public var summary: StreamSummary
        /// Messages sent, begin and end included.
        public var messages: UInt64
    }

    public init(encoder: MessageEncoder = .usersock, maxData: Int = Int(CKPT_DATA_MAX),
                send: @escaping (UnsafeRawBufferPointer) throws(TransportError) -> Void) {
        precondition(maxData >= 1 && maxData <= Int(CKPT_DATA_MAX), "a sink takes at most CKPT_DATA_MAX bytes a fragment")
        self.encoder = encoder
        self.maxData = maxData
        self.send = send
    }

    /// A replayer sending to `port` on a NETLINK_USERSOCK socket (blocking sends).
    public convenience init(usersockPort port: UInt32, maxData: Int = Int(CKPT_DATA_MAX)) throws(TransportError) {
        let socket = try NetlinkSocket(family: .usersock)
        try socket.bind()
        self.init(maxData: maxData) { (bytes) throws(TransportError) in try socket.send(bytes, toPort: port) }
    }

    /// Sends the image as one stream; `crid` defaults to the image's. A damaged record found
    /// mid-walk ends the stream with `CKPT_CMD_STREAM_ABORT` (reason fault) and throws.
    public func replay(
        _ reader: ImageReader, crid: UInt64? = nil,
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws(ReplayError) -> Result {
        let crid = crid ?? reader.header.crid
        var seq: UInt32 = 0
        var builder = StreamSummaryBuilder()
        let encoder = self.encoder
        try emit(.streamBegin) { b in encoder.streamBegin(crid: crid, seq: 0, pid: reader.header.pid, into: b) }
        seq = 1
        do {
            try ImageFragments(reader: reader, maxData: maxData).walk(meta: ImageFragments.verbatim, progress: progress) { fragment, check in
                var f = fragment
                f.crid = crid
                f.seq = seq
                if let meta = f.meta { builder.beginRecord(meta: meta) }
                builder.data(count: f.data.count, crc: check.crc)
                try self.emit(.streamRecord) { b in encoder.record(f, into: b) }
                seq &+= 1
            }
        } catch {
            let message = "replay of \(reader.path) stopped: \(error)"
            try? emit(.streamEnd) { b in
                encoder.streamAbort(crid: crid, seq: seq, reason: UInt32(CKPT_ABORT_REASON_FAULT.rawValue), message: String(message.prefix(200)), into: b)
            }
            throw error as? ReplayError ?? .image(.misuse(path: reader.path, offset: 0, recordID: nil, call: "replay",
                                                           expected: "a ReplayError", found: "\(error)"))
        }
        let summary = builder.summary
        try emit(.streamEnd) { b in encoder.streamEnd(crid: crid, seq: seq, summary: summary, into: b) }
        return Result(crid: crid, summary: summary, messages: UInt64(seq) + 1)
    }

    private func emit(_ stage: ReplayStage, _ build: (MessageBuffer) -> Void) throws(ReplayError) {
        buffer.removeAll()
        build(buffer)
        do throws(TransportError) { try send(buffer.bytes) } catch { throw .transport(stage: stage, error) }
    }
}

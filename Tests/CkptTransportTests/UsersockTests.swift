import CCkptUAPI
import CkptProtocol
import Testing
@testable import CkptTransport

/// Real NETLINK_USERSOCK sockets (the host allows them as root).
@Suite(.serialized) struct UsersockTests {
    func pair() throws -> (sender: NetlinkSocket, receiver: NetlinkSocket, receiverPort: UInt32) {
        let receiver = try NetlinkSocket(family: .usersock)
        try receiver.bind()
        let sender = try NetlinkSocket(family: .usersock)
        try sender.bind()
        return (sender, receiver, try receiver.localPortID())
    }

    func withBuffer<R>(_ size: Int = 64 * 1024 + 4096, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { b.deallocate() }
        return try body(b)
    }

    @Test func portIDsAreAssignedAndDistinct() throws {
        let (sender, receiver, port) = try pair()
        #expect(port != 0)
        #expect(try sender.localPortID() != port)
        _ = receiver
    }

    @Test func encodedStreamCrossesSocketsAndDecodes() throws {
        let (sender, receiver, port) = try pair()
        let encoder = MessageEncoder.usersock
        let buffer = MessageBuffer()
        let meta = RecordMeta.pages(PagesMeta(addr: 0x1000, nrPages: 16)).encodedPayload()
        let data = (0..<(16 * 4096)).map { UInt8(truncatingIfNeeded: $0 &* 13) }

        buffer.removeAll()
        encoder.streamBegin(crid: 7, pid: 99, into: buffer)
        try sender.send(buffer.bytes, toPort: port)
        var seq: UInt32 = 1
        try meta.withUnsafeBytes { m in
            try data.withUnsafeBytes { d in
                seq = try Fragmenter().encode(crid: 7, firstSeq: 1, type: .pages, id: 1, parent: 0, meta: m, data: d,
                                              encoder: encoder, buffer: buffer) { message in
                    try sender.send(message, toPort: port)
                }
            }
        }
        buffer.removeAll()
        encoder.streamEnd(crid: 7, seq: seq, summary: StreamSummary(records: 1, bytes: 3, checksum: 4), into: buffer)
        try sender.send(buffer.bytes, toPort: port)

        var rejoined: [UInt8] = []
        var kinds: [String] = []
        try withBuffer { (raw) throws in
            while !kinds.contains("end") {
                let got = try #require(try receiver.receive(into: raw, timeoutMilliseconds: 2000))
                #expect(got.senderPort == (try sender.localPortID()))
                try StreamDecoder().decode(datagram: UnsafeRawBufferPointer(rebasing: raw[0..<got.count]),
                                           expectedType: encoder.messageType) { event in
                    switch event {
                    case .begin: kinds.append("begin")
                    case let .record(f): kinds.append("record"); rejoined += Array(f.data)
                    case .end: kinds.append("end")
                    case .abort: kinds.append("abort")
                    }
                }
            }
        }
        #expect(kinds == ["begin", "record", "record", "end"])  // 64 KiB of data = 2 fragments
        #expect(rejoined == data)
    }

    @Test func receiveTimesOutWithNil() throws {
        let (_, receiver, _) = try pair()
        try withBuffer(1024) { (raw) throws in
            #expect(try receiver.receive(into: raw, timeoutMilliseconds: 20) == nil)
            #expect(try receiver.receiveMessage(into: raw, blocking: false) == nil)
        }
    }

    @Test func truncatedDatagramIsAnError() throws {
        let (sender, receiver, port) = try pair()
        let bytes = [UInt8](repeating: 1, count: 200)
        try bytes.withUnsafeBytes { try sender.send($0, toPort: port) }
        _ = try withBuffer(100) { (raw) throws in
            #expect(throws: TransportError.truncated(capacity: 100, needed: 200)) { _ = try receiver.receive(into: raw) }
        }
    }

    @Test func receiveBufferSizeIsSet() throws {
        let (_, receiver, _) = try pair()
        let granted = try receiver.setReceiveBufferSize(1 << 20)
        #expect(granted >= 1 << 20)  // the kernel doubles it; FORCE as root ignores rmem_max
    }

    @Test func recvmmsgReceivesSeveralDatagrams() throws {
        let (sender, receiver, port) = try pair()
        for n in [10, 20, 30] {
            let bytes = [UInt8](repeating: UInt8(n), count: n)
            try bytes.withUnsafeBytes { try sender.send($0, toPort: port) }
        }
        let batch = ReceiveBatch(capacity: 4)
        let buffers = (0..<4).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8) }
        defer { buffers.forEach { $0.deallocate() } }
        for (i, b) in buffers.enumerated() { batch.setBuffer(i, b) }
        #expect(try receiver.waitReadable(timeoutMilliseconds: 1000))
        let n = try receiver.receive(batch)
        #expect(n == 3)
        #expect((0..<n).map { batch.length($0) } == [10, 20, 30])
        #expect(buffers[1][0] == 20)
        #expect(!batch.isTruncated(0))
        #expect(try receiver.receive(batch) == 0)  // nothing left: EAGAIN is 0, not an error
        try [UInt8](repeating: 7, count: 100).withUnsafeBytes { try sender.send($0, toPort: port) }
        try [UInt8](repeating: 8, count: 10).withUnsafeBytes { try sender.send($0, toPort: port) }
        #expect(try receiver.waitReadable(timeoutMilliseconds: 1000))
        #expect(try receiver.receive(batch, slots: 1) == 1, "only the first slot")
        #expect(batch.isTruncated(0) && batch.length(0) == 64)
        #expect(try receiver.receive(batch) == 1)
        #expect(batch.length(0) == 10)
    }

    /// `acceptOnly(fromPort:)`: what another port sent before is discarded, what it sends
    /// after is refused at its send (ECONNREFUSED) and never queued; the chosen port's
    /// datagrams still arrive. (`GenlClient` does this with port 0, the kernel.)
    @Test func acceptOnlyRefusesEveryOtherSender() throws {
        let (stranger, receiver, port) = try pair()
        let peer = try NetlinkSocket(family: .usersock)
        try peer.bind()
        try [UInt8](repeating: 1, count: 16).withUnsafeBytes { try stranger.send($0, toPort: port) }
        try receiver.acceptOnly(fromPort: try peer.localPortID())
        let refused: TransportError? = [UInt8](repeating: 2, count: 16).withUnsafeBytes { (bytes) -> TransportError? in
            do throws(TransportError) { try stranger.send(bytes, toPort: port); return nil } catch { return error }
        }
        #expect(refused?.errno == .connectionRefused, "the stranger's send: \(String(describing: refused))")
        try [UInt8](repeating: 3, count: 24).withUnsafeBytes { try peer.send($0, toPort: port) }
        try withBuffer { raw in
            let got = try receiver.receive(into: raw, timeoutMilliseconds: 1000)
            #expect(got?.count == 24 && raw[0] == 3, "the stranger's first datagram was discarded")
            #expect(try receiver.receiveMessage(into: raw, blocking: false) == nil)
        }
    }

    @Test func nonBlockingSendToFullReceiverReportsWouldBlock() throws {
        let (sender, receiver, port) = try pair()
        _ = try receiver.setReceiveBufferSize(4096)
        let bytes = [UInt8](repeating: 0, count: 2048)
        var sent = 0
        var refused = false
        try bytes.withUnsafeBytes { raw in
            for _ in 0..<1000 {
                if try sender.trySend(raw, toPort: port) { sent += 1 } else { refused = true; break }
            }
        }
        #expect(refused)  // a userspace unicast sender waits or gets EAGAIN: never loss
        #expect(sent >= 1)
    }

    /// Multicast into a full member: the kernel drops and the member sees ENOBUFS, the
    /// same signal a kernel sender's `genlmsg_unicast` into a full sink produces.
    @Test func overflowSurfacesAsOverrun() throws {
        let receiver = try NetlinkSocket(family: .usersock)
        try receiver.bind(groups: 1 << 4)
        _ = try receiver.setReceiveBufferSize(4096)
        let sender = try NetlinkSocket(family: .usersock)
        try sender.bind()
        let bytes = [UInt8](repeating: 0, count: 2048)
        try bytes.withUnsafeBytes { raw in
            for _ in 0..<64 { try sender.broadcast(raw, groups: 1 << 4) }
        }
        var sawOverrun = false
        try withBuffer(4096) { (raw) throws in
            do {
                while try receiver.receiveMessage(into: raw, blocking: false) != nil {}
            } catch TransportError.overrun {
                sawOverrun = true
            }
            // Still usable after the overrun.
            try bytes.withUnsafeBytes { try sender.broadcast($0, groups: 1 << 4) }
            #expect(try receiver.receive(into: raw, timeoutMilliseconds: 1000)?.count == 2048)
        }
        #expect(sawOverrun)
    }
}

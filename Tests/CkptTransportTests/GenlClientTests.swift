import CCkptUAPI
import CkptProtocol
import SystemPackage
import Testing
@testable import CkptTransport

/// The libnl control path against the kernel's own generic netlink controller ("nlctrl"),
/// since the ckpt module cannot be loaded on this host.
@Suite(.serialized) struct GenlClientTests {
    @Test func resolvesAnExistingFamily() throws {
        let client = try GenlClient(family: "nlctrl")
        #expect(client.familyID == UInt16(GENL_ID_CTRL))
        #expect(client.portID != 0)
    }

    /// Only the kernel may send to a client's socket (the sink's among them): another
    /// process's unicast to its port is refused at the sender and never queued.
    @Test func otherProcessesCannotSendToTheClient() throws {
        let client = try GenlClient(family: "nlctrl")
        let forger = try NetlinkSocket(family: .generic)
        try forger.bind()
        let refused: TransportError? = [UInt8](repeating: 0, count: 20).withUnsafeBytes { (bytes) -> TransportError? in
            do throws(TransportError) { try forger.send(bytes, toPort: client.portID); return nil } catch { return error }
        }
        #expect(refused?.errno == .connectionRefused, "the forger's send: \(String(describing: refused))")
        #expect(try client.socket.waitReadable(timeoutMilliseconds: 0) == false)
    }

    @Test func missingFamilyIsATypedError() {
        #expect(throws: TransportError.familyNotFound("ckpt")) { _ = try GenlClient(family: "ckpt") }
        #expect(TransportError.familyNotFound("ckpt").description.contains("is the module loaded?"))
    }

    /// CTRL_CMD_GETFAMILY { CTRL_ATTR_FAMILY_NAME "nlctrl" }: reply, then ack.
    @Test func requestGetsReplyAndAck() throws {
        let client = try GenlClient(family: "nlctrl")
        var replies = 0
        var familyID: UInt16 = 0
        try client.transact({ h, b in
            let start = b.beginMessage(type: client.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), seq: h.seq, portID: 0)
            b.appendGenlHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 2)
            b.appendString(Int(CTRL_ATTR_FAMILY_NAME), "nlctrl")
            b.endMessage(start)
        }) { (m: NetlinkMessage) throws(ProtocolError) in
            replies += 1
            var reader = NetlinkAttributeReader(UnsafeRawBufferPointer(rebasing: m.payload[4...]), baseOffset: 0, container: "reply")
            while let a = try reader.next() {
                if a.type == UInt16(CTRL_ATTR_FAMILY_ID) { familyID = a.value.loadUnaligned(as: UInt16.self) }
            }
        }
        #expect(replies == 1)
        #expect(familyID == UInt16(GENL_ID_CTRL))
    }

    @Test func kernelErrorCarriesErrnoAndExtack() throws {
        let client = try GenlClient(family: "nlctrl")
        var caught: TransportError?
        do throws(TransportError) {
            // CTRL_CMD_GETPOLICY (a dump, strictly validated) with an attribute type beyond
            // the policy's maximum: EINVAL, extack "Unknown attribute type" at its offset.
            try client.transact { h, b in
                let flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
                let start = b.beginMessage(type: client.familyID, flags: flags, seq: h.seq, portID: 0)
                b.appendGenlHeader(command: UInt8(CTRL_CMD_GETPOLICY), version: 2)
                b.appendU32(200, 16)
                b.endMessage(start)
            }
        } catch {
            caught = error
        }
        guard case let .kernel(errno, message, offset, _) = caught else {
            Issue.record("expected a kernel error, got \(String(describing: caught))")
            return
        }
        #expect(errno == .invalidArgument)
        #expect(message?.isEmpty == false, "extack message: \(String(describing: message))")
        #expect(offset == 20, "the attribute right after nlmsghdr + genlmsghdr")
    }

    @Test func unknownFamilyNameIsENOENT() throws {
        let client = try GenlClient(family: "nlctrl")
        #expect(throws: TransportError.self) {
            try client.transact { h, b in
                let start = b.beginMessage(type: client.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), seq: h.seq, portID: 0)
                b.appendGenlHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 2)
                b.appendString(Int(CTRL_ATTR_FAMILY_NAME), "no-such-family")
                b.endMessage(start)
            }
        }
        do throws(TransportError) {
            try client.transact { h, b in
                let start = b.beginMessage(type: client.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), seq: h.seq, portID: 0)
                b.appendGenlHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 2)
                b.appendString(Int(CTRL_ATTR_FAMILY_NAME), "no-such-family")
                b.endMessage(start)
            }
        } catch {
            #expect(error.errno == .noSuchFileOrDirectory)
        }
    }

    /// The one ack reader: several acked requests in flight, their answers read back in
    /// order, matched by seq; a rejection carries the kernel's errno (and extack).
    @Test func receiveAnswersReadsAcksAndRejectionsInOrder() throws {
        let client = try GenlClient(family: "nlctrl")
        client.timeoutMilliseconds = 2000
        func getFamily(_ name: String) throws(TransportError) -> UInt32 {
            try client.send { h, b in
                let start = b.beginMessage(type: client.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), seq: h.seq, portID: 0)
                b.appendGenlHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 2)
                b.appendString(Int(CTRL_ATTR_FAMILY_NAME), name)
                b.endMessage(start)
            }
        }
        var sent: [UInt32] = []
        for _ in 0..<5 { sent.append(try getFamily("nlctrl")) }
        sent.append(try getFamily("no-such-family"))
        sent.append(try getFamily("nlctrl"))
        var answers: [GenlClient.Answer] = []
        var replies = 0
        while answers.count < sent.count {
            try client.receiveAnswers(into: &answers) { (_: NetlinkMessage) throws(ProtocolError) in replies += 1 }
        }
        #expect(answers.map(\.seq) == sent)
        #expect(answers.map { $0.rejection == nil } == [true, true, true, true, true, false, true])
        #expect(answers[5].rejection?.errno == Errno.noSuchFileOrDirectory.rawValue)
        #expect(replies == 6, "each successful GETFAMILY also sends its reply")
    }

    /// `transact` (awaitAcks over the same reader) stops at the rejection of its request.
    @Test func transactThrowsTheKernelsRejection() throws {
        let client = try GenlClient(family: "nlctrl")
        client.timeoutMilliseconds = 2000
        #expect(throws: TransportError.self) {
            try client.transact { h, b in
                let start = b.beginMessage(type: client.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), seq: h.seq, portID: 0)
                b.appendGenlHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 2)
                b.appendString(Int(CTRL_ATTR_FAMILY_NAME), "no-such-family")
                b.endMessage(start)
            }
        }
    }
}

@Suite(.serialized) struct GenlClientWaitTests {
    func getFamily(_ client: GenlClient, flags: UInt16, name: String = "nlctrl") -> (MessageHeader, MessageBuffer) -> Void {
        { h, b in
            let start = b.beginMessage(type: client.familyID, flags: flags, seq: h.seq, portID: 0)
            b.appendGenlHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 2)
            b.appendString(Int(CTRL_ATTR_FAMILY_NAME), name)
            b.endMessage(start)
        }
    }

    @Test func requestWithoutAckEndsOnItsReply() throws {
        let client = try GenlClient(family: "nlctrl")
        client.timeoutMilliseconds = 2000
        var replies = 0
        try client.transact(getFamily(client, flags: UInt16(NLM_F_REQUEST))) { (_: NetlinkMessage) throws(ProtocolError) in
            replies += 1
        }
        #expect(replies == 1)
    }

    @Test func silenceIsATimeout() throws {
        let client = try GenlClient(family: "nlctrl")
        client.timeoutMilliseconds = 100
        // A message without NLM_F_REQUEST (and without NLM_F_ACK) is not a request: the
        // kernel's netlink_rcv_skb skips it and answers nothing.
        #expect(throws: TransportError.timedOut("an answer from family nlctrl")) {
            try client.transact(getFamily(client, flags: 0))
        }
    }
}

/// A module older than the restart session's writer answers restart-begin without the
/// session's flags: the client says so at once instead of waiting for restart-done.
@Suite struct RestartWriterPresenceTests {
    @Test func aBeginReplyWithFlagsHasAWriter() throws {
        #expect(try GenlClient.sessionWithWriter(RestartBegun(rsid: 7, flags: 0)) == 7)
    }

    @Test func aBeginReplyWithoutFlagsIsAnOlderModule() {
        #expect(throws: TransportError.self) { _ = try GenlClient.sessionWithWriter(RestartBegun(rsid: 7, flags: nil)) }
        do throws(TransportError) {
            _ = try GenlClient.sessionWithWriter(RestartBegun(rsid: 7, flags: nil))
        } catch {
            guard case let .moduleTooOld(what) = error else {
                Issue.record("expected moduleTooOld, got \(error)")
                return
            }
            #expect(what.contains("restart-done"))
            #expect(error.description.contains("older than this ckpt"))
        }
    }
}

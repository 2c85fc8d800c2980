import CkptProtocol
import XCTest
@testable import CkptListener

/// Every reassembly rule and every failure reason, on the pure state machine.
final class ReassemblerTests: XCTestCase {
    var factory = EventFactory()
    let noMetaCheck = Reassembler.Configuration(checkRecordData: false)

    private func reassembler(maxStreams: Int = 256, timeoutNs: UInt64 = 1_000) -> Reassembler {
        var config = noMetaCheck
        config.maxStreams = maxStreams
        config.streamTimeoutNs = timeoutNs
        return Reassembler(configuration: config)
    }

    /// Feeds `events`; returns the failure if the stream failed, asserting nothing follows it.
    private func failure(
        _ events: [StreamEvent], _ r: inout Reassembler, file: StaticString = #filePath, line: UInt = #line
    ) -> StreamFailure? {
        for (index, event) in events.enumerated() {
            if case let .fail(_, failure) = r.receive(event, now: 0) {
                XCTAssertFalse(r.isInFlight(event.crid), file: file, line: line)
                // The remaining messages of a failed stream are dropped quietly.
                for rest in events[(index + 1)...] {
                    guard case .none = r.receive(rest, now: 0) else {
                        XCTFail("message after failure not dropped", file: file, line: line)
                        return failure
                    }
                }
                return failure
            }
        }
        return nil
    }

    private func failure(_ events: [StreamEvent], file: StaticString = #filePath, line: UInt = #line) -> StreamFailure? {
        var r = reassembler()
        return failure(events, &r, file: file, line: line)
    }

    private func stream(_ crid: UInt64 = 7, pageBytes: Int = 10_000, chunk: Int = 4096) -> [StreamEvent] {
        streamEvents(crid: crid, records: validRecords(pageBytes: pageBytes), chunk: chunk, factory: factory)
    }

    // MARK: a valid stream

    func testValidStreamOpensWritesEveryFragmentAndCompletes() {
        var r = reassembler()
        let events = stream(chunk: 4096)
        var written: [UInt32: [UInt8]] = [:]
        var heads: [UInt32] = []
        var ended: [UInt32] = []
        var session: UInt64?
        var completed: StreamSummary?
        for event in events {
            switch r.receive(event, now: 0) {
            case let .open(s, crid, pid):
                session = s
                XCTAssertEqual(crid, 7)
                XCTAssertEqual(pid, 4242)
            case let .write(op):
                XCTAssertEqual(op.session, session)
                let id = event.fragment!.id
                if let head = op.head { heads.append(head.id); XCTAssertEqual(head.id, id) }
                written[id, default: []] += Array(op.data)
                if op.endsRecord { ended.append(id) }
            case let .complete(s, crid, summary, _):
                XCTAssertEqual(s, session)
                XCTAssertEqual(crid, 7)
                completed = summary
            case .none, .fail:
                XCTFail("unexpected \(event)")
            }
        }
        XCTAssertEqual(heads, Array(1...8))
        XCTAssertEqual(ended, Array(1...8))
        for record in validRecords() { XCTAssertEqual(written[record.id, default: []], record.data) }
        XCTAssertEqual(completed?.records, 8)
        XCTAssertEqual(r.streamsInFlight, 0)
    }

    func testSixtyFourInterleavedStreamsAllComplete() {
        var r = reassembler()
        let streams = (1...80).map { stream(UInt64($0), pageBytes: 3000 + $0 * 7, chunk: 1000) }
        var completed = 0
        var cursor = Array(repeating: 0, count: streams.count)
        var progress = true
        while progress {  // round-robin, one message per stream per turn
            progress = false
            for i in streams.indices where cursor[i] < streams[i].count {
                progress = true
                switch r.receive(streams[i][cursor[i]], now: 0) {
                case .complete: completed += 1
                case .fail(_, let failure): XCTFail("\(failure)")
                default: break
                }
                cursor[i] += 1
            }
            if progress { XCTAssertLessThanOrEqual(r.streamsInFlight, 80) }
        }
        XCTAssertEqual(completed, 80)
    }

    func testCridMayBeReusedAfterCompletionAndAfterFailure() {
        var r = reassembler()
        for event in stream(9) { _ = r.receive(event, now: 0) }
        XCTAssertNil(failure(stream(9), &r))
        XCTAssertNotNil(failure(renumbered(stream(9).filter { $0.fragment?.id != 3 }), &r))
        XCTAssertNil(failure(stream(9), &r))
    }

    /// The reassembler remembers the last message's stream and slot: a stream removed any
    /// way (its writer failed, it completed) is never reached through them, even once
    /// another stream has its slot.
    func testRemovedStreamIsNotReachedThroughTheRememberedSlot() {
        var r = reassembler()
        let a = stream(7), b = stream(8), c = stream(9)
        var session: UInt64 = 0
        for event in a.prefix(3) {
            if case let .open(s, _, _) = r.receive(event, now: 0) { session = s }
        }
        r.writerFailed(session: session)
        guard case .open = r.receive(b[0], now: 0) else { return XCTFail("b did not open") }  // a's slot
        guard case .none = r.receive(a[3], now: 0) else { return XCTFail("a's message reached another stream") }
        var completed = false
        for event in b.dropFirst() {
            switch r.receive(event, now: 0) {
            case .complete: completed = true
            case let .fail(_, failure): XCTFail("b: \(failure)")
            default: break
            }
        }
        XCTAssertTrue(completed)
        guard case .open = r.receive(c[0], now: 0) else { return XCTFail("c did not open") }  // b's slot
        guard case let .fail(_, stale) = r.receive(b[1], now: 0) else { return XCTFail("b's message reached c") }
        XCTAssertEqual(stale.crid, 8)
        XCTAssertNil(failure(Array(c.dropFirst()), &r))
    }

    // MARK: stream framing

    func testBeginMustBeSeqZero() {
        let f = failure([.begin(crid: 3, seq: 5, pid: 1)])
        XCTAssertEqual(f, StreamFailure(crid: 3, seq: 5, recordID: nil, rule: .beginNotAtSeqZero(seq: 5)))
    }

    func testDuplicateBeginFailsTheStream() {
        var events = Array(stream().prefix(3))
        events.append(.begin(crid: 7, seq: 0, pid: 1))
        XCTAssertEqual(failure(events)?.rule, .duplicateBegin)
        var events2 = Array(stream().prefix(3))
        events2.append(.begin(crid: 7, seq: 3, pid: 1))
        XCTAssertEqual(failure(events2)?.rule, .duplicateBegin)
    }

    func testMessageOfAStreamThatNeverBeganIsUnknownAndReportedOnce() {
        var r = reassembler()
        let events = Array(stream().dropFirst())
        guard case let .fail(session, f) = r.receive(events[0], now: 0) else { return XCTFail() }
        XCTAssertNil(session)
        XCTAssertEqual(f, StreamFailure(crid: 7, seq: 1, recordID: 1, rule: .unknownStream))
        for event in events.dropFirst() {
            guard case .none = r.receive(event, now: 0) else { return XCTFail("reported twice") }
        }
        XCTAssertEqual(r.droppedMessages, UInt64(events.count - 1))
    }

    func testSequenceGapFailsOnlyThatStream() {
        var r = reassembler()
        var a = stream(1)
        a.remove(at: 4)  // lose one message of stream 1
        let b = stream(2)
        var failures: [StreamFailure] = []
        var completed: [UInt64] = []
        for i in 0..<max(a.count, b.count) {
            for events in [a, b] where i < events.count {
                switch r.receive(events[i], now: 0) {
                case let .fail(_, f): failures.append(f)
                case let .complete(_, crid, _, _): completed.append(crid)
                default: break
                }
            }
        }
        XCTAssertEqual(failures, [StreamFailure(crid: 1, seq: 5, recordID: nil, rule: .sequenceGap(expected: 4, got: 5))])
        XCTAssertEqual(completed, [2])
        XCTAssertTrue(failures[0].description.contains("crid 1 seq 5"), failures[0].description)
    }

    func testTooManyStreamsRefusesTheNewOne() {
        var r = reassembler(maxStreams: 2)
        _ = r.receive(.begin(crid: 1, seq: 0, pid: 1), now: 0)
        _ = r.receive(.begin(crid: 2, seq: 0, pid: 1), now: 0)
        guard case let .fail(session, f) = r.receive(.begin(crid: 3, seq: 0, pid: 1), now: 0) else { return XCTFail() }
        XCTAssertNil(session)
        XCTAssertEqual(f.rule, .tooManyStreams(limit: 2))
        XCTAssertEqual(r.streamsInFlight, 2)
    }

    // MARK: fragments

    /// The events of stream 7 with the pages record (id 6) sent in 4 fragments of 2500 bytes.
    private func pagesFragments() -> (events: [StreamEvent], first: Int) {
        let events = stream(pageBytes: 10_000, chunk: 2500)
        let first = events.firstIndex { $0.fragment?.id == 6 }!
        return (events, first)
    }

    func testFragmentsOfOneRecordMustBeConsecutive() {
        var (events, first) = pagesFragments()
        // Record 7 (file) slipped between fragments 1 and 2 of record 6.
        let file = events.firstIndex { $0.fragment?.id == 7 }!
        let moved = events.remove(at: file)
        events.insert(moved, at: first + 1)
        let f = failure(renumbered(events))
        XCTAssertEqual(f?.rule, .recordInterleaved(openID: 6, received: 2500, dataLength: 10_000))
        XCTAssertEqual(f?.recordID, 7)
    }

    func testContinuationMustMatchTheFirstFragment() {
        for (field, change) in [
            ("rec-type", { (f: inout RecordFragment) in f.type = .regs }),
            ("rec-parent", { (f: inout RecordFragment) in f.parent = 4 }),
            ("data-len", { (f: inout RecordFragment) in f.dataLength = 20_000 }),
        ] {
            var (events, first) = pagesFragments()
            var fragment = events[first + 1].fragment!
            change(&fragment)
            events[first + 1] = .record(fragment)
            XCTAssertEqual(failure(events)?.rule, .fragmentMismatch(field: field))
        }
    }

    func testFragmentOffsetsMustBeContiguous() {
        var (events, first) = pagesFragments()
        events.remove(at: first + 1)  // fragment 2 missing but seqs renumbered: no gap, wrong offset
        XCTAssertEqual(failure(renumbered(events))?.rule, .fragmentOffset(expected: 2500, got: 5000))

        var (events2, first2) = pagesFragments()
        events2.remove(at: first2)  // first fragment missing: the record starts at offset 2500
        XCTAssertEqual(failure(renumbered(events2))?.rule, .fragmentOffset(expected: 0, got: 2500))
    }

    func testFragmentMayNotRunPastDataLength() {
        var (events, first) = pagesFragments()
        var last = events[first + 3].fragment!
        last.data = factory.bytes(Array(repeating: 1, count: 2501))
        events[first + 3] = .record(last)
        XCTAssertEqual(failure(events)?.rule, .fragmentOverrun(offset: 7500, count: 2501, dataLength: 10_000))
    }

    func testFragmentWithoutDataIsRejectedUnlessTheRecordHasNone() {
        var (events, first) = pagesFragments()
        var second = events[first + 1].fragment!
        second.data = factory.bytes([])
        events[first + 1] = .record(second)
        XCTAssertEqual(failure(events)?.rule, .emptyFragment(offset: 2500, dataLength: 10_000))
    }

    func testMetaOnlyOnTheFirstFragment() {
        var (events, first) = pagesFragments()
        var second = events[first + 1].fragment!
        second.meta = factory.bytes([1])
        events[first + 1] = .record(second)
        XCTAssertEqual(failure(events)?.rule.name, "meta-placement")

        var (events2, first2) = pagesFragments()
        var head = events2[first2].fragment!
        head.meta = nil
        events2[first2] = .record(head)
        XCTAssertEqual(failure(events2)?.rule, .metaPlacement("first fragment of a record carries no meta"))
    }

    func testRecordDataLengthIsBounded() {
        var (events, first) = pagesFragments()
        var head = events[first].fragment!
        head.dataLength = 16_777_217
        events[first] = .record(head)
        XCTAssertEqual(failure(events)?.rule, .recordTooLarge(dataLength: 16_777_217))
    }

    // MARK: records

    func testNestingRulesComeFromRecordTreeRules() {
        var events = stream()
        var pages = events.first { $0.fragment?.id == 6 }!.fragment!
        pages.parent = 2  // pages under the task
        events[events.firstIndex { $0.fragment?.id == 6 }!] = .record(pages)
        let f = failure(events)
        XCTAssertEqual(f?.rule, .nesting(.wrongParentType(id: 6, type: .pages, parentType: .task, expected: .vma)))
        XCTAssertEqual(f?.recordID, 6)

        let noHeader = renumbered(stream().filter { $0.fragment?.id != 1 })
        XCTAssertEqual(failure(noHeader)?.rule.name, "nesting")
    }

    func testEndWithoutTrailerIsANestingFailure() {
        var r = reassembler()
        let events = stream()
        let noTrailer = renumbered(events.filter { $0.fragment?.id != 8 })
        let f = failure(noTrailer, &r)
        XCTAssertEqual(f?.rule, .nesting(.missingTrailer(records: 7)))
        XCTAssertEqual(f?.recordID, 7)
    }

    func testRecordDataMustAgreeWithItsMeta() {
        // Real meta: a pages record of 2 pages of 4096 bytes must carry 8192 data bytes.
        let page = { (n: UInt32) in RecordMeta.pages(PagesMeta(addr: 0x10000, nrPages: n)).encodedPayload() }
        var records = [
            SyntheticRecord(type: .header, id: 1, parent: 0, meta: RecordMeta.header(HeaderMeta(
                arch: "x86_64", pageSize: 4096, release: "t", timeNs: 0)).encodedPayload(), data: []),
            SyntheticRecord(type: .task, id: 2, parent: 0, meta: RecordMeta.task(TaskMeta(
                pid: 1, tgid: 1, ppid: 0, comm: "t", uid: 0, gid: 0, euid: 0, egid: 0)).encodedPayload(), data: []),
            SyntheticRecord(type: .mm, id: 3, parent: 2, meta: RecordMeta.mm(MMMeta(
                startCode: 0, endCode: 0, startData: 0, endData: 0, startBrk: 0, brk: 0, startStack: 0,
                argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)).encodedPayload(), data: []),
            SyntheticRecord(type: .vma, id: 4, parent: 3, meta: RecordMeta.vma(VMAMeta(
                start: 0x10000, end: 0x12000, vmFlags: 3, pgoff: 0)).encodedPayload(), data: []),
            SyntheticRecord(type: .pages, id: 5, parent: 4, meta: page(2), data: Array(repeating: 1, count: 8192)),
            SyntheticRecord(type: .trailer, id: 6, parent: 0, meta: RecordMeta.trailer(TrailerMeta(
                nrThreads: 0, nrVMAs: 1, nrPagesTotal: 2, nrFiles: 0)).encodedPayload(), data: []),
        ]
        var r = Reassembler()
        XCTAssertNil(failure(streamEvents(crid: 8, records: records, factory: factory), &r))
        records[4].meta = page(3)
        let f = failure(streamEvents(crid: 9, records: records, factory: factory), &r)
        XCTAssertEqual(f, StreamFailure(crid: 9, seq: 5, recordID: 5,
                                        rule: .meta("record 5: pages data-len 8192 != nr-pages 3 * page-size 4096")))
        records[4].meta = [1, 2, 3]
        XCTAssertEqual(failure(streamEvents(crid: 10, records: records, factory: factory), &r)?.rule.name, "meta")
    }

    // MARK: the end

    func testEndInsideARecord() {
        var (events, first) = pagesFragments()
        let end = events.last!
        events = Array(events[...(first + 1)])
        events.append(end.with(seq: UInt32(events.count)))
        XCTAssertEqual(failure(events)?.rule, .endInsideRecord(id: 6, received: 5000, dataLength: 10_000))
    }

    func testEndSummaryMustMatchRecordsBytesAndChecksum() {
        for change in [
            { (s: inout StreamSummary) in s.records += 1 },
            { (s: inout StreamSummary) in s.bytes -= 1 },
            { (s: inout StreamSummary) in s.checksum ^= 1 },
        ] {
            var events = stream()
            guard case let .end(crid, seq, summary) = events.last! else { return XCTFail() }
            var sent = summary
            change(&sent)
            events[events.count - 1] = .end(crid: crid, seq: seq, summary: sent)
            XCTAssertEqual(failure(events)?.rule, .summaryMismatch(sent: sent, received: summary))
        }
    }

    /// The listener's mode: counts are still compared here, the checksum is handed on to the
    /// image writer with the sender's summary and the end's seq.
    func testWithoutChecksummingCountsFailHereAndTheChecksumIsHandedOn() {
        var config = noMetaCheck
        config.checksumData = false
        var events = stream()
        guard case let .end(crid, seq, summary) = events.last! else { return XCTFail() }
        var sent = summary
        sent.checksum ^= 1
        events[events.count - 1] = .end(crid: crid, seq: seq, summary: sent)
        var r = Reassembler(configuration: config)
        var outcome: ReassemblyAction?
        for event in events { outcome = r.receive(event, now: 0) }
        guard case let .complete(_, endCrid, handedOn, endSeq)? = outcome else { return XCTFail("\(String(describing: outcome))") }
        XCTAssertEqual(endCrid, crid)
        XCTAssertEqual(handedOn, sent)
        XCTAssertEqual(endSeq, seq)

        sent = summary
        sent.bytes += 1
        events[events.count - 1] = .end(crid: crid, seq: seq, summary: sent)
        var counting = Reassembler(configuration: config)
        let failed = failure(events, &counting)
        XCTAssertEqual(failed?.rule.name, "summary-mismatch")
        XCTAssertEqual(failed?.description.contains("received \(summary.records) records, \(summary.bytes) bytes"), true,
                       failed?.description ?? "")
    }

    func testCorruptedDataFailsTheChecksum() {
        var events = stream()
        let i = events.firstIndex { $0.fragment?.id == 6 }!
        var f = events[i].fragment!
        var bytes = Array(f.data)
        bytes[100] ^= 0x40
        f.data = factory.bytes(bytes)
        events[i] = .record(f)
        XCTAssertEqual(failure(events)?.rule.name, "summary-mismatch")
    }

    // MARK: ends that are not broken rules

    func testAbortCarriesTheSendersReason() {
        var (events, first) = pagesFragments()
        events = Array(events[...first])
        events.append(.abort(crid: 7, seq: UInt32(events.count), reason: 2, message: "sink too slow"))
        let f = failure(events)
        XCTAssertEqual(f, StreamFailure(crid: 7, seq: UInt32(events.count - 1), recordID: 6,
                                        rule: .aborted(reason: 2, message: "sink too slow")))
        XCTAssertTrue(f!.description.contains("SINK_TIMEOUT"), f!.description)
    }

    func testSilentStreamIsAbandonedAndOthersAreNot() {
        var r = reassembler(timeoutNs: 1_000)
        let a = stream(1)
        let b = stream(2)
        _ = r.receive(a[0], now: 0)
        _ = r.receive(a[1], now: 0)
        _ = r.receive(b[0], now: 900)
        XCTAssertTrue(r.expire(now: 1_000).isEmpty)
        let actions = r.expire(now: 1_500)
        XCTAssertEqual(actions.count, 1)
        guard case let .fail(session, f)? = actions.first else { return XCTFail() }
        XCTAssertEqual(session, 1)
        XCTAssertEqual(f, StreamFailure(crid: 1, seq: 1, recordID: nil, rule: .abandoned(silentNs: 1_500)))
        XCTAssertTrue(r.isInFlight(2))
    }

    func testLossIsAttributedToStreamsInFlight() {
        var r = reassembler()
        var a = stream(1)
        _ = r.receive(a[0], now: 0)
        XCTAssertEqual(r.noteLoss(), 1)
        a.remove(at: 1)
        let f = failure(Array(a.dropFirst()), &r)
        XCTAssertEqual(f?.rule, .sequenceGap(expected: 1, got: 2))
        XCTAssertEqual(f?.lossSuspected, true)
        XCTAssertTrue(f!.description.contains("ENOBUFS"))
        // A stream that began after the loss is not suspected, and completes.
        XCTAssertNil(failure(stream(2), &r))
    }

    func testInterruptFailsEveryStreamInFlight() {
        var r = reassembler()
        for crid in 1...3 as ClosedRange<UInt64> { _ = r.receive(.begin(crid: crid, seq: 0, pid: 1), now: 0) }
        let rules = r.failAll(.interrupted).compactMap { action -> FailureRule? in
            if case let .fail(_, f) = action { f.rule } else { nil }
        }
        XCTAssertEqual(rules, [.interrupted, .interrupted, .interrupted])
        XCTAssertEqual(r.streamsInFlight, 0)
    }

    func testWriterFailureDropsTheRestOfTheStream() {
        var r = reassembler()
        let events = stream()
        guard case let .open(session, _, _) = r.receive(events[0], now: 0) else { return XCTFail() }
        r.writerFailed(session: session)
        XCTAssertFalse(r.isInFlight(7))
        for event in events.dropFirst() {
            guard case .none = r.receive(event, now: 0) else { return XCTFail() }
        }
    }

    func testEveryFailureRuleHasADistinctName() {
        let rules: [FailureRule] = [
            .beginNotAtSeqZero(seq: 1), .duplicateBegin, .unknownStream, .sequenceGap(expected: 1, got: 2),
            .tooManyStreams(limit: 1), .recordInterleaved(openID: 1, received: 0, dataLength: 1),
            .fragmentMismatch(field: "x"), .fragmentOffset(expected: 0, got: 1),
            .fragmentOverrun(offset: 0, count: 1, dataLength: 0), .emptyFragment(offset: 0, dataLength: 1),
            .metaPlacement("x"), .recordTooLarge(dataLength: 1), .nesting(.recordAfterTrailer(id: 1)),
            .meta("x"), .endInsideRecord(id: 1, received: 0, dataLength: 1),
            .summaryMismatch(sent: StreamSummary(records: 0, bytes: 0, checksum: 0),
                             received: StreamSummary(records: 0, bytes: 0, checksum: 0)),
            .malformed("x"), .aborted(reason: 1, message: nil), .abandoned(silentNs: 1), .io("x"),
            .interrupted, .leftover,
        ]
        XCTAssertEqual(Set(rules.map(\.name)).count, rules.count)
        XCTAssertEqual(FailureRule.leftover.description, "listener crashed or was killed mid-capture")
    }
}

final class CridTombstonesTests: XCTestCase {
    func testOldestForgottenFirstAndReinsertSurvivesSlotReuse() {
        var t = CridTombstones(capacity: 3)
        t.insert(1); t.insert(2); t.insert(3)  // slots 0, 1, 2
        t.remove(2)                            // slot 1 still names 2
        t.insert(2)                            // slot 0, evicting 1 (the oldest)
        XCTAssertFalse(t.contains(1))
        t.insert(5)                            // slot 1: its stale 2 must not evict the live one
        XCTAssertTrue(t.contains(2))
        XCTAssertTrue(t.contains(3) && t.contains(5))
        t.insert(6)                            // slot 2: evicts 3
        XCTAssertFalse(t.contains(3))
    }
}

import Testing
@testable import CkptProtocol

@Suite struct RecordTreeRulesTests {
    /// header(1) task(2) regs(3) mm(4) vma(5) pages(6) file(7) trailer(8): the drawn tree.
    @Test func acceptsTheDocumentedTree() throws {
        var r = RecordTreeRules()
        try r.accept(id: 1, parent: 0, type: .header)
        try r.accept(id: 2, parent: 0, type: .task)
        try r.accept(id: 3, parent: 2, type: .regs)
        try r.accept(id: 4, parent: 2, type: .mm)
        try r.accept(id: 5, parent: 4, type: .vma)
        try r.accept(id: 6, parent: 5, type: .pages)
        #expect(r.depth == 4)
        try r.accept(id: 7, parent: 5, type: .pages)
        try r.accept(id: 8, parent: 4, type: .vma)
        try r.accept(id: 9, parent: 2, type: .file)
        try r.accept(id: 10, parent: 0, type: .trailer)
        try r.finish()
        #expect(r.records == 10)
    }

    func rules(_ prefix: [(UInt32, UInt32, RecordType)]) throws -> RecordTreeRules {
        var r = RecordTreeRules()
        for (id, parent, type) in prefix { try r.accept(id: id, parent: parent, type: type) }
        return r
    }

    @Test func firstRecordNotHeader() throws {
        var r = RecordTreeRules()
        #expect(throws: RecordTreeViolation.firstRecordNotHeader(id: 1, type: .task)) {
            try r.accept(id: 1, parent: 0, type: .task)
        }
    }

    @Test func idNotIncreasing() throws {
        var r = try rules([(1, 0, .header), (5, 0, .task)])
        #expect(throws: RecordTreeViolation.idNotIncreasing(id: 5, previous: 5)) { try r.accept(id: 5, parent: 5, type: .regs) }
        #expect(throws: RecordTreeViolation.idNotIncreasing(id: 4, previous: 5)) { try r.accept(id: 4, parent: 5, type: .regs) }
    }

    @Test func parentNotOpen() throws {
        var r = try rules([(1, 0, .header), (2, 0, .task), (3, 2, .mm), (4, 3, .vma), (5, 2, .file)])
        // mm 3 was closed by file 5 (a child of an outer record).
        #expect(throws: RecordTreeViolation.parentNotOpen(id: 6, parent: 3)) { try r.accept(id: 6, parent: 3, type: .vma) }
        #expect(throws: RecordTreeViolation.parentNotOpen(id: 6, parent: 42)) { try r.accept(id: 6, parent: 42, type: .regs) }
    }

    @Test func wrongParentType() throws {
        var r = try rules([(1, 0, .header), (2, 0, .task)])
        #expect(throws: RecordTreeViolation.wrongParentType(id: 3, type: .pages, parentType: .task, expected: .vma)) {
            try r.accept(id: 3, parent: 2, type: .pages)
        }
        #expect(throws: RecordTreeViolation.wrongParentType(id: 3, type: .regs, parentType: nil, expected: .task)) {
            try r.accept(id: 3, parent: 0, type: .regs)
        }
    }

    @Test func recordAfterTrailer() throws {
        var r = try rules([(1, 0, .header), (2, 0, .trailer)])
        #expect(throws: RecordTreeViolation.recordAfterTrailer(id: 3)) { try r.accept(id: 3, parent: 0, type: .task) }
    }

    @Test func missingTrailer() throws {
        let r = try rules([(1, 0, .header), (2, 0, .task)])
        #expect(throws: RecordTreeViolation.missingTrailer(records: 2)) { try r.finish() }
    }

    @Test func stateUnchangedAfterViolation() throws {
        var r = try rules([(1, 0, .header), (2, 0, .task)])
        #expect(throws: RecordTreeViolation.self) { try r.accept(id: 3, parent: 0, type: .regs) }
        try r.accept(id: 3, parent: 2, type: .regs)
        #expect(r.records == 3)
    }
}

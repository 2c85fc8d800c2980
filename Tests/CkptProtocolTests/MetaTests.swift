import CCkptUAPI
import Testing
@testable import CkptProtocol

/// "Each type requires its subset and carries no others", and the data-length rules.
@Suite struct MetaTests {
    /// Re-encodes `meta` without the attribute of type `drop`.
    func payload(_ meta: RecordMeta, dropping drop: Int? = nil, adding extra: ((MessageBuffer) -> Void)? = nil) -> [UInt8] {
        let full = metaBytes(meta, padded: false)
        let b = MessageBuffer()
        full.withUnsafeBytes { raw in
            var reader = NetlinkAttributeReader(raw, baseOffset: 0, container: "meta")
            while let a = try! reader.next() {
                if Int(a.type) == drop { continue }
                b.appendAttribute(Int(a.type), a.value)
            }
        }
        extra?(b)
        return Array(b.bytes)
    }

    func decode(_ type: RecordType, _ bytes: [UInt8]) -> ProtocolError? {
        do {
            _ = try bytes.withUnsafeBytes { try RecordMeta(type: type, payload: $0) }
            return nil
        } catch let error as ProtocolError {
            return error
        } catch {
            Issue.record("\(error)")
            return nil
        }
    }

    @Test func everyRequiredFieldOfEveryTypeIsRequired() {
        for meta in allSampleMetas {
            var reader = AttributeMask(bits: MetaSchema.required(meta.type).bits)
            while let t = reader.first {
                reader.bits &= ~(1 << UInt64(t))
                let e = decode(meta.type, payload(meta, dropping: Int(t)))
                #expect(e?.kind == .missingAttribute, "\(meta.type) without \(AttributeSchema.metaName(t))")
                #expect(e?.field == AttributeSchema.metaName(t))
            }
        }
    }

    @Test func everyTypeRejectsEveryForeignField() {
        for meta in allSampleMetas {
            let allowed = MetaSchema.required(meta.type).union(MetaSchema.optional(meta.type))
            for t in 1...CKPT_A_META_MAX where !allowed.contains(UInt16(t)) {
                let e = decode(meta.type, payload(meta) { b in
                    switch AttributeSchema.meta[t]!.kind {
                    case .u64: b.appendU64(t, 1, padType: nil)
                    case .string: b.appendString(t, "x")
                    default: b.appendU32(t, 1)
                    }
                })
                #expect(e?.kind == .unknownAttribute, "\(meta.type) with \(AttributeSchema.metaName(UInt16(t)))")
            }
        }
    }

    @Test func optionalPathMayBeAbsent() throws {
        #expect(decode(.vma, payload(sampleVMA, dropping: CKPT_A_META_PATH)) == nil)
        #expect(decode(.file, payload(sampleFile, dropping: CKPT_A_META_PATH)) == nil)
    }

    @Test func paddedAndUnpaddedPayloadsDecodeTheSame() throws {
        let padded = try metaBytes(sampleMM).withUnsafeBytes { try RecordMeta(type: .mm, payload: $0) }
        let unpadded = try metaBytes(sampleMM, padded: false).withUnsafeBytes { try RecordMeta(type: .mm, payload: $0) }
        #expect(padded == unpadded)
        #expect(metaBytes(sampleMM).count > metaBytes(sampleMM, padded: false).count)
    }

    // MARK: RecordDataRules

    @Test func dataRulesAcceptAConsistentStream() throws {
        var rules = RecordDataRules()
        try rules.check(id: 1, meta: sampleHeader, dataLength: 0)
        #expect(rules.pageSize == 4096 && rules.arch == "x86_64")
        try rules.check(id: 2, meta: sampleTask, dataLength: 0)
        try rules.check(id: 3, meta: sampleRegs, dataLength: 216)
        try rules.check(id: 4, meta: sampleMM, dataLength: 0)
        try rules.check(id: 5, meta: sampleVMA, dataLength: 0)
        try rules.check(id: 6, meta: samplePages, dataLength: 2 * 4096)
        try rules.check(id: 7, meta: sampleFile, dataLength: 0)
        try rules.check(id: 8, meta: sampleTrailer, dataLength: 0)
    }

    func headerRules() throws -> RecordDataRules {
        var r = RecordDataRules()
        try r.check(id: 1, meta: sampleHeader, dataLength: 0)
        return r
    }

    @Test func pagesLengthMustMatchPageSize() throws {
        var r = try headerRules()
        #expect(throws: RecordDataViolation.pagesLength(id: 6, dataLength: 4096, nrPages: 2, pageSize: 4096)) {
            try r.check(id: 6, meta: samplePages, dataLength: 4096)
        }
    }

    @Test func pagesBeforeHeader() {
        var r = RecordDataRules()
        #expect(throws: RecordDataViolation.noHeader(id: 6, type: .pages)) { try r.check(id: 6, meta: samplePages, dataLength: 8192) }
    }

    @Test func pagesAddressUnaligned() throws {
        var r = try headerRules()
        #expect(throws: RecordDataViolation.unaligned(id: 6, field: "addr", value: 0x600010, pageSize: 4096)) {
            try r.check(id: 6, meta: .pages(PagesMeta(addr: 0x600010, nrPages: 1)), dataLength: 4096)
        }
    }

    @Test func regsLengthOnX86_64() throws {
        var r = try headerRules()
        #expect(throws: RecordDataViolation.regsLength(id: 3, dataLength: 200, expected: 216, arch: "x86_64")) {
            try r.check(id: 3, meta: sampleRegs, dataLength: 200)
        }
    }

    @Test func sigactionsLengthIsEntriesTimesEntrySize() throws {
        var r = try headerRules()
        try r.check(id: 4, meta: sampleSigactions, dataLength: 64 * UInt64(CKPT_SIGACTION_SIZE))
        #expect(throws: RecordDataViolation.sigactionsLength(id: 4, dataLength: 2047, nrSigs: 64)) {
            try r.check(id: 4, meta: sampleSigactions, dataLength: 2047)
        }
    }

    @Test func shmemCarriesNoDataAndSitsUnderAVMA() throws {
        var r = RecordDataRules()
        try r.check(id: 6, meta: sampleShmem, dataLength: 0)
        #expect(throws: RecordDataViolation.unexpectedData(id: 6, type: .shmem, dataLength: 4096)) {
            try r.check(id: 6, meta: sampleShmem, dataLength: 4096)
        }
        #expect(RecordType.shmem.parentType == .vma && RecordType.pages.parentType == .vma)
        #expect(MetaSchema.required(.shmem) == AttributeMask(CKPT_A_META_INO, CKPT_A_META_SIZE))
    }

    @Test func rlimitsLengthIsEntriesTimesEntrySize() throws {
        var r = RecordDataRules()
        try r.check(id: 5, meta: sampleRlimits, dataLength: 16 * UInt64(CKPT_RLIMIT_SIZE))
        #expect(throws: RecordDataViolation.rlimitsLength(id: 5, dataLength: 255, nrRlimits: 16)) {
            try r.check(id: 5, meta: sampleRlimits, dataLength: 255)
        }
    }

    @Test func siginfoIsWholeEntriesUpToTheMax() throws {
        var r = RecordDataRules()
        try r.check(id: 7, meta: sampleSiginfo, dataLength: 2 * UInt64(CKPT_SIGINFO_SIZE))
        try r.check(id: 8, meta: sampleSharedSiginfo, dataLength: 128 * UInt64(CKPT_SIGINFO_SIZE))
        #expect(throws: RecordDataViolation.siginfoLength(id: 7, dataLength: 100, nrSiginfo: 2, nrQueued: 2)) {
            try r.check(id: 7, meta: sampleSiginfo, dataLength: 100)
        }
        let tooMany = RecordMeta.siginfo(SiginfoMeta(nrSiginfo: 129, nrQueued: 129))
        #expect(throws: RecordDataViolation.siginfoLength(id: 9, dataLength: 129 * 128, nrSiginfo: 129, nrQueued: 129)) {
            try r.check(id: 9, meta: tooMany, dataLength: 129 * 128)
        }
        #expect(RecordType.siginfo.parentType == .regs && RecordType.sharedSiginfo.parentType == .sigactions)
    }

    @Test func pipeDataIsAllOrNothing() throws {
        var r = RecordDataRules()
        try r.check(id: 6, meta: samplePipe, dataLength: 3000)
        try r.check(id: 6, meta: samplePipe, dataLength: 0)  // a write end, or more than CKPT_PIPE_DATA_MAX held
        #expect(throws: RecordDataViolation.pipeLength(id: 6, dataLength: 2999, pipeBytes: 3000)) {
            try r.check(id: 6, meta: samplePipe, dataLength: 2999)
        }
    }

    /// A unix record: a known socket type, data within `CKPT_UNIX_DATA_MAX`, none when
    /// nothing was queued; its messages framed as length and bytes.
    @Test func unixRecordDataAndFraming() throws {
        var r = RecordDataRules()
        try r.check(id: 9, meta: sampleUnix, dataLength: 15)
        try r.check(id: 9, meta: sampleUnix, dataLength: 0)  // rights, busy, or too much to carry
        let empties = RecordMeta.unix(UnixMeta(type: 2, state: 1, flags: 0, peerInode: 5, shutdown: 0, bytes: 0, sndbuf: 0, rcvbuf: 0))
        try r.check(id: 9, meta: empties, dataLength: 8)  // two empty datagrams
        let raw = RecordMeta.unix(UnixMeta(type: 3, state: 1, flags: 0, peerInode: 0, shutdown: 0, bytes: 0, sndbuf: 0, rcvbuf: 0))
        #expect(throws: RecordDataViolation.unixRecord(id: 9, type: 3, dataLength: 0, bytes: 0)) {
            try r.check(id: 9, meta: raw, dataLength: 0)
        }
        #expect(throws: RecordDataViolation.unixRecord(id: 9, type: 1, dataLength: UInt64(CKPT_UNIX_DATA_MAX) + 1, bytes: 11)) {
            try r.check(id: 9, meta: sampleUnix, dataLength: UInt64(CKPT_UNIX_DATA_MAX) + 1)
        }
        let data = UnixMessages.join([Array("hello".utf8), [0], Array(repeating: 7, count: 300)])
        #expect(data.count == 3 * 4 + 306 && data[0..<4] == [5, 0, 0, 0] && data[14..<18] == [44, 1, 0, 0])
        #expect(UnixMessages.split(data)?.map(Array.init) == [Array("hello".utf8), [0], Array(repeating: 7, count: 300)])
        #expect(UnixMessages.split([]) == [])
        #expect(UnixMessages.split(Array(data.dropLast())) == nil)  // the last length runs past the end
        #expect(UnixMessages.split([0, 0, 0, 0])?.map(Array.init) == [[]])  // an empty datagram
        #expect(UnixMessages.split([1, 0, 0]) == nil)  // a cut length
        #expect(RecordType.unix.parentType == .file)
    }

    /// An inet record: no data; a family of AF_INET or AF_INET6 that its addresses share;
    /// an address is a whole sockaddr_in or sockaddr_in6 of its own family, or the record
    /// does not decode.
    @Test func inetRecordFamilyAndAddresses() throws {
        var r = RecordDataRules()
        try r.check(id: 4, meta: sampleInetListener, dataLength: 0)
        try r.check(id: 4, meta: sampleInetConnected, dataLength: 0)
        #expect(throws: RecordDataViolation.unexpectedData(id: 4, type: .inet, dataLength: 1)) {
            try r.check(id: 4, meta: sampleInetListener, dataLength: 1)
        }
        guard case var .inet(m) = sampleInetConnected else { return }
        m.family = 10  // AF_INET6 with AF_INET addresses
        #expect(throws: RecordDataViolation.inetRecord(id: 4, family: 10, type: 2, proto: 17, addressFamilies: [2, 2])) {
            try r.check(id: 4, meta: .inet(m), dataLength: 0)
        }
        m.family = 1  // AF_UNIX
        m.address = nil
        m.peer = nil
        #expect(throws: RecordDataViolation.inetRecord(id: 4, family: 1, type: 2, proto: 17, addressFamilies: [])) {
            try r.check(id: 4, meta: .inet(m), dataLength: 0)
        }
        m.family = 2
        m.proto = 132  // SCTP
        #expect(throws: RecordDataViolation.inetRecord(id: 4, family: 2, type: 2, proto: 132, addressFamilies: [])) {
            try r.check(id: 4, meta: .inet(m), dataLength: 0)
        }
        m.proto = 6  // TCP, but a datagram socket
        #expect(throws: RecordDataViolation.self) { try r.check(id: 4, meta: .inet(m), dataLength: 0) }
        m.type = 1
        try r.check(id: 4, meta: .inet(m), dataLength: 0)
        #expect(RecordType.inet.parentType == .file)
        #expect(sampleIPv4Address.description == "127.0.0.1:8080" && sampleIPv4Address.port == 8080)
        #expect(sampleIPv6Address.description == "[::1]:8080" && sampleIPv6Address.family == 10)
        var scoped = sampleIPv6Address.bytes
        scoped[8] = 0xfe; scoped[9] = 0x80; scoped[24] = 2
        #expect(SocketAddress(bytes: scoped)?.description == "[fe80::1%2]:8080")
        // A length that is not its family's, or a family that is not inet's.
        #expect(SocketAddress(bytes: Array(sampleIPv4Address.bytes.dropLast())) == nil)
        #expect(SocketAddress(bytes: sampleIPv4Address.bytes + [0]) == nil)
        #expect(SocketAddress(bytes: [10, 0] + sampleIPv4Address.bytes.dropFirst(2)) == nil)
        #expect(SocketAddress(bytes: [1, 0] + [UInt8](repeating: 0, count: 14)) == nil)
        #expect(SocketAddress(bytes: []) == nil)
        // An address attribute of 15 bytes does not decode (named, with its length).
        let b = MessageBuffer(capacity: 256)
        for (a, v) in [(CKPT_A_META_SOCK_TYPE, 1), (CKPT_A_META_SOCK_STATE, 7), (CKPT_A_META_SOCK_FLAGS, 0),
                       (CKPT_A_META_SOCK_SHUTDOWN, 0), (CKPT_A_META_SNDBUF, 0), (CKPT_A_META_RCVBUF, 0),
                       (CKPT_A_META_SOCK_FAMILY, 2), (CKPT_A_META_SOCK_PROTOCOL, 6)] {
            b.appendU32(Int(a), UInt32(v))
        }
        Array(sampleIPv4Address.bytes.dropLast()).withUnsafeBytes { b.appendAttribute(Int(CKPT_A_META_SOCK_ADDR), $0) }
        b.appendU32(Int(CKPT_A_META_SOCK_BACKLOG), 0)
        b.appendU32(Int(CKPT_A_META_SOCK_QUEUED), 0)
        let bytes = Array(b.bytes)
        #expect {
            try bytes.withUnsafeBytes { _ = try RecordMeta(type: .inet, payload: $0) }
        } throws: { error in
            (error as? ProtocolError)?.kind == .valueOutOfRange && "\(error)".contains("CKPT_A_META_SOCK_ADDR")
        }
    }

    /// A Unix socket's name: a path or an abstract name, made only from an `AF_UNIX` name of
    /// 1 to 108 bytes; an attribute that is not one does not decode, named.
    @Test func unixRecordNames() throws {
        #expect(samplePathAddress.path == "/run/app.sock" && !samplePathAddress.isAbstract)
        #expect(samplePathAddress.description == "/run/app.sock")
        #expect(sampleAbstractAddress.path == nil && sampleAbstractAddress.isAbstract)
        #expect(sampleAbstractAddress.description == "@app")
        #expect(UnixAddress(bytes: [1, 0, 0, 0x61, 0, 0x62])?.description == "@a@b")
        #expect(UnixAddress(bytes: [1, 0, 0x61])?.path == "a")
        #expect(UnixAddress(bytes: [1, 0]) == nil)  // the family alone: unbound
        #expect(UnixAddress(bytes: [2, 0, 0x61]) == nil)  // AF_INET
        #expect(UnixAddress(bytes: [1, 0] + [UInt8](repeating: 0x61, count: 108)) != nil)
        #expect(UnixAddress(bytes: [1, 0] + [UInt8](repeating: 0x61, count: 109)) == nil)
        var r = RecordDataRules()
        try r.check(id: 4, meta: sampleUnixListener, dataLength: 0)
        // An AF_INET name in a unix record does not decode (named, with its length).
        let b = MessageBuffer(capacity: 256)
        for (a, v) in [(CKPT_A_META_SOCK_TYPE, 1), (CKPT_A_META_SOCK_STATE, 7), (CKPT_A_META_SOCK_FLAGS, 1),
                       (CKPT_A_META_SOCK_SHUTDOWN, 0)] {
            b.appendU32(Int(a), UInt32(v))
        }
        b.appendU64(Int(CKPT_A_META_PEER_INO), 0, padType: nil)
        b.appendU64(Int(CKPT_A_META_SOCK_BYTES), 0, padType: nil)
        b.appendU32(Int(CKPT_A_META_SNDBUF), 0)
        b.appendU32(Int(CKPT_A_META_RCVBUF), 0)
        sampleIPv4Address.bytes.withUnsafeBytes { b.appendAttribute(Int(CKPT_A_META_SOCK_ADDR), $0) }
        let bytes = Array(b.bytes)
        #expect {
            try bytes.withUnsafeBytes { _ = try RecordMeta(type: .unix, payload: $0) }
        } throws: { error in
            (error as? ProtocolError)?.kind == .valueOutOfRange && "\(error)".contains("CKPT_A_META_SOCK_ADDR")
        }
        // Without the name (an older module's image) it decodes, with none.
        let back = try metaBytes(sampleUnix).withUnsafeBytes { try RecordMeta(type: .unix, payload: $0) }
        guard case let .unix(old) = back else { Issue.record("not unix"); return }
        #expect(old.address == nil && old.backlog == nil && old.queued == nil)
    }

    /// Attributes past the 64th decode and encode like the others, and a record type that
    /// must not carry them refuses them by name.
    @Test func fieldsPastTheSixtyFourth() throws {
        #expect(CKPT_A_META_PERSONALITY >= 64 && CKPT_A_META_MAX < AttributeMask.capacity)
        #expect(CKPT_A_META_MAX < AttributeTable.capacity && CKPT_A_MAX < AttributeTable.capacity)
        for meta in [sampleFullTask, sampleUnix, sampleInetListener, sampleInetConnected] {
            let bytes = metaBytes(meta)
            let back = try bytes.withUnsafeBytes { try RecordMeta(type: meta.type, payload: $0) }
            #expect(back == meta)
        }
        let b = MessageBuffer(capacity: 256)
        b.appendU32(Int(CKPT_A_META_TID), 7)
        b.appendU32(Int(CKPT_A_META_SOCK_TYPE), 1)
        let bytes = Array(b.bytes)
        #expect {
            try bytes.withUnsafeBytes { _ = try RecordMeta(type: .regs, payload: $0) }
        } throws: { error in
            (error as? ProtocolError)?.kind == .unknownAttribute && "\(error)".contains("CKPT_A_META_SOCK_TYPE")
        }
    }

    @Test func preCopyHeadersAndParentPages() throws {
        for meta in [sampleChildHeader, samplePreCopyHeader, sampleParentPages] {
            let back = try metaBytes(meta).withUnsafeBytes { try RecordMeta(type: meta.type, payload: $0) }
            #expect(back == meta)
        }
        guard case let .header(pre) = samplePreCopyHeader, case let .header(child) = sampleChildHeader else { return }
        #expect(pre.isPreCopy && !child.isPreCopy && child.parentCrid == 0x1_0000_0003)
        // Parent-pages: no data, an aligned address, nr-pages within a run.
        var rules = RecordDataRules()
        try rules.check(id: 1, meta: sampleChildHeader, dataLength: 0)
        try rules.check(id: 7, meta: sampleParentPages, dataLength: 0)
        #expect(throws: RecordDataViolation.self) { try rules.check(id: 8, meta: sampleParentPages, dataLength: 4096) }
        #expect(throws: RecordDataViolation.self) {
            try rules.check(id: 9, meta: .parentPages(PagesMeta(addr: 0x1001, nrPages: 1)), dataLength: 0)
        }
        let tooMany = metaBytes(.parentPages(PagesMeta(addr: 0x1000, nrPages: UInt32(CKPT_PAGES_RUN_MAX) + 1)))
        #expect(throws: ProtocolError.self) { try tooMany.withUnsafeBytes { _ = try RecordMeta(type: .parentPages, payload: $0) } }
        #expect(RecordType.parentPages.parentType == .vma && "\(RecordType.parentPages)" == "parent-pages")
    }

    @Test func altstackFieldsComeTogether() throws {
        // sp and size without flags: a regs meta no module sends.
        let b = MessageBuffer(capacity: 256)
        b.appendU32(Int(CKPT_A_META_TID), 7)
        b.appendU64(Int(CKPT_A_META_ALTSTACK_SP), 0x1000, padType: Int(CKPT_A_META_PAD))
        b.appendU64(Int(CKPT_A_META_ALTSTACK_SIZE), 4096, padType: Int(CKPT_A_META_PAD))
        let bytes = Array(b.bytes)
        #expect(throws: ProtocolError.self) {
            try bytes.withUnsafeBytes { _ = try RecordMeta(type: .regs, payload: $0) }
        }
    }

    @Test func xstateLengthIsAnXSaveArea() throws {
        var r = try headerRules()
        try r.check(id: 4, meta: sampleXState, dataLength: 2696)
        for bad: UInt64 in [0, 512, UInt64(CKPT_XSTATE_MAX) + 1] {
            #expect(throws: RecordDataViolation.xstateLength(id: 4, dataLength: bad)) {
                try r.check(id: 4, meta: sampleXState, dataLength: bad)
            }
        }
    }

    @Test func regsSigmaskIsOptionalAndDecodes() throws {
        let with = try metaBytes(sampleMaskedRegs, padded: false).withUnsafeBytes { try RecordMeta(type: .regs, payload: $0) }
        #expect(with == sampleMaskedRegs)
        let without = try metaBytes(sampleRegs, padded: false).withUnsafeBytes { try RecordMeta(type: .regs, payload: $0) }
        #expect(without == sampleRegs)
    }

    @Test func recordsWithoutDataHaveZeroLength() throws {
        var r = try headerRules()
        for meta in [sampleTask, sampleMM, sampleVMA, sampleFile, sampleTrailer] {
            #expect(throws: RecordDataViolation.unexpectedData(id: 9, type: meta.type, dataLength: 1)) {
                try r.check(id: 9, meta: meta, dataLength: 1)
            }
        }
        var fresh = RecordDataRules()
        #expect(throws: RecordDataViolation.unexpectedData(id: 1, type: .header, dataLength: 4)) {
            try fresh.check(id: 1, meta: sampleHeader, dataLength: 4)
        }
    }

    @Test func vmaRangeAndAlignment() throws {
        var r = try headerRules()
        #expect(throws: RecordDataViolation.emptyRange(id: 5, start: 0x2000, end: 0x2000)) {
            try r.check(id: 5, meta: .vma(VMAMeta(start: 0x2000, end: 0x2000, vmFlags: 3, pgoff: 0)), dataLength: 0)
        }
        #expect(throws: RecordDataViolation.unaligned(id: 5, field: "end", value: 0x2100, pageSize: 4096)) {
            try r.check(id: 5, meta: .vma(VMAMeta(start: 0x1000, end: 0x2100, vmFlags: 3, pgoff: 0)), dataLength: 0)
        }
    }

    @Test func violationsDescribeThemselves() {
        #expect(RecordDataViolation.pagesLength(id: 6, dataLength: 1, nrPages: 2, pageSize: 4096).description.contains("nr-pages"))
    }
}

import CCkptShims
import CCkptUAPI
import Glibc

/// A record whose data-len (or addresses) contradict its meta or the stream's header.
public enum RecordDataViolation: Error, Equatable, Sendable, CustomStringConvertible {
    /// A record type without data declared data.
    case unexpectedData(id: UInt32, type: RecordType, dataLength: UInt64)
    /// pages: data-len != nr-pages * page-size.
    case pagesLength(id: UInt32, dataLength: UInt64, nrPages: UInt32, pageSize: UInt32)
    /// regs: data-len is not the architecture's `user_regs_struct` size.
    case regsLength(id: UInt32, dataLength: UInt64, expected: UInt64, arch: String)
    /// A record that needs the page size came before the header record.
    case noHeader(id: UInt32, type: RecordType)
    /// An address that must be page aligned is not.
    case unaligned(id: UInt32, field: String, value: UInt64, pageSize: UInt32)
    /// vma: start >= end.
    case emptyRange(id: UInt32, start: UInt64, end: UInt64)
    /// sigactions: data-len != nr-sigs * CKPT_SIGACTION_SIZE.
    case sigactionsLength(id: UInt32, dataLength: UInt64, nrSigs: UInt32)
    /// rlimits: data-len != nr-rlimits * CKPT_RLIMIT_SIZE.
    case rlimitsLength(id: UInt32, dataLength: UInt64, nrRlimits: UInt32)
    /// pipe: data-len neither 0 nor pipe-bytes, or above `CKPT_PIPE_DATA_MAX`.
    case pipeLength(id: UInt32, dataLength: UInt64, pipeBytes: UInt32)
    /// siginfo, shared-siginfo: data-len != nr-siginfo * CKPT_SIGINFO_SIZE, or nr-siginfo
    /// 0, above `CKPT_SIGINFO_MAX` or above nr-queued.
    case siginfoLength(id: UInt32, dataLength: UInt64, nrSiginfo: UInt32, nrQueued: UInt32)
    /// xstate: data-len outside `xstateLengths`.
    case xstateLength(id: UInt32, dataLength: UInt64)
    /// fdinfo: data-len above `CKPT_FDINFO_MAX`.
    case fdinfoLength(id: UInt32, dataLength: UInt64)
    /// unix: a socket type other than stream, datagram, seqpacket, or data-len above
    /// `CKPT_UNIX_DATA_MAX`.
    case unixRecord(id: UInt32, type: UInt32, dataLength: UInt64, bytes: UInt64)
    /// inet: a family other than `AF_INET`, `AF_INET6`, an address of another family, or a
    /// type and protocol other than TCP's (`SOCK_STREAM`, 6) and UDP's (`SOCK_DGRAM`, 17).
    case inetRecord(id: UInt32, family: UInt32, type: UInt32, proto: UInt32, addressFamilies: [Int32])

    public var description: String {
        switch self {
        case let .unexpectedData(id, type, n): "record \(id): a \(type) record carries no data, but data-len is \(n)"
        case let .pagesLength(id, n, pages, size):
            "record \(id): pages data-len \(n) != nr-pages \(pages) * page-size \(size)"
        case let .regsLength(id, n, expected, arch): "record \(id): regs data-len \(n), \(arch) needs \(expected)"
        case let .noHeader(id, type): "record \(id): \(type) record before the header record (page size unknown)"
        case let .unaligned(id, field, v, size): "record \(id): \(field) 0x\(String(v, radix: 16)) not aligned to page size \(size)"
        case let .emptyRange(id, start, end): "record \(id): vma start 0x\(String(start, radix: 16)) >= end 0x\(String(end, radix: 16))"
        case let .sigactionsLength(id, n, sigs):
            "record \(id): sigactions data-len \(n) != nr-sigs \(sigs) * \(CKPT_SIGACTION_SIZE)"
        case let .rlimitsLength(id, n, count):
            "record \(id): rlimits data-len \(n) != nr-rlimits \(count) * \(CKPT_RLIMIT_SIZE)"
        case let .pipeLength(id, n, bytes):
            "record \(id): pipe data-len \(n), pipe-bytes \(bytes) (data-len is 0 or pipe-bytes, at most \(CKPT_PIPE_DATA_MAX))"
        case let .siginfoLength(id, n, count, queued):
            "record \(id): siginfo data-len \(n), nr-siginfo \(count), nr-queued \(queued) (1 ... \(CKPT_SIGINFO_MAX) entries of \(CKPT_SIGINFO_SIZE) bytes, at most nr-queued)"
        case let .xstateLength(id, n):
            "record \(id): xstate data-len \(n) outside \(RecordDataRules.xstateLengths)"
        case let .fdinfoLength(id, n): "record \(id): fdinfo data-len \(n) above \(CKPT_FDINFO_MAX)"
        case let .unixRecord(id, type, n, bytes):
            "record \(id): unix socket type \(type), data-len \(n), sock-bytes \(bytes) (type 1, 2 or 5; data-len at most \(CKPT_UNIX_DATA_MAX))"
        case let .inetRecord(id, family, type, proto, families):
            "record \(id): inet socket family \(family), its addresses' \(families), type \(type), protocol \(proto) (family \(AF_INET) or \(AF_INET6), the same for all; type 1 with protocol 6 or type 2 with protocol 17)"
        }
    }
}

/// The per-stream semantic checks of record data lengths and addresses, given what the
/// header record said. Used by the reassembler (and the image verifier) on each record's
/// first fragment, after its meta decoded:
///
/// - header: remembers arch and page size (no data);
/// - pages: data-len == nr-pages * page-size, addr page aligned;
/// - regs: data-len == `regsSize(arch:)` when the arch is known (216 on x86_64), > 0 otherwise;
/// - vma: start < end, both page aligned;
/// - sigactions: data-len == nr-sigs * `CKPT_SIGACTION_SIZE`;
/// - rlimits: data-len == nr-rlimits * `CKPT_RLIMIT_SIZE`;
/// - pipe: data-len 0 or pipe-bytes, at most `CKPT_PIPE_DATA_MAX`;
/// - siginfo, shared-siginfo: data-len == nr-siginfo * `CKPT_SIGINFO_SIZE`, 1 ... max entries;
/// - xstate: data-len in `xstateLengths` (legacy area + XSAVE header ... `CKPT_XSTATE_MAX`);
/// - fdinfo: data-len at most `CKPT_FDINFO_MAX`;
/// - unix: socket type stream, datagram or seqpacket; data-len at most `CKPT_UNIX_DATA_MAX`
///   (the messages' framing is `UnixMessages`' to check; empty datagrams make data with no
///   bytes queued);
/// - inet: family `AF_INET` or `AF_INET6`, its addresses of that family, TCP or UDP (type
///   and protocol); data-len 0;
/// - parent-pages: data-len 0, addr page aligned;
/// - task, mm, vma, file, header, trailer, shmem: data-len 0.
///
/// O(1), no allocation (besides error descriptions).
public struct RecordDataRules: Sendable {
    public private(set) var pageSize: UInt32?
    public private(set) var arch: String?

    public init() {}

    /// `sizeof(struct user_regs_struct)` by `uname -m`, for the arches we know.
    public static func regsSize(arch: String) -> UInt64? {
        switch arch {
        case "x86_64": 216  // 27 registers of 8 bytes (arch/x86/include/asm/user_64.h)
        default: nil
        }
    }

    /// An XSAVE area: at least the 512-byte legacy area and the 64-byte header.
    public static let xstateLengths: ClosedRange<UInt64> = 576...UInt64(CKPT_XSTATE_MAX)

    public mutating func check(id: UInt32, meta: RecordMeta, dataLength: UInt64) throws(RecordDataViolation) {
        switch meta {
        case let .header(h):
            try noData(id, .header, dataLength)
            pageSize = h.pageSize
            arch = h.arch
        case let .pages(p):
            guard let pageSize else { throw .noHeader(id: id, type: .pages) }
            if dataLength != UInt64(p.nrPages) * UInt64(pageSize) {
                throw .pagesLength(id: id, dataLength: dataLength, nrPages: p.nrPages, pageSize: pageSize)
            }
            if p.addr % UInt64(pageSize) != 0 { throw .unaligned(id: id, field: "addr", value: p.addr, pageSize: pageSize) }
        case .regs:
            let arch = arch ?? ""
            if let expected = Self.regsSize(arch: arch) {
                if dataLength != expected { throw .regsLength(id: id, dataLength: dataLength, expected: expected, arch: arch) }
            } else if dataLength == 0 {
                throw .regsLength(id: id, dataLength: 0, expected: 1, arch: arch)
            }
        case let .vma(v):
            try noData(id, .vma, dataLength)
            guard let pageSize else { throw .noHeader(id: id, type: .vma) }
            if v.start >= v.end { throw .emptyRange(id: id, start: v.start, end: v.end) }
            if v.start % UInt64(pageSize) != 0 { throw .unaligned(id: id, field: "start", value: v.start, pageSize: pageSize) }
            if v.end % UInt64(pageSize) != 0 { throw .unaligned(id: id, field: "end", value: v.end, pageSize: pageSize) }
        case let .sigactions(m):
            if dataLength != UInt64(m.nrSigs) * UInt64(CKPT_SIGACTION_SIZE) {
                throw .sigactionsLength(id: id, dataLength: dataLength, nrSigs: m.nrSigs)
            }
        case let .rlimits(m):
            if dataLength != UInt64(m.nrRlimits) * UInt64(CKPT_RLIMIT_SIZE) {
                throw .rlimitsLength(id: id, dataLength: dataLength, nrRlimits: m.nrRlimits)
            }
        case let .siginfo(m), let .sharedSiginfo(m):
            if m.nrSiginfo == 0 || m.nrSiginfo > UInt32(CKPT_SIGINFO_MAX) || m.nrSiginfo > m.nrQueued
                || dataLength != UInt64(m.nrSiginfo) * UInt64(CKPT_SIGINFO_SIZE) {
                throw .siginfoLength(id: id, dataLength: dataLength, nrSiginfo: m.nrSiginfo, nrQueued: m.nrQueued)
            }
        case let .pipe(m):
            if dataLength > UInt64(CKPT_PIPE_DATA_MAX) || (dataLength != 0 && dataLength != UInt64(m.bytes)) {
                throw .pipeLength(id: id, dataLength: dataLength, pipeBytes: m.bytes)
            }
        case .xstate:
            if !Self.xstateLengths.contains(dataLength) { throw .xstateLength(id: id, dataLength: dataLength) }
        case .fdinfo:
            if dataLength > UInt64(CKPT_FDINFO_MAX) { throw .fdinfoLength(id: id, dataLength: dataLength) }
        case let .unix(m):
            let known = m.type == SOCK_STREAM.rawValue || m.type == SOCK_DGRAM.rawValue || m.type == SOCK_SEQPACKET.rawValue
            if !known || dataLength > UInt64(CKPT_UNIX_DATA_MAX) {
                throw .unixRecord(id: id, type: m.type, dataLength: dataLength, bytes: m.bytes)
            }
        case let .inet(m):
            let families = [m.address, m.peer].compactMap { $0?.family }
            let tcpOrUDP = (m.type == SOCK_STREAM.rawValue && m.proto == UInt32(CKPT_IPPROTO_TCP))
                || (m.type == SOCK_DGRAM.rawValue && m.proto == UInt32(CKPT_IPPROTO_UDP))
            if (m.family != UInt32(AF_INET) && m.family != UInt32(AF_INET6)) || families.contains(where: { UInt32($0) != m.family })
                || !tcpOrUDP {
                throw .inetRecord(id: id, family: m.family, type: m.type, proto: m.proto, addressFamilies: families)
            }
            try noData(id, .inet, dataLength)
        case let .parentPages(p):
            try noData(id, .parentPages, dataLength)
            guard let pageSize else { throw .noHeader(id: id, type: .parentPages) }
            if p.addr % UInt64(pageSize) != 0 { throw .unaligned(id: id, field: "addr", value: p.addr, pageSize: pageSize) }
        case .task, .mm, .file, .trailer, .shmem:
            try noData(id, meta.type, dataLength)
        }
    }

    private func noData(_ id: UInt32, _ type: RecordType, _ n: UInt64) throws(RecordDataViolation) {
        if n != 0 { throw .unexpectedData(id: id, type: type, dataLength: n) }
    }
}

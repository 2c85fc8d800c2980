import CCkptUAPI
import Testing
@testable import CkptProtocol

let usersockType = UInt16(CKPT_USERSOCK_TYPE)

/// Decodes `bytes` as one datagram; returns comparable copies of the events.
func decodeAll(_ bytes: [UInt8], type: UInt16 = usersockType) throws -> [EventValue] {
    var events: [EventValue] = []
    try bytes.withUnsafeBytes { raw in
        try StreamDecoder().decode(datagram: raw, expectedType: type) { events.append(EventValue($0)) }
    }
    return events
}

/// The ProtocolError decoding `bytes` throws (nil if it decodes).
func decodeError(_ bytes: [UInt8], type: UInt16 = usersockType) -> ProtocolError? {
    do {
        _ = try decodeAll(bytes, type: type)
        return nil
    } catch let e as ProtocolError {
        return e
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// Builds one message with the low-level writer.
func message(
    command: Int = CKPT_CMD_STREAM_BEGIN, type: UInt16 = usersockType, version: UInt8 = 1,
    _ attrs: (MessageBuffer) -> Void
) -> [UInt8] {
    let b = MessageBuffer()
    let start = b.beginMessage(type: type, flags: 0, seq: 0, portID: 0)
    b.appendGenlHeader(command: UInt8(command), version: version)
    attrs(b)
    b.endMessage(start)
    return Array(b.bytes)
}

func metaBytes(_ meta: RecordMeta, padded: Bool = true) -> [UInt8] { meta.encodedPayload(padded: padded) }

let sampleHeader = RecordMeta.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0", timeNs: 1_700_000_000_000_000_000))
let sampleTask = RecordMeta.task(TaskMeta(pid: 100, tgid: 100, ppid: 1, comm: "sleep", uid: 0, gid: 0, euid: 0, egid: 0))
let sampleRegs = RecordMeta.regs(RegsMeta(tid: 100))
let sampleMM = RecordMeta.mm(MMMeta(startCode: 0x400000, endCode: 0x401000, startData: 0x600000, endData: 0x601000,
                                    startBrk: 0x602000, brk: 0x623000, startStack: 0x7ffc0000, argStart: 0x7ffc1000,
                                    argEnd: 0x7ffc1010, envStart: 0x7ffc1010, envEnd: 0x7ffc1ff0))
/// A newer module's mm record: with the dumpable mode (0, not dumpable: present, not absent).
let sampleDumpableMM = RecordMeta.mm(MMMeta(startCode: 0x400000, endCode: 0x401000, startData: 0x600000, endData: 0x601000,
                                            startBrk: 0x602000, brk: 0x623000, startStack: 0x7ffc0000, argStart: 0x7ffc1000,
                                            argEnd: 0x7ffc1010, envStart: 0x7ffc1010, envEnd: 0x7ffc1ff0, dumpable: 0))
let sampleVMA = RecordMeta.vma(VMAMeta(start: 0x600000, end: 0x602000, vmFlags: 0x3, pgoff: 0, path: "/usr/bin/sleep"))
let sampleAnonVMA = RecordMeta.vma(VMAMeta(start: 0x7f0000000000, end: 0x7f0000004000, vmFlags: 0x3, pgoff: 0))
let samplePages = RecordMeta.pages(PagesMeta(addr: 0x600000, nrPages: 2))
let sampleFile = RecordMeta.file(FileMeta(fd: 1, fFlags: 2, pos: 77, path: "/dev/null"))
/// A newer module's file record: the open file's id (a field past the 64th attribute).
let sampleSharedFile = RecordMeta.file(FileMeta(fd: 1, fFlags: 0o2001, pos: 4096, path: "/var/log/app.log",
                                                identity: FileIdentity(inode: 12, device: 2049, size: 4096, mtimeNs: 5),
                                                fileID: 0x9e37_79b9_7f4a_7c15))
let sampleTrailer = RecordMeta.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 1, nrPagesTotal: 2, nrFiles: 1))
let sampleMaskedRegs = RecordMeta.regs(RegsMeta(tid: 101, sigmask: 0x40_0800,
                                                rseq: RseqRegistration(address: 0x7f00_0000_1020, length: 32, signature: 0x5305_3053),
                                                robustList: 0x7f00_0000_2000, clearChildTid: 0x7f00_0000_3000,
                                                sigpending: 0x800,
                                                altstack: AltStack(sp: 0x7f00_0000_4000, size: 65536, flags: 0)))
let sampleSigactions = RecordMeta.sigactions(SigactionsMeta(nrSigs: 64))
let samplePendingSigactions = RecordMeta.sigactions(SigactionsMeta(nrSigs: 64, sharedPending: 0x40_0000))
let sampleXState = RecordMeta.xstate(XStateMeta(xfeatures: 0x7))
let sampleRlimits = RecordMeta.rlimits(RlimitsMeta(nrRlimits: 16))
let samplePipe = RecordMeta.pipe(PipeMeta(size: 65536, bytes: 3000))
let sampleSiginfo = RecordMeta.siginfo(SiginfoMeta(nrSiginfo: 2, nrQueued: 2))
let sampleSharedSiginfo = RecordMeta.sharedSiginfo(SiginfoMeta(nrSiginfo: 128, nrQueued: 300))
let sampleShmem = RecordMeta.shmem(ShmemMeta(inode: 0x1_0000_0007, size: 3 * 4096))
/// A sealed memfd's (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL).
let sampleSealedShmem = RecordMeta.shmem(ShmemMeta(inode: 0x1_0000_0008, size: 2 * 4096, seals: 0x17))
/// Fields past the 64th attribute: personality, root, pgid, sid and exit-status (task), every unix field.
let sampleFullTask = RecordMeta.task(TaskMeta(pid: 100, tgid: 100, ppid: 1, comm: "sleep", uid: 0, gid: 0, euid: 0, egid: 0,
                                              cwd: "/srv/jail/tmp", umask: 0o22, personality: 0x40000, root: "/srv/jail",
                                              pgid: 90, sid: 80, exitStatus: 0x8b))
let sampleUnix = RecordMeta.unix(UnixMeta(type: 1, state: 1, flags: 0, peerInode: 0x1_0000_0009, shutdown: 2, bytes: 11,
                                          sndbuf: 212_992, rcvbuf: 212_992))
/// A checkpoint taken after a pre-copy: its header names the parent; parent-pages point at it.
let sampleChildHeader = RecordMeta.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0", timeNs: 5,
                                                     parentCrid: 0x1_0000_0003))
let samplePreCopyHeader = RecordMeta.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0", timeNs: 4,
                                                       checkpointFlags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue)))
let sampleParentPages = RecordMeta.parentPages(PagesMeta(addr: 0x7f00_0000_0000, nrPages: 256))
/// sockaddr_in 127.0.0.1:8080 and sockaddr_in6 [::1]:8080 with scope id 0, as getsockname(2) fills them.
let sampleIPv4Address = SocketAddress(bytes: [2, 0, 0x1f, 0x90, 127, 0, 0, 1] + [UInt8](repeating: 0, count: 8))!
let sampleIPv6Address = SocketAddress(bytes: [10, 0, 0x1f, 0x90, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 15) + [1, 0, 0, 0, 0])!
/// A TCP listener (its address, no peer) and a connected UDP socket (both addresses).
let sampleInetListener = RecordMeta.inet(InetMeta(family: 10, type: 1, proto: 6, state: 10, flags: 0x51, shutdown: 0, backlog: 128,
                                                  queued: 2, sndbuf: 16384, rcvbuf: 131_072, address: sampleIPv6Address, peer: nil))
let sampleInetConnected = RecordMeta.inet(InetMeta(family: 2, type: 2, proto: 17, state: 1, flags: 0, shutdown: 0, backlog: 0,
                                                   queued: 0, sndbuf: 212_992, rcvbuf: 212_992, address: sampleIPv4Address,
                                                   peer: sampleIPv4Address))
/// sockaddr_un of the path /run/app.sock and of the abstract name "\0app", as getsockname(2) cuts them.
let samplePathAddress = UnixAddress(bytes: [1, 0] + Array("/run/app.sock".utf8) + [0])!
let sampleAbstractAddress = UnixAddress(bytes: [1, 0, 0] + Array("app".utf8))!
/// A named Unix listener (name, backlog, connections waiting) and a bound datagram socket.
let sampleUnixListener = RecordMeta.unix(UnixMeta(type: 1, state: 10, flags: 1, peerInode: 0, shutdown: 0, bytes: 0,
                                                  sndbuf: 212_992, rcvbuf: 212_992, address: samplePathAddress,
                                                  backlog: 128, queued: 3))
let sampleUnixBound = RecordMeta.unix(UnixMeta(type: 2, state: 7, flags: 1, peerInode: 0, shutdown: 0, bytes: 5,
                                               sndbuf: 212_992, rcvbuf: 212_992, address: sampleAbstractAddress))
/// A datagram socket connected to a server's named socket (a syslog client's, to /dev/log).
let sampleUnixClient = RecordMeta.unix(UnixMeta(type: 2, state: 1, flags: 0, peerInode: 0x1_0000_000b, shutdown: 0, bytes: 0,
                                                sndbuf: 212_992, rcvbuf: 212_992, peerAddress: samplePathAddress))
let allSampleMetas = [sampleHeader, sampleTask, sampleRegs, sampleMaskedRegs, sampleMM, sampleDumpableMM, sampleVMA, sampleAnonVMA, samplePages,
                      sampleFile, sampleSharedFile, sampleTrailer, sampleSigactions, samplePendingSigactions, sampleXState, sampleRlimits, samplePipe,
                      sampleSiginfo, sampleSharedSiginfo, sampleShmem, sampleFullTask, sampleUnix, sampleChildHeader,
                      samplePreCopyHeader, sampleParentPages, sampleInetListener, sampleInetConnected, sampleUnixListener,
                      sampleUnixBound, sampleUnixClient, sampleSealedShmem]

/// Appends the attributes of a valid first fragment of a regs record, with overrides.
func recordAttrs(
    _ b: MessageBuffer, recType: UInt32 = RecordType.regs.rawValue, id: UInt32 = 3, parent: UInt32 = 2,
    dataLength: UInt64 = 8, dataOffset: UInt64 = 0, meta: [UInt8]? = metaBytes(sampleRegs),
    data: [UInt8]? = [1, 2, 3, 4, 5, 6, 7, 8], skip: Int? = nil
) {
    if let meta, skip != CKPT_A_META {
        let n = b.beginNest(CKPT_A_META)
        b.appendRaw(meta)
        b.endNest(n)
    }
    if skip != CKPT_A_CRID { b.appendU64(CKPT_A_CRID, 9, padType: CKPT_A_PAD) }
    if skip != CKPT_A_SEQ { b.appendU32(CKPT_A_SEQ, 5) }
    if skip != CKPT_A_REC_TYPE { b.appendU32(CKPT_A_REC_TYPE, recType) }
    if skip != CKPT_A_REC_ID { b.appendU32(CKPT_A_REC_ID, id) }
    if skip != CKPT_A_REC_PARENT { b.appendU32(CKPT_A_REC_PARENT, parent) }
    if skip != CKPT_A_DATA_LEN { b.appendU64(CKPT_A_DATA_LEN, dataLength, padType: CKPT_A_PAD) }
    if skip != CKPT_A_DATA_OFFSET { b.appendU64(CKPT_A_DATA_OFFSET, dataOffset, padType: CKPT_A_PAD) }
    if let data { data.withUnsafeBytes { b.appendAttribute(CKPT_A_DATA, $0) } }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}

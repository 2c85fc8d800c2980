#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptTestSupport
import Foundation
import SystemPackage
import Testing
@testable import CkptRestore

/// The restorer's plan: what it refuses before any process exists, and what it reads.
@Suite struct RestorePlanTests {
    /// A process image: header, task, `threads` regs records, mm, the vmas, the files, trailer.
    func image(threads: Int = 1, vmas: [VMAMeta], files: [FileMeta] = [], signals: [SignalAction]? = nil,
               xstate: XState? = nil, limits: [ResourceLimit]? = nil,
               pipes: [Int: (PipeMeta, [UInt8])] = [:], queues: (thread: [Int32], process: [Int32])? = nil,
               shmem: [Int: (meta: ShmemMeta, page: Bool)] = [:], fdinfo: [Int: String] = [:],
               sockets: [Int: (UnixMeta, [UInt8])] = [:], inet: [Int: InetMeta] = [:],
               task: TaskMeta? = nil) throws -> (ImageReader, String) {
        let fixture = try ImageFixture("restore-plan")
        _ = try fixture.record(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1)), parent: 0)
        let task = try fixture.record(.task(task ?? TaskMeta(pid: 77, tgid: 77, ppid: 1, comm: "t", uid: getuid(), gid: getgid(),
                                                     euid: geteuid(), egid: getegid())), parent: 0)
        for t in 0..<threads {
            var regs = [UInt8](repeating: 0, count: 216)
            regs[16 * 8] = UInt8(t + 1)  // rip
            let state = xstate != nil  // an image of this module: every per-thread field
            let meta = RegsMeta(tid: 77 + UInt32(t), sigmask: state ? 0x4000 : nil,
                                rseq: state ? RseqRegistration(address: 0x7000_0020, length: 32, signature: 0x5305_3053) : nil,
                                robustList: state ? 0x7000_0100 : nil, clearChildTid: state ? 0x7000_0200 : nil,
                                sigpending: state ? 1 << UInt64(t) : nil,
                                altstack: state ? AltStack(sp: t == 0 ? 0 : 0x7100_0000, size: t == 0 ? 0 : 8192, flags: t == 0 ? 2 : 0) : nil)
            let r = try fixture.record(.regs(meta), parent: task, data: regs)
            if let xstate { _ = try fixture.record(.xstate(XStateMeta(xfeatures: xstate.xfeatures)), parent: r, data: xstate.area) }
            if let q = queues?.thread, t == 0 {
                _ = try fixture.record(.siginfo(SiginfoMeta(nrSiginfo: UInt32(q.count), nrQueued: UInt32(q.count))), parent: r,
                               data: q.flatMap(Self.siginfo))
            }
        }
        if let signals {
            let sa = try fixture.record(.sigactions(SigactionsMeta(nrSigs: UInt32(signals.count), sharedPending: 0x40_0000)), parent: task,
                                data: signals.flatMap(\.bytes))
            if let q = queues?.process {
                _ = try fixture.record(.sharedSiginfo(SiginfoMeta(nrSiginfo: UInt32(q.count), nrQueued: UInt32(q.count) + 5)), parent: sa,
                               data: q.flatMap(Self.siginfo))
            }
        }
        if let limits {
            let data = limits.flatMap { l in [l.soft, l.hard].flatMap { w in withUnsafeBytes(of: w.littleEndian, Array.init) } }
            _ = try fixture.record(.rlimits(RlimitsMeta(nrRlimits: UInt32(limits.count))), parent: task, data: data)
        }
        let mm = try fixture.record(.mm(MMMeta(startCode: 0x40_0000, endCode: 0x40_1000, startData: 0, endData: 0, startBrk: 0,
                                       brk: 0, startStack: 0, argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)), parent: task)
        var pages: UInt64 = 0
        for (i, v) in vmas.enumerated() {
            let vma = try fixture.record(.vma(v), parent: mm)
            guard let (meta, page) = shmem[i] else { continue }
            _ = try fixture.record(.shmem(meta), parent: vma)
            if page {
                _ = try fixture.record(.pages(PagesMeta(addr: v.start, nrPages: 1)), parent: vma, data: [UInt8](repeating: 9, count: 4096))
                pages += 1
            }
        }
        for (i, f) in files.enumerated() {
            let file = try fixture.record(.file(f), parent: task)
            if let (meta, data) = pipes[i] { _ = try fixture.record(.pipe(meta), parent: file, data: data) }
            if let text = fdinfo[i] { _ = try fixture.record(.fdinfo, parent: file, data: Array(text.utf8)) }
            if let (meta, data) = sockets[i] { _ = try fixture.record(.unix(meta), parent: file, data: data) }
            if let meta = inet[i] { _ = try fixture.record(.inet(meta), parent: file) }
        }
        _ = try fixture.record(.trailer(TrailerMeta(nrThreads: UInt32(threads), nrVMAs: UInt32(vmas.count), nrPagesTotal: pages,
                                            nrFiles: UInt32(files.count))), parent: 0)
        return try fixture.finish()
    }

    /// A siginfo_t (CKPT_SIGINFO_SIZE bytes) with si_signo `sig`, the rest a pattern.
    static func siginfo(_ sig: Int32) -> [UInt8] {
        withUnsafeBytes(of: sig.littleEndian, Array.init) + (4..<Int(CKPT_SIGINFO_SIZE)).map { UInt8(truncatingIfNeeded: $0) }
    }

    @Test func readsQueuedSignalsWithTheirSiginfo() throws {
        let none = [SignalAction](repeating: SignalAction(handler: 0, flags: 0, restorer: 0, mask: 0), count: 64)
        let (r, p) = try image(vmas: [anon], signals: none, queues: (thread: [12], process: [23, 35, 35]))
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        let q = try #require(plan.threads[0].queue)
        #expect(q.entries.count == 1 && q.signal(0) == 12 && q.entries[0] == Self.siginfo(12) && q.dropped == 0)
        let s = try #require(plan.sharedQueue)
        #expect((0..<3).map { s.signal($0) } == [23, 35, 35] && s.dropped == 5)
    }

    func refusal<T>(_ body: () throws(RestoreError) -> T) -> RestoreError? {
        do { _ = try body(); return nil } catch { return error }
    }

    /// A new 8 KiB file in the temporary directory and its identity as stat(2) gives it.
    static func tempFile(_ name: String) throws -> (path: String, identity: FileIdentity) {
        let path = NSTemporaryDirectory() + "ckpt-restore-\(name)-\(getpid())-\(UUID().uuidString)"
        try #require(FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 8192)))
        var st = stat()
        try #require(stat(path, &st) == 0)
        return (path, FileIdentity(inode: UInt64(st.st_ino), device: UInt32(truncatingIfNeeded: st.st_dev),
                                   size: UInt64(st.st_size),
                                   mtimeNs: UInt64(st.st_mtim.tv_sec) * 1_000_000_000 + UInt64(st.st_mtim.tv_nsec)))
    }

    let anon = VMAMeta(start: 0x1000_0000, end: 0x1000_2000, vmFlags: 0x3 | 0x70, pgoff: 0x1000_0)

    @Test func readsAPlainImage() throws {
        let stack = VMAMeta(start: 0x7fff_0000_0000, end: 0x7fff_0002_1000, vmFlags: 0x3 | 0x100, pgoff: 0)
        let (r, p) = try image(vmas: [anon, stack], files: [FileMeta(fd: 1, fFlags: 0o1, pos: 42, path: "/tmp/out")])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.mappings.map(\.kind) == [.anonymous, .stack])
        #expect(plan.registers.count == 27 && plan.registers[16] == 1)
        #expect(plan.descriptors == [.path(fd: 1, path: "/tmp/out", flags: 1, position: 42, identity: nil)])
    }

    @Test func readsSignalsAndFPUState() throws {
        var signals = [SignalAction](repeating: SignalAction(handler: 0, flags: 0, restorer: 0, mask: 0), count: 64)
        signals[9] = SignalAction(handler: 0x40_1234, flags: 0x0400_0004, restorer: 0x40_5678, mask: 0x8000)  // SIGUSR1
        signals[12] = SignalAction(handler: 1, flags: 0, restorer: 0, mask: 0)  // SIGPIPE ignored
        let area = (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let (r, p) = try image(vmas: [anon], signals: signals, xstate: XState(xfeatures: 0x7, area: area))
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.signalActions == signals)
        #expect(plan.sharedPending == 0x40_0000)
        #expect(plan.signalActions?[9].isDefault == false && plan.signalActions?[0].isDefault == true)
        let thread = plan.threads[0]
        #expect(thread.blockedSignals == 0x4000)
        #expect(thread.xstate?.area == area && thread.xstate?.xfeatures == 0x7 && thread.xstate?.legacyArea.count == 512)
    }

    @Test func olderImagesHaveNoSignalsOrFPUState() throws {
        let (r, p) = try image(vmas: [anon])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.signalActions == nil && plan.threads[0].blockedSignals == nil && plan.threads[0].xstate == nil)
        #expect(plan.sharedPending == nil && plan.resourceLimits == nil && plan.threads[0].pendingSignals == nil)
        #expect(plan.threads[0].rseq == nil && plan.threads[0].robustList == nil)
    }

    @Test func sigactionEntriesAreLittleEndianWords() {
        let a = SignalAction(handler: 0x1122_3344_5566_7788, flags: 2, restorer: 3, mask: 4)
        #expect(a.bytes.count == Int(CKPT_SIGACTION_SIZE) && a.bytes[0] == 0x88 && a.bytes[7] == 0x11 && a.bytes[8] == 2)
        #expect(SignalAction.table(a.bytes + a.bytes) == [a, a])
        #expect(SignalAction.table([1, 2, 3]) == nil)
    }

    @Test func readsEveryThreadWithItsState() throws {
        let (r, p) = try image(threads: 3, vmas: [anon], xstate: XState(xfeatures: 0x7, area: [UInt8](repeating: 9, count: 576)))
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.threads.map(\.tid) == [77, 78, 79])
        #expect(plan.threads.map { $0.registers[16] } == [1, 2, 3])
        #expect(plan.threads.allSatisfy { $0.xstate?.area.count == 576 && $0.blockedSignals == 0x4000 })
        #expect(plan.threads[1].rseq == RseqRegistration(address: 0x7000_0020, length: 32, signature: 0x5305_3053))
        #expect(plan.threads[1].robustList == 0x7000_0100 && plan.threads[1].clearChildTid == 0x7000_0200)
        #expect(plan.threads.map(\.pendingSignals) == [1, 2, 4])
        // A disabled alternate stack (sp 0, size 0, SS_DISABLE) is none: no sigaltstack call.
        #expect(plan.threads[0].altstack == nil)
        #expect(plan.threads[1].altstack == AltStack(sp: 0x7100_0000, size: 8192, flags: 0))
    }

    /// A pipe whose both ends the process holds comes back with what it held; one whose
    /// other end another process holds, or whose bytes the image lacks, is refused.
    @Test func pipesBetweenTheProcesssOwnFds() throws {
        let hello = Array("hello".utf8)
        let r = FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: "pipe:[77]")
        let w = FileMeta(fd: 4, fFlags: UInt32(O_WRONLY | O_NONBLOCK), pos: 0, path: "pipe:[77]")
        let (img, p) = try image(vmas: [anon], files: [r, w],
                                 pipes: [0: (PipeMeta(size: 65536, bytes: 5), hello), 1: (PipeMeta(size: 65536, bytes: 5), [])])
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.descriptors == [.pipe(fd: 3, name: "pipe:[77]"), .pipe(fd: 4, name: "pipe:[77]")])
        #expect(plan.pipes == [RestorePlan.Pipe(name: "pipe:[77]", size: 65536, data: hello, readers: [3], writers: [4],
                                                readFlags: O_RDONLY, writeFlags: O_WRONLY | O_NONBLOCK)])

        let (img2, p2) = try image(vmas: [anon], files: [w], pipes: [0: (PipeMeta(size: 65536, bytes: 0), [])])
        defer { unlink(p2) }
        guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img2, shellJob: false) }) else {
            Issue.record("a pipe with its read end elsewhere was not refused")
            return
        }
        #expect(what == "fd 4 (pipe:[77])" && why.contains("read end is held by another process"))

        let (img3, p3) = try image(vmas: [anon], files: [r, w],
                                   pipes: [0: (PipeMeta(size: 65536, bytes: 5), []), 1: (PipeMeta(size: 65536, bytes: 5), [])])
        defer { unlink(p3) }
        guard case let .unsupported(_, why3)? = refusal({ () throws(RestoreError) in try RestorePlan(img3, shellJob: false) }) else {
            Issue.record("a pipe whose bytes are missing was not refused")
            return
        }
        #expect(why3.contains("held 5 bytes"))
    }

    /// Named FIFOs: each fd opened again at the FIFO's path with its own flags (any mix of
    /// ends, unlike a pipe, whose other end may be another process's), the bytes from a read
    /// end; refused when the path holds no FIFO now, when the FIFO was deleted, or when the
    /// image lacks the bytes it says there were.
    @Test func namedFIFOsAreOpenedAtTheirPaths() throws {
        let dir = NSTemporaryDirectory() + "ckpt-fifo-plan-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.fifo", b = dir + "/b.fifo"
        #expect(mkfifo(a, 0o600) == 0 && mkfifo(b, 0o600) == 0)
        let hello = Array("hello".utf8)
        let files = [FileMeta(fd: 3, fFlags: UInt32(O_WRONLY), pos: 0, path: a),
                     FileMeta(fd: 4, fFlags: UInt32(O_RDONLY | O_NONBLOCK), pos: 0, path: a),
                     FileMeta(fd: 5, fFlags: UInt32(O_WRONLY), pos: 0, path: b)]
        let records: [Int: (PipeMeta, [UInt8])] = [0: (PipeMeta(size: 65536, bytes: 5), []), 1: (PipeMeta(size: 65536, bytes: 5), hello),
                                                   2: (PipeMeta(size: 4096, bytes: 0), [])]
        let (img, p) = try image(vmas: [anon], files: files, pipes: records)
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.descriptors == [.fifo(fd: 3, path: a), .fifo(fd: 4, path: a), .fifo(fd: 5, path: b)])
        #expect(plan.pipes.isEmpty)
        #expect(plan.namedFIFOs == [
            NamedFIFO(path: a, size: 65536, data: hello, ends: [.init(fd: 3, flags: O_WRONLY), .init(fd: 4, flags: O_RDONLY | O_NONBLOCK)],
                      identity: nil),
            NamedFIFO(path: b, size: 4096, data: [], ends: [.init(fd: 5, flags: O_WRONLY)], identity: nil),
        ])
        #expect(plan.namedFIFOs.map { $0.ends.contains(where: \.reads) } == [true, false])

        func refused(_ files: [FileMeta], _ records: [Int: (PipeMeta, [UInt8])]) throws -> (String, String)? {
            let (img, p) = try image(vmas: [anon], files: files, pipes: records)
            defer { unlink(p) }
            guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img, shellJob: false) }) else {
                return nil
            }
            return (what, why)
        }
        let gone = dir + "/gone.fifo", plain = dir + "/plain"
        #expect(FileManager.default.createFile(atPath: plain, contents: Data()))
        let r0: [Int: (PipeMeta, [UInt8])] = [0: (PipeMeta(size: 65536, bytes: 0), [])]
        let e1 = try refused([FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: gone)], r0)
        #expect(e1?.0 == "fd 3 (FIFO \(gone))" && e1?.1.contains("is gone") == true && e1?.1.contains("mkfifo") == true, "\(String(describing: e1))")
        let e2 = try refused([FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: plain)], r0)
        #expect(e2?.1 == "\(plain) is not a FIFO now", "\(String(describing: e2))")
        let e3 = try refused([FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: a + " (deleted)")], r0)
        #expect(e3?.1.contains("the FIFO was deleted") == true, "\(String(describing: e3))")
        let e4 = try refused([FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: a)], [0: (PipeMeta(size: 65536, bytes: 9), [])])
        #expect(e4?.1.contains("it held 9 bytes, which the image does not carry") == true, "\(String(describing: e4))")
    }

    /// `--inherit-fd`: whatever the image had at those fds (a pipe whose read end another
    /// process holds, a terminal, a socket whose peer another process holds) is neither
    /// planned nor refused; the rest of a pipe the process held both ends of is refused as
    /// any pipe missing an end; an fd the image does not have is refused by name.
    @Test func inheritedFdsTakeNothingFromTheImage() throws {
        let files = [FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[50]"),
                     FileMeta(fd: 2, fFlags: UInt32(O_RDWR), pos: 0, path: "/dev/pts/3"),
                     Self.socket(fd: 3, inode: 41)]
        let (img, p) = try image(vmas: [anon], files: files, pipes: [0: (PipeMeta(size: 65536, bytes: 0), [])],
                                 sockets: [2: (Self.unix(peer: 42), [])])
        defer { unlink(p) }
        #expect(refusal({ () throws(RestoreError) in try RestorePlan(img, shellJob: false) }) != nil)
        let plan = try RestorePlan(img, shellJob: false, inheritedFDs: [1, 2, 3])
        #expect(plan.descriptors == [.inherited(fd: 1), .inherited(fd: 2), .inherited(fd: 3)])
        #expect(plan.pipes.isEmpty && plan.socketPairs.isEmpty && plan.namedUnixSockets.isEmpty)
        guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in
            try RestorePlan(img, shellJob: false, inheritedFDs: [1, 2, 3, 9])
        }) else {
            Issue.record("an fd the image does not have was taken")
            return
        }
        #expect(what == "--inherit-fd 9" && why == "the image has no fd 9 (its fds: 1 2 3)")

        let r = FileMeta(fd: 4, fFlags: UInt32(O_RDONLY), pos: 0, path: "pipe:[77]")
        let w = FileMeta(fd: 5, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[77]")
        let (img2, p2) = try image(vmas: [anon], files: [r, w],
                                   pipes: [0: (PipeMeta(size: 65536, bytes: 0), []), 1: (PipeMeta(size: 65536, bytes: 0), [])])
        defer { unlink(p2) }
        guard case let .unsupported(what2, _)? = refusal({ () throws(RestoreError) in
            try RestorePlan(img2, shellJob: false, inheritedFDs: [5])
        }) else {
            Issue.record("a pipe whose write end was inherited away was not refused")
            return
        }
        #expect(what2 == "fd 4 (pipe:[77])")
    }

    /// `ckpt restore --check --pid same` asks whether the image's ids are free: one that a
    /// process holds (this test's own pid) is the refusal the restore would meet.
    @Test func takenIdsAreFoundBeforeTheRestore() throws {
        let (img, p) = try image(vmas: [anon])
        defer { unlink(p) }
        var plan = try RestorePlan(img, shellJob: false)
        plan.threads[0].tid = UInt32(getpid())
        guard case let .unsupported(what, why)? = Restorer.takenIDRefusal(plan) else {
            Issue.record("this process's pid was not found in use")
            return
        }
        #expect(what == "id \(getpid())" && why.contains("in use by another process now"))
        // The largest id the kernel hands out, unless something holds it.
        let max = UInt32(RestorePlan.readSysctl("/proc/sys/kernel/pid_max") ?? 32768) - 1
        plan.threads[0].tid = max
        #expect(Restorer.takenIDRefusal(plan) == nil || access("/proc/\(max)", F_OK) == 0)
    }

    /// A socket file record (inode in its identity) and its unix record's meta.
    static func socket(fd: UInt32, inode: UInt64, flags: Int32 = O_RDWR) -> FileMeta {
        FileMeta(fd: fd, fFlags: UInt32(bitPattern: flags), pos: 0, path: "socket:[\(inode)]",
                 identity: FileIdentity(inode: inode, device: 8, size: 0, mtimeNs: 0))
    }
    static func unix(peer: UInt64, bytes: UInt64 = 0, type: UInt32 = 1, state: UInt32 = 1, flags: UInt32 = 0,
                     shutdown: UInt32 = 0) -> UnixMeta {
        UnixMeta(type: type, state: state, flags: flags, peerInode: peer, shutdown: shutdown, bytes: bytes,
                 sndbuf: 212_992, rcvbuf: 212_992)
    }

    /// A socketpair between the process's own fds comes back with each end's queued
    /// messages (a dup of an end is the same end); an end whose peer was closed comes back
    /// alone; one whose peer another process holds is refused, naming the fd.
    @Test func socketPairsBetweenTheProcesssOwnFds() throws {
        let hello = UnixMessages.join([Array("hello".utf8), Array("again".utf8)])
        let files = [Self.socket(fd: 3, inode: 41), Self.socket(fd: 4, inode: 42, flags: O_RDWR | O_NONBLOCK),
                     Self.socket(fd: 5, inode: 41), Self.socket(fd: 6, inode: 50)]
        let (img, p) = try image(vmas: [anon], files: files, sockets: [
            0: (Self.unix(peer: 42, bytes: 10, type: 2), hello), 1: (Self.unix(peer: 41, type: 2), []),
            2: (Self.unix(peer: 42, bytes: 10, type: 2), hello), 3: (Self.unix(peer: 0, bytes: 1, shutdown: 3), UnixMessages.join([[9]])),
        ])
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.descriptors.map(\.fd) == [3, 4, 5, 6])
        #expect(plan.descriptors[1] == .socket(fd: 4, name: "socket:[42]"))
        #expect(plan.socketPairs.count == 2)
        let pair = plan.socketPairs[0]
        #expect(pair.type == 2 && pair.first.fds == [3, 5] && pair.second?.fds == [4] && pair.second?.flags == O_RDWR | O_NONBLOCK)
        #expect(pair.first.messages == [Array("hello".utf8), Array("again".utf8)] && pair.second?.messages == [])
        let alone = plan.socketPairs[1]
        #expect(alone.type == 1 && alone.first.fds == [6] && alone.second == nil && alone.first.messages == [[9]] && alone.first.shutdown == 3)

        for (sockets, text) in [
            ([0: (Self.unix(peer: 99), [UInt8]())], "held by another process"),
            // Named or listening in an older module's image, which has no name.
            ([0: (Self.unix(peer: 0, state: UInt32(TCP_LISTEN)), [UInt8]())], "bound to a name the image does not hold"),
            ([0: (Self.unix(peer: 0, state: UInt32(TCP_CLOSE), flags: UInt32(CKPT_SOCK_FLAGS_NAMED.rawValue)), [UInt8]())], "bound to a name the image does not hold"),
            ([0: (Self.unix(peer: 0, bytes: 4, flags: UInt32(CKPT_SOCK_FLAGS_RIGHTS.rawValue)), [UInt8]())], "SCM_RIGHTS"),
            ([0: (Self.unix(peer: 0, bytes: 4, flags: UInt32(CKPT_SOCK_FLAGS_BUSY.rawValue)), [UInt8]())], "a reader held"),
            ([0: (Self.unix(peer: 0, bytes: 2_000_000), [UInt8]())], "held 2000000 bytes"),
        ] as [([Int: (UnixMeta, [UInt8])], String)] {
            let (img2, p2) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 41)], sockets: sockets)
            defer { unlink(p2) }
            guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img2, shellJob: false) }) else {
                Issue.record("not refused: \(text)")
                continue
            }
            #expect(what == "fd 3 (socket:[41])" && why.contains(text), "\(why)")
        }
        // A datagram socket connected to one that is connected elsewhere.
        let (img3, p3) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 41), Self.socket(fd: 4, inode: 42)],
                                   sockets: [0: (Self.unix(peer: 42, type: 2), []), 1: (Self.unix(peer: 0, type: 2), [])])
        defer { unlink(p3) }
        guard case let .unsupported(_, why3)? = refusal({ () throws(RestoreError) in try RestorePlan(img3, shellJob: false) }) else {
            Issue.record("a one-way connection was not refused")
            return
        }
        #expect(why3.contains("connected elsewhere"))
        // A socket in an image without unix records (an older module, or not AF_UNIX).
        let (img4, p4) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 41)])
        defer { unlink(p4) }
        guard case let .unsupported(_, why4)? = refusal({ () throws(RestoreError) in try RestorePlan(img4, shellJob: false) }) else {
            Issue.record("a socket without a unix record was not refused")
            return
        }
        #expect(why4.contains("sockets other than Unix, TCP and UDP"))
    }

    /// Named Unix sockets: a listener on a path and a bound datagram socket on an abstract
    /// name are planned with their roles, messages, dups and what they lose; a named socket
    /// connected to a peer, one shut down and a listener without its backlog are refused.
    @Test func namedUnixSocketsListenOrBind() throws {
        let named = UInt32(CKPT_SOCK_FLAGS_NAMED.rawValue)
        let path = UnixAddress(bytes: [1, 0] + Array("run/app.sock".utf8) + [0])!
        let abstract = UnixAddress(bytes: [1, 0, 0] + Array("app".utf8))!
        var listener = Self.unix(peer: 0, state: UInt32(TCP_LISTEN), flags: named)
        listener.address = path
        listener.backlog = 16
        listener.queued = 2
        var bound = Self.unix(peer: 0, bytes: 5, type: 2, state: UInt32(TCP_CLOSE), flags: named)
        bound.address = abstract
        let early = UnixMessages.join([Array("early".utf8)])
        let files = [Self.socket(fd: 3, inode: 71, flags: O_RDWR | O_NONBLOCK), Self.socket(fd: 4, inode: 72),
                     Self.socket(fd: 5, inode: 71), Self.socket(fd: 6, inode: 73), Self.socket(fd: 7, inode: 74)]
        let (img, p) = try image(vmas: [anon], files: files, sockets: [
            0: (listener, []), 1: (bound, early), 2: (listener, []),
            3: (Self.unix(peer: 74), []), 4: (Self.unix(peer: 73), []),
        ])
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.descriptors.map(\.fd) == [3, 4, 5, 6, 7])
        #expect(plan.descriptors[0] == .socket(fd: 3, name: "socket:[71]"))
        #expect(plan.socketPairs.count == 1 && plan.socketPairs[0].first.fds == [6])
        let sockets = plan.namedUnixSockets
        #expect(sockets.map(\.fds) == [[3, 5], [4]])
        #expect(sockets.map(\.role) == [.listening(backlog: 16), .bound])
        #expect(sockets[0].flags == O_RDWR | O_NONBLOCK && sockets[0].type == 1 && sockets[1].type == 2)
        #expect(sockets[0].messages == [] && sockets[1].messages == [Array("early".utf8)])
        #expect(sockets.map(\.description) == ["Unix listener on run/app.sock", "Unix datagram socket on @app"])
        #expect(sockets.compactMap(\.lost) == [
            "fd 3 (Unix listener on run/app.sock) comes back without the 2 connections that waited for accept(2) at the checkpoint"])

        var shut = bound
        shut.shutdown = 1
        var noBacklog = listener
        noBacklog.backlog = nil
        var rights = bound
        rights.flags |= UInt32(CKPT_SOCK_FLAGS_RIGHTS.rawValue)
        for (meta, text) in [
            (shut, "on @app shut down"),
            (noBacklog, "whose backlog the image does not hold"), (rights, "SCM_RIGHTS"),
        ] {
            let (img2, p2) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 71)], sockets: [0: (meta, [])])
            defer { unlink(p2) }
            guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img2, shellJob: false) }) else {
                Issue.record("not refused: \(text)")
                continue
            }
            #expect(what == "fd 3 (socket:[71])" && why.contains(text), "\(why)")
        }
    }

    /// Unix connections: an accepted one (named with its listener's name) whose client left
    /// comes back with its peer closed; one whose peer another process holds is refused, or
    /// with --unix-close comes back with its peer closed, with a warning; a datagram socket
    /// connected to a named socket of another process, or to the process's own bound one, is
    /// connected to that name again, after the sockets bound by name.
    @Test func unixConnectionsToOtherProcesses() throws {
        let named = UInt32(CKPT_SOCK_FLAGS_NAMED.rawValue)
        let log = UnixAddress(bytes: [1, 0] + Array("/dev/log".utf8) + [0])!
        let own = UnixAddress(bytes: [1, 0] + Array("own.sock".utf8) + [0])!
        var client = Self.unix(peer: 99, type: 2)  // connected to /dev/log, another process's
        client.peerAddress = log
        var ownClient = Self.unix(peer: 73, type: 2)  // connected to fd 5, its own bound socket
        ownClient.peerAddress = own
        var ownServer = Self.unix(peer: 0, bytes: 2, type: 2, state: UInt32(TCP_CLOSE), flags: named)
        ownServer.address = own
        var left = Self.unix(peer: 0, flags: named)  // accepted, its client gone
        left.address = own
        let files = [Self.socket(fd: 3, inode: 71), Self.socket(fd: 4, inode: 72), Self.socket(fd: 5, inode: 73),
                     Self.socket(fd: 6, inode: 74)]
        let (img, p) = try image(vmas: [anon], files: files, sockets: [
            0: (client, UnixMessages.join([[1]])), 1: (ownClient, []), 2: (ownServer, UnixMessages.join([[7, 7]])), 3: (left, []),
        ])
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.namedUnixSockets.map(\.fds) == [[5], [3], [4]])
        #expect(plan.namedUnixSockets.map(\.role) == [.bound, .reconnected(log), .reconnected(own)])
        #expect(plan.namedUnixSockets.map(\.description) == [
            "Unix datagram socket on own.sock", "Unix datagram socket connected to /dev/log", "Unix datagram socket connected to own.sock"])
        #expect(plan.namedUnixSockets.compactMap(\.lost) == [
            "fd 3 (Unix datagram socket connected to /dev/log) comes back without the 1 datagram its peer had sent it (they cannot be sent again from the peer)"])
        #expect(plan.socketPairs.count == 1 && plan.socketPairs[0].first.fds == [6] && plan.socketPairs[0].second == nil)
        #expect(plan.socketPairs.compactMap(\.lost) == [])

        // A server's accepted connection whose client another process holds.
        var accepted = Self.unix(peer: 99, flags: named)
        accepted.address = own
        let (img2, p2) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 71)], sockets: [0: (accepted, [])])
        defer { unlink(p2) }
        guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img2, shellJob: false) }) else {
            Issue.record("a connection to another process was restored without --unix-close")
            return
        }
        #expect(what == "fd 3 (socket:[71])" && why.contains("held by another process") && why.contains("--unix-close"), "\(why)")
        let closed = try RestorePlan(img2, shellJob: false, unixClose: true)
        #expect(closed.socketPairs.count == 1 && closed.socketPairs[0].second == nil && closed.socketPairs[0].cutPeer == 99)
        #expect(closed.socketPairs.compactMap(\.lost) == [
            "fd 3 (socket:[71]) comes back with its peer closed (--unix-close): its peer socket:[99] was another process's; the program reads what was queued, then end of file"])
    }

    static func address(_ port: UInt16, v6: Bool = false) -> SocketAddress {
        let p = [UInt8(port >> 8), UInt8(port & 0xff)]
        return v6 ? SocketAddress(bytes: [10, 0] + p + [UInt8](repeating: 0, count: 24))!
            : SocketAddress(bytes: [2, 0] + p + [127, 0, 0, 1] + [UInt8](repeating: 0, count: 8))!
    }
    static func inet(tcp: Bool = true, state: UInt32, address: SocketAddress? = nil, peer: SocketAddress? = nil,
                     queued: UInt32 = 0, shutdown: UInt32 = 0, v6: Bool = false) -> InetMeta {
        InetMeta(family: UInt32(v6 ? AF_INET6 : AF_INET), type: tcp ? 1 : 2, proto: tcp ? 6 : 17, state: state,
                 flags: UInt32(CKPT_SOCK_FLAGS_REUSEADDR.rawValue), shutdown: shutdown, backlog: 16, queued: queued,
                 sndbuf: 16384, rcvbuf: 131_072, address: address, peer: peer)
    }

    /// TCP listeners, bound or unbound sockets and connected UDP sockets are planned with how
    /// each comes back (dups as one socket) and what it loses; a TCP connection, a connected
    /// UDP socket without its peer and a shut-down socket are refused, naming the fd.
    @Test func inetSocketsListenBindOrConnect() throws {
        let files = [Self.socket(fd: 3, inode: 61, flags: O_RDWR | O_NONBLOCK), Self.socket(fd: 4, inode: 62),
                     Self.socket(fd: 5, inode: 61), Self.socket(fd: 6, inode: 63), Self.socket(fd: 7, inode: 64)]
        let (img, p) = try image(vmas: [anon], files: files, inet: [
            0: Self.inet(state: UInt32(TCP_LISTEN), address: Self.address(8080, v6: true), queued: 3, v6: true),
            1: Self.inet(tcp: false, state: UInt32(TCP_ESTABLISHED), address: Self.address(5353), peer: Self.address(53)),
            2: Self.inet(state: UInt32(TCP_LISTEN), address: Self.address(8080, v6: true), queued: 3, v6: true),
            3: Self.inet(tcp: false, state: UInt32(TCP_CLOSE), address: Self.address(9999), queued: 1),
            4: Self.inet(state: UInt32(TCP_CLOSE)),
        ])
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.descriptors.map(\.fd) == [3, 4, 5, 6, 7])
        #expect(plan.descriptors[2] == .inet(fd: 5, name: "socket:[61]"))
        #expect(plan.inetSockets.map(\.fds) == [[3, 5], [4], [6], [7]])
        let roles = plan.inetSockets.map(\.role)
        #expect(roles == [.listening, .connected(Self.address(53)), .bound, .bound])
        #expect(plan.inetSockets[0].flags == O_RDWR | O_NONBLOCK)
        #expect(plan.inetSockets.map(\.description) == [
            "TCP listener on [::]:8080", "UDP socket on 127.0.0.1:5353 connected to 127.0.0.1:53", "UDP socket on 127.0.0.1:9999",
            "TCP socket"])
        #expect(plan.inetSockets.compactMap(\.lost) == [
            "fd 3 (TCP listener on [::]:8080) comes back empty: 3 connections not yet accepted at the checkpoint are lost",
            "fd 6 (UDP socket on 127.0.0.1:9999) comes back empty: 1 unread datagram at the checkpoint is lost"])

        for (meta, text) in [
            (Self.inet(state: UInt32(TCP_ESTABLISHED), address: Self.address(8080), peer: Self.address(40000)),
             "a TCP connection (127.0.0.1:8080 to 127.0.0.1:40000, ESTABLISHED)"),
            (Self.inet(state: 8, address: Self.address(8080)), "a TCP connection (127.0.0.1:8080 to ?, CLOSE_WAIT)"),
            (Self.inet(tcp: false, state: UInt32(TCP_ESTABLISHED), address: Self.address(5353)), "no peer address"),
            (Self.inet(tcp: false, state: UInt32(TCP_CLOSE), address: Self.address(5353), shutdown: 1), "shut down for receiving"),
        ] {
            let (img2, p2) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 61)], inet: [0: meta])
            defer { unlink(p2) }
            guard case let .unsupported(what, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img2, shellJob: false) }) else {
                Issue.record("not refused: \(text)")
                continue
            }
            #expect(what == "fd 3 (socket:[61])" && why.contains(text), "\(why)")
        }
        // With --tcp-close a connection in any state (one half shut down too) comes back as
        // a socket that is not connected, and the restore says so.
        let connection = Self.inet(state: 8, address: Self.address(8080), peer: Self.address(40000), shutdown: 1)
        let (img3, p3) = try image(vmas: [anon], files: [Self.socket(fd: 3, inode: 61)], inet: [0: connection])
        defer { unlink(p3) }
        let closed = try RestorePlan(img3, shellJob: false, tcpClose: true)
        #expect(closed.inetSockets.map(\.role) == [.closedConnection])
        #expect(closed.inetSockets.compactMap(\.lost) == [
            "fd 3 (TCP connection 127.0.0.1:8080 to 127.0.0.1:40000) comes back closed (--tcp-close): the program sees a dropped connection"])
        guard case let .unsupported(_, why)? = refusal({ () throws(RestoreError) in try RestorePlan(img3, shellJob: false) }) else {
            Issue.record("a connection was restored without --tcp-close")
            return
        }
        #expect(why.contains("--tcp-close brings it back closed"))
    }

    /// The root directory: "/" is the restorer's own; another is chrooted to, and must exist.
    @Test func rootDirectory() throws {
        func task(root: String?) -> TaskMeta {
            TaskMeta(pid: 77, tgid: 77, ppid: 1, comm: "t", uid: getuid(), gid: getgid(), euid: geteuid(), egid: getegid(),
                     cwd: "/tmp", umask: 0o22, personality: 0x0040_0000, root: root)
        }
        let (img, p) = try image(vmas: [anon], task: task(root: "/"))
        defer { unlink(p) }
        let plan = try RestorePlan(img, shellJob: false)
        #expect(plan.changedRoot == nil && plan.task.personality == 0x0040_0000)
        let (img2, p2) = try image(vmas: [anon], task: task(root: "/tmp"))
        defer { unlink(p2) }
        #expect(try RestorePlan(img2, shellJob: false).changedRoot == "/tmp")
        let (img3, p3) = try image(vmas: [anon], task: task(root: "/nonexistent-ckpt-root"))
        defer { unlink(p3) }
        guard case let .unsupported(what, _)? = refusal({ () throws(RestoreError) in try RestorePlan(img3, shellJob: false) }) else {
            Issue.record("a missing root directory was not refused")
            return
        }
        #expect(what == "root directory /nonexistent-ckpt-root")
    }

    /// A pre-copy (memory only, of a running process) is no process image; the checkpoint
    /// after it is, and its vmas with parent-pages records count as having pages.
    @Test func preCopyImagesAndTheirChildren() throws {
        func image(header: HeaderMeta, parentPages: Bool) throws -> (ImageReader, String) {
            let fixture = try ImageFixture("pre-copy")
            _ = try fixture.record(.header(header), parent: 0)
            let task = try fixture.record(.task(TaskMeta(pid: 77, tgid: 77, ppid: 1, comm: "t", uid: getuid(), gid: getgid(),
                                                         euid: geteuid(), egid: getegid())), parent: 0)
            if !header.isPreCopy { _ = try fixture.record(.regs(RegsMeta(tid: 77)), parent: task, data: [UInt8](repeating: 0, count: 216)) }
            let mm = try fixture.record(.mm(MMMeta(startCode: 0x40_0000, endCode: 0x40_1000, startData: 0, endData: 0, startBrk: 0,
                                                   brk: 0, startStack: 0, argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)), parent: task)
            let vma = try fixture.record(.vma(VMAMeta(start: 0x7000_0000, end: 0x7000_4000, vmFlags: 0x3, pgoff: 0)), parent: mm)
            if parentPages { _ = try fixture.record(.parentPages(PagesMeta(addr: 0x7000_1000, nrPages: 2)), parent: vma) }
            _ = try fixture.record(.trailer(TrailerMeta(nrThreads: header.isPreCopy ? 0 : 1, nrVMAs: 1, nrPagesTotal: 0, nrFiles: 0)),
                                   parent: 0)
            return try fixture.finish()
        }
        let (pre, prePath) = try image(header: HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1,
                                                          checkpointFlags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue)),
                                       parentPages: false)
        defer { unlink(prePath) }
        let e = refusal { () throws(RestoreError) in try RestorePlan(pre, shellJob: false) }
        #expect("\(e.map { "\($0)" } ?? "accepted")".contains("a pre-copy holds memory only"))
        let (child, childPath) = try image(header: HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 2,
                                                              parentCrid: 5), parentPages: true)
        defer { unlink(childPath) }
        let plan = try RestorePlan(child, shellJob: false)
        #expect(plan.mappings.map(\.hasPages) == [true])
    }

    @Test func readsResourceLimits() throws {
        let limits = (0..<16).map { i in ResourceLimit(soft: i == 7 ? 200 : UInt64.max, hard: i == 7 ? 4000 : UInt64.max - UInt64(i)) }
        let (r, p) = try image(vmas: [anon], limits: limits)
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.resourceLimits == limits)
        #expect(ResourceLimit.name(7) == "RLIMIT_NOFILE" && ResourceLimit.name(99) == "resource 99")
        #expect(ResourceLimit.describe(UInt64.max) == "unlimited" && ResourceLimit.describe(200) == "200")
        #expect(ResourceLimit.table([1, 2, 3]) == nil)
    }

    /// A thread stopped in a call with a restart block (poll: -ERESTART_RESTARTBLOCK) runs
    /// the call again from its start; other restart codes and plain returns are left alone.
    @Test func restartBlockCallsRunAgain() {
        func regs(rax: Int64, origRax: Int64) -> [UInt64] {
            var r = [UInt64](repeating: 0, count: RestorePlan.registerWords)
            r[10] = UInt64(bitPattern: rax)
            r[15] = UInt64(bitPattern: origRax)
            r[16] = 0x40_1002
            return r
        }
        let poll = ThreadPlan(meta: RegsMeta(tid: 1), registers: regs(rax: -516, origRax: 7))
        #expect(poll.resumeRegisters[10] == 7 && poll.resumeRegisters[16] == 0x40_1000 && poll.resumeRegisters[15] == UInt64.max)
        for (rax, orig) in [(Int64(-514), Int64(7)), (-512, 0), (-4, 7), (0, -1), (-516, -1)] {
            let t = ThreadPlan(meta: RegsMeta(tid: 1), registers: regs(rax: rax, origRax: orig))
            #expect(t.resumeRegisters == t.registers)
        }
    }

    @Test func anUnregisteredRseqIsNone() throws {
        var meta = RegsMeta(tid: 5, rseq: RseqRegistration(address: 0, length: 0, signature: 0))
        #expect(ThreadPlan(meta: meta, registers: []).rseq == nil)
        meta.rseq = nil
        #expect(ThreadPlan(meta: meta, registers: []).rseq == nil)
    }

    @Test func refusesSharedMemory() throws {
        let shared = VMAMeta(start: 0x2000_0000, end: 0x2000_1000, vmFlags: 0x3 | 0x8, pgoff: 0)
        let (r, p) = try image(vmas: [anon, shared])
        defer { unlink(p) }
        let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
        guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
        #expect(what == "mapping 0x20000000-0x20001000" && why.contains("shared memory"))
    }

    /// A shmem record's seals go with its object: a memfd made sealable when it had seals
    /// other than F_SEAL_SEAL alone (what memory nobody may seal has, and what an image of
    /// an older module gets), sealed before it is mapped when F_SEAL_WRITE is among them
    /// (no shared mapping may write then), after otherwise.
    @Test func sharedMemorySeals() throws {
        let memfd = "/memfd:sealed (deleted)"
        let id = FileIdentity(inode: 77, device: 1, size: 8192, mtimeNs: 5)
        let vma = VMAMeta(start: 0x2000_0000, end: 0x2000_2000, vmFlags: 0x3 | 0x8 | 0x70, pgoff: 0, path: memfd, identity: id)
        let (r, p) = try image(vmas: [anon, vma], shmem: [1: (ShmemMeta(inode: 77, size: 8192, seals: 0x17), true)])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        let object = VMAKind.SharedObject(device: 1, inode: 77, size: 8192, seals: 0x17)
        #expect(plan.mappings.map(\.kind) == [.anonymous, .sharedMemory(object)])
        #expect(object.sealable && !object.sealsBeforeMapping)
        func sealed(_ seals: UInt32?) -> VMAKind.SharedObject { .init(device: 1, inode: 1, size: 4096, seals: seals) }
        #expect(sealed(nil).sealable == false && sealed(UInt32(CKPT_F_SEAL_SEAL)).sealable == false)
        #expect(sealed(0).sealable && !sealed(0).sealsBeforeMapping)
        #expect(sealed(UInt32(CKPT_F_SEAL_WRITE | CKPT_F_SEAL_SEAL)).sealsBeforeMapping)
    }

    /// Unnamed shared memory with a shmem record is planned as one object per inode (two
    /// vmas and an fd of one memfd share it); without the record (older modules, devices)
    /// it is refused; a SysV segment, read-only shared memory with pages, and a memfd the
    /// process does not map are refused, naming them.
    @Test func unnamedSharedMemory() throws {
        let memfd = "/memfd:buf (deleted)"
        let id = FileIdentity(inode: 4242, device: 1, size: 8192, mtimeNs: 5)
        let view1 = VMAMeta(start: 0x2000_0000, end: 0x2000_2000, vmFlags: 0x3 | 0x8 | 0x70, pgoff: 0, path: memfd, identity: id)
        let view2 = VMAMeta(start: 0x3000_0000, end: 0x3000_1000, vmFlags: 0x1 | 0x8 | 0x70, pgoff: 1, path: memfd, identity: id)
        let object = VMAKind.SharedObject(device: 1, inode: 4242, size: 8192)
        let fd = FileMeta(fd: 5, fFlags: 0o2, pos: 100, path: memfd, identity: id)
        let (r, p) = try image(vmas: [anon, view1, view2], files: [fd],
                               shmem: [1: (ShmemMeta(inode: 4242, size: 8192), true), 2: (ShmemMeta(inode: 4242, size: 8192), false)])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.mappings.map(\.kind) == [.anonymous, .sharedMemory(object), .sharedMemory(object)])
        #expect(plan.mappings.map(\.hasPages) == [false, true, false])
        #expect(plan.descriptors == [.sharedMemory(fd: 5, object: object, flags: 0o2, position: 100)])
        #expect(RestorePlan.memfdName(memfd) == "buf" && RestorePlan.memfdName("/dev/zero (deleted)") == "ckpt-shmem")

        func refused(_ vmas: [VMAMeta], files: [FileMeta] = [], shmem: [Int: (meta: ShmemMeta, page: Bool)]) throws -> (String, String)? {
            let (r, p) = try image(vmas: vmas, files: files, shmem: shmem)
            defer { unlink(p) }
            let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
            guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return nil }
            return (what, why)
        }
        let s = ShmemMeta(inode: 4242, size: 8192)
        if let (what, why) = try refused([anon, view1], shmem: [:]) {
            #expect(what == "mapping 0x20000000-0x20002000 (\(memfd))" && why.contains("holds no pages"))
        }
        var sysv = view1
        sysv.path = "/SYSV00000000 (deleted)"
        if let (what, why) = try refused([sysv], shmem: [0: (s, false)]) {
            #expect(what == "mapping 0x20000000-0x20002000 (/SYSV00000000 (deleted))" && why.contains("SysV"))
        }
        var readOnly = view1
        readOnly.vmFlags = 0x1 | 0x8 | 0x70
        if let (what, why) = try refused([readOnly], shmem: [0: (s, true)]) {
            #expect(what.hasPrefix("mapping 0x20000000") && why.contains("read-only shared memory with pages"))
        }
        var unmapped = fd
        unmapped.identity?.inode = 4343
        if let (what, why) = try refused([view1], files: [unmapped], shmem: [0: (s, false)]) {
            #expect(what == "fd 5 (\(memfd))" && why.contains("does not map"))
        }
    }

    /// An inotify descriptor comes back from its fdinfo record, each watch on the path of a
    /// file the image holds open with that inode and device (fdinfo's sdev is the kernel's
    /// dev_t: major 8, minor 1 is 0x800001 there and 0x801 to stat); without the record,
    /// or with a watch on a file the image has no path for, it is refused.
    @Test func inotifyFromItsFdinfo() throws {
        #expect(InotifyWatch.encodeDevice(0x80_0001) == 0x801 && InotifyWatch.encodeDevice(0x80_0123) == 0x10_0823)
        let line = "inotify wd:2 ino:40a3 sdev:800001 mask:fce ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a340000000000000\n"
        let text = "pos:\t0\nflags:\t00\nmnt_id:\t15\nino:\t1057\n" + line
        #expect(InotifyWatch.parse(text) == [InotifyWatch(wd: 2, inode: 0x40a3, device: 0x801, mask: 0xfce)])
        #expect(InotifyWatch.parse("inotify wd:1 ino:5\n") == nil)

        let log = FileMeta(fd: 3, fFlags: 0, pos: 8, path: "/var/log/x",
                           identity: FileIdentity(inode: 0x40a3, device: 0x801, size: 8, mtimeNs: 1))
        let ino = FileMeta(fd: 4, fFlags: UInt32(O_NONBLOCK), pos: 0, path: "anon_inode:inotify",
                           identity: FileIdentity(inode: 9, device: 14, size: 0, mtimeNs: 0))
        let (r, p) = try image(vmas: [anon], files: [log, ino], fdinfo: [1: text])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        var watch = InotifyWatch(wd: 2, inode: 0x40a3, device: 0x801, mask: 0xfce)
        watch.path = "/var/log/x"
        #expect(plan.descriptors[1] == .inotify(fd: 4, flags: O_NONBLOCK, watches: [watch]))

        for (files, info, expected) in [([log, ino], [Int: String](), "does not record its watches"),
                                        ([ino], [0: text], "neither holds open nor maps")] {
            let (r, p) = try image(vmas: [anon], files: files, fdinfo: info)
            defer { unlink(p) }
            let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
            guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); continue }
            #expect(what == "fd 4 (anon_inode:inotify)" && why.contains(expected))
        }
    }

    /// eventfd, signalfd and timerfd from their fdinfo text (6.12's formats); what a text
    /// lacks is named (6.1's eventfd shows no semaphore line).
    @Test func eventDescriptorsFromTheirFdinfo() throws {
        let head = "pos:\t0\nflags:\t02004002\nmnt_id:\t15\nino:\t1057\n"
        #expect(EventDescriptor.parse(path: "anon_inode:[eventfd]",
                                      fdinfo: head + "eventfd-count:                5\neventfd-id: 3\neventfd-semaphore: 1\n")
            == .success(.eventfd(count: 5, semaphore: true)))
        #expect(EventDescriptor.parse(path: "anon_inode:[eventfd]", fdinfo: head + "eventfd-count:                5\neventfd-id: 3\n")
            == .failure(.missing("eventfd-semaphore (shown by Linux 6.4 and later): whether it is a semaphore is not known")))
        #expect(EventDescriptor.parse(path: "anon_inode:[signalfd]", fdinfo: head + "sigmask:\t0000000000000800\n")
            == .success(.signalfd(mask: 0x800)))
        let timer = head + "clockid: 1\nticks: 3\nsettime flags: 00\nit_value: (0, 150000000)\nit_interval: (0, 200000000)\n"
        #expect(EventDescriptor.parse(path: "anon_inode:[timerfd]", fdinfo: timer)
            == .success(.timerfd(clock: 1, ticks: 3, value: [0, 150_000_000], interval: [0, 200_000_000])))
        let cancel = timer.replacingOccurrences(of: "settime flags: 00", with: "settime flags: 03")
        #expect(EventDescriptor.parse(path: "anon_inode:[timerfd]", fdinfo: cancel)
            == .failure(.unsupported("a timer cancelled when the clock is set (TFD_TIMER_CANCEL_ON_SET)")))

        let tfd = "tfd:        5 events: 80000001 data:                5  pos:0 ino:421 sdev:e\n"
        #expect(EventDescriptor.epollTargets(head + tfd)
            == [.init(fd: 5, events: 0x8000_0001, data: 5, inode: 0x421, device: 0xe)])
        let target = FileMeta(fd: 5, fFlags: 2, pos: 0, path: "anon_inode:[eventfd]", identity: FileIdentity(inode: 0x421, device: 0xe, size: 0, mtimeNs: 0))
        let ep = FileMeta(fd: 7, fFlags: 2, pos: 0, path: "anon_inode:[eventpoll]")
        let efd = head + "eventfd-count:                5\neventfd-id: 3\neventfd-semaphore: 0\n"
        do {
            let (r, p) = try image(vmas: [anon], files: [target, ep], fdinfo: [0: efd, 1: head + tfd])
            defer { unlink(p) }
            #expect(try RestorePlan(r, shellJob: false).descriptors[1]
                == .epoll(fd: 7, flags: 2, targets: [.init(fd: 5, events: 0x8000_0001, data: 5, inode: 0x421, device: 0xe)]))
            var other = target
            other.identity?.inode = 0x422  // fd 5 is another file now
            let (r2, p2) = try image(vmas: [anon], files: [other, ep], fdinfo: [0: efd, 1: head + tfd])
            defer { unlink(p2) }
            let e = refusal { () throws(RestoreError) in try RestorePlan(r2, shellJob: false) }
            guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
            #expect(what == "fd 7 (anon_inode:[eventpoll])" && why.contains("not the file the process holds at that number"))
        }

        let sig = FileMeta(fd: 6, fFlags: UInt32(O_RDWR | O_NONBLOCK), pos: 0, path: "anon_inode:[signalfd]")
        let (r, p) = try image(vmas: [anon], files: [sig], fdinfo: [0: head + "sigmask:\t0000000000000800\n"])
        defer { unlink(p) }
        #expect(try RestorePlan(r, shellJob: false).descriptors == [.event(fd: 6, flags: O_RDWR | O_NONBLOCK, .signalfd(mask: 0x800))])
    }

    /// A shared mapping of a named file is planned (its memory is the file): its bytes,
    /// size and mtime may have changed since, but not which file it is, nor its kind.
    @Test func sharedFileMappings() throws {
        let (file, real) = try Self.tempFile("shared")
        defer { unlink(file) }
        var identity = real
        identity.mtimeNs = 1  // modified since: allowed for a shared mapping
        let shared = VMAMeta(start: 0x2000_0000, end: 0x2000_2000, vmFlags: 0x3 | 0x8 | 0x20, pgoff: 0, path: file,
                             identity: identity)
        let (r, p) = try image(vmas: [anon, shared])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.mappings.map(\.kind) == [.anonymous, .sharedFile(path: file)])

        // Another file at the path: refused, naming the inodes.
        let other = file + ".new"
        try #require(FileManager.default.createFile(atPath: other, contents: Data(repeating: 1, count: 8192)))
        #expect(rename(other, file) == 0)
        let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
        guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
        #expect(what == "mapping 0x20000000-0x20002000 (\(file))" && why.contains("another file now (inode \(real.inode) ->"))

        // A directory (or device) there: refused as not a regular file.
        unlink(file)
        #expect(mkdir(file, 0o700) == 0)
        defer { rmdir(file) }
        let e2 = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
        guard case let .unsupported(_, why2)? = e2 else { Issue.record("not refused: \(String(describing: e2))"); return }
        #expect(why2.contains("not a regular file"))
    }

    /// An image of an older module has no pipe record: the pipe is refused, naming the fd.
    @Test func refusesAPipeNamingTheFd() throws {
        let (r, p) = try image(vmas: [anon], files: [FileMeta(fd: 3, fFlags: 0, pos: 0, path: "pipe:[1234]")])
        defer { unlink(p) }
        let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
        guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
        #expect(what == "fd 3 (pipe:[1234])" && why.contains("does not record what this pipe held"))
    }

    @Test func terminalsNeedShellJob() throws {
        let tty = FileMeta(fd: 0, fFlags: 2, pos: 0, path: "/dev/pts/3")
        let (r, p) = try image(vmas: [anon], files: [tty])
        defer { unlink(p) }
        let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
        guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
        #expect(what == "fd 0 (/dev/pts/3)" && why.contains("--shell-job"))
        let plan = try RestorePlan(r, shellJob: true)
        #expect(plan.descriptors == [.terminal(fd: 0, path: "/dev/pts/3")])
    }

    /// A mapped file that changed since the checkpoint refuses, naming the change.
    @Test func refusesAChangedFile() throws {
        let (file, identity) = try Self.tempFile("lib")
        defer { unlink(file) }
        let text = VMAMeta(start: 0x40_0000, end: 0x40_2000, vmFlags: 0x5, pgoff: 0, path: file, identity: identity)
        let (r, p) = try image(vmas: [text])
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(plan.executable == file)
        // Another device number alone (9p, NFS, overlayfs after a reboot) is the same file.
        var moved = identity
        moved.device &+= 1
        let (r2, p2) = try image(vmas: [VMAMeta(start: 0x40_0000, end: 0x40_2000, vmFlags: 0x5, pgoff: 0, path: file, identity: moved)])
        defer { unlink(p2) }
        #expect(try RestorePlan(r2, shellJob: false).executable == file)
        let h = FileHandle(forWritingAtPath: file)!
        h.seekToEndOfFile()
        h.write(Data([1]))
        h.closeFile()
        let e = refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) }
        guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
        #expect(what.hasPrefix("mapping 0x400000-0x402000") && why.contains("size 8192 -> 8193"))
    }

    /// Another kernel release: restored with a warning, unless a thread was executing in
    /// the vDSO (whose code is this kernel's now): refused, naming the thread.
    @Test func anotherKernelRelease() throws {
        let vdsoFlags: UInt64 = 0x5 | 0x4_0000
        let (r, p) = try image(vmas: [VMAMeta(start: 0, end: 0x2000, vmFlags: vdsoFlags, pgoff: 0), anon])  // rip 1
        defer { unlink(p) }
        let plan = try RestorePlan(r, shellJob: false)
        #expect(try plan.checkKernel(release: "6.12") == nil)
        let e = refusal { () throws(RestoreError) in try plan.checkKernel(release: "6.1.0-57-amd64") }
        guard case let .unsupported(what, why)? = e else { Issue.record("not refused: \(String(describing: e))"); return }
        #expect(what == "thread 77" && why.contains("executing in the vDSO (0x1) of kernel 6.12"))

        let (r2, p2) = try image(vmas: [VMAMeta(start: 0x7fff_0000_0000, end: 0x7fff_0000_2000, vmFlags: vdsoFlags, pgoff: 0), anon])
        defer { unlink(p2) }
        let warning = try RestorePlan(r2, shellJob: false).checkKernel(release: "6.1.0-57-amd64")
        #expect(warning?.hasPrefix("the image was taken on kernel 6.12, this is 6.1.0-57-amd64") == true)
    }

    /// `--pid same`'s refusals name the id and say what to do.
    @Test func pidRefusals() {
        guard case let .unsupported(what, why) = Restorer.idRefused("pid 77", .fileExists) else {
            Issue.record("not an unsupported-state error")
            return
        }
        #expect(what == "pid 77" && why.contains("in use by another process") && why.contains("--pid any"))
        guard case let .unsupported(_, why2) = Restorer.idRefused("thread 78", .notPermitted) else {
            Issue.record("not an unsupported-state error")
            return
        }
        #expect(why2.contains("CAP_CHECKPOINT_RESTORE"))
        #expect(Restorer.PidPolicy(rawValue: "same") == .same && Restorer.PidPolicy.allCases.map(\.rawValue) == ["any", "same", "new"])
    }

    @Test func vmaKinds() {
        #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x1 | 0x400 | 0x4000, pgoff: 0)) == .vvar)
        #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x5 | 0x4_0000, pgoff: 0)) == .vdso)
        #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x3 | 0x100, pgoff: 0)) == .stack)
        #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x1, pgoff: 0, path: "/bin/x")) == .file(path: "/bin/x"))
        #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x3 | 0x8, pgoff: 0, path: "/dev/shm/x")) == .sharedFile(path: "/dev/shm/x"))
        for unnamed in ["/dev/zero (deleted)", "/memfd:buf (deleted)", "/SYSV00000000 (deleted)", "/data (deleted)"] {
            #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x3 | 0x8, pgoff: 0, path: unnamed)) == .shared)
        }
        #expect(VMAKind(VMAMeta(start: 0, end: 4096, vmFlags: 0x3 | 0x8 | 0x400 | 0x4000, pgoff: 0, path: "/dev/fb0")) == .shared)
        #expect(VMAKind.prot(0x5) == PROT_READ | PROT_EXEC)
    }

    /// The stub is a valid one-segment ELF whose entry is its code and whose gadget is
    /// `syscall; int3; jmp -5` at the advertised offset.
    @Test func stubProgramLayout() {
        let b = StubProgram.image
        #expect(Array(b[0..<4]) == [0x7f, 0x45, 0x4c, 0x46] && b[4] == 2 && b[5] == 1)
        func le(_ at: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
        #expect(le(16, 2) == 2 && le(18, 2) == 0x3e)                         // ET_EXEC, x86-64
        #expect(le(24, 8) == StubProgram.base + UInt64(StubProgram.codeOffset)) // e_entry
        #expect(le(56, 2) == 1 && le(64, 4) == 1 && le(68, 4) == 5)          // one PT_LOAD, R+X
        #expect(le(64 + 32, 8) == UInt64(b.count))                           // p_filesz: the whole file
        #expect(Array(b[StubProgram.gadgetOffset...]) == StubProgram.gadget)
        #expect(StubProgram.gadget == [0x0f, 0x05, 0xcc, 0xeb, 0xfb])
    }
}

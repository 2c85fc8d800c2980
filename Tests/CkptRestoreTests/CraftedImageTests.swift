#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptTestSupport
import Foundation
import Testing
@testable import CkptRestore

/// Images no kernel wrote, as an unprivileged user might download one: the plan refuses
/// each, naming the record and what is wrong, where the restorer would otherwise trap
/// (integer conversion, overflow, precondition) or wait for ever (a FIFO's open, a full
/// pipe's write, 2^31 inotify watches).
extension RestorePlanTests {
    static let x86Header = HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1)

    /// header, task (tgid 77), one regs record (`tid`, `registers`), mm, `vmas`, then what
    /// `extra(fixture, task record, regs record)` adds, then the trailer.
    func crafted(header: HeaderMeta = x86Header, tgid: UInt32 = 77, tid: UInt32 = 77,
                 registers: [UInt8] = [UInt8](repeating: 0, count: 216), vmas: [VMAMeta]? = nil,
                 _ extra: (ImageFixture, UInt32, UInt32) throws -> Void = { _, _, _ in }) throws -> (ImageReader, String) {
        let fixture = try ImageFixture("crafted")
        _ = try fixture.record(.header(header), parent: 0)
        let task = try fixture.record(.task(TaskMeta(pid: tgid, tgid: tgid, ppid: 1, comm: "t", uid: getuid(), gid: getgid(),
                                                     euid: geteuid(), egid: getegid())), parent: 0)
        let regs = try fixture.record(.regs(RegsMeta(tid: tid)), parent: task, data: registers)
        let mm = try fixture.record(.mm(MMMeta(startCode: 0x40_0000, endCode: 0x40_1000, startData: 0, endData: 0, startBrk: 0,
                                               brk: 0, startStack: 0, argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)), parent: task)
        for v in vmas ?? [anon] { _ = try fixture.record(.vma(v), parent: mm) }
        try extra(fixture, task, regs)
        _ = try fixture.record(.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 1, nrPagesTotal: 0, nrFiles: 0)), parent: 0)
        return try fixture.finish()
    }

    /// The plan's refusal of the image (which is deleted), nil when it was planned.
    func planRefusal(_ built: (ImageReader, String), shellJob: Bool = false) -> RestoreError? {
        defer { unlink(built.1) }
        return refusal { () throws(RestoreError) in try RestorePlan(built.0, shellJob: shellJob) }
    }

    /// `.image(why)` with `why` containing `text`.
    func isImage(_ e: RestoreError?, _ text: String) -> Bool {
        if case let .image(why)? = e { return why.contains(text) }
        return false
    }

    func isUnsupported(_ e: RestoreError?, what: String? = nil, _ text: String) -> Bool {
        if case let .unsupported(w, why)? = e { return (what == nil || w == what) && why.contains(text) }
        return false
    }

    /// Finding 1: the shapes `RecordDataRules` holds the kernel's stream to hold for an image
    /// file too. Each of these was planned before, and then trapped the restorer (a vma's
    /// length `end - start`; `setFPRegisters`' 512-byte precondition) or fed it a table whose
    /// count its meta contradicts.
    @Test func recordDataRulesHoldForAnImageFile() throws {
        let backwards = VMAMeta(start: 0x2000_0000, end: 0x1000_0000, vmFlags: 0x3, pgoff: 0)
        let e1 = planRefusal(try crafted(vmas: [anon, backwards]))
        #expect(isImage(e1, "record 6: vma start 0x20000000 >= end 0x10000000"), "\(String(describing: e1))")

        let shortXState = try image(vmas: [anon], xstate: XState(xfeatures: 0x7, area: [UInt8](repeating: 1, count: 100)))
        let e2 = planRefusal(shortXState)
        #expect(isImage(e2, "xstate data-len 100 outside"), "\(String(describing: e2))")

        let actions = [SignalAction](repeating: SignalAction(handler: 0, flags: 0, restorer: 0, mask: 0), count: 8).flatMap(\.bytes)
        let e3 = planRefusal(try crafted { f, task, _ in
            _ = try f.record(.sigactions(SigactionsMeta(nrSigs: 3)), parent: task, data: actions)
        })
        #expect(isImage(e3, "sigactions data-len 256 != nr-sigs 3"), "\(String(describing: e3))")

        let e4 = planRefusal(try crafted { f, _, regs in
            _ = try f.record(.siginfo(SiginfoMeta(nrSiginfo: 2, nrQueued: 1)), parent: regs, data: Self.siginfo(10) + Self.siginfo(12))
        })
        #expect(isImage(e4, "nr-siginfo 2, nr-queued 1"), "\(String(describing: e4))")

        let e5 = planRefusal(try crafted(registers: [UInt8](repeating: 0, count: 200)))
        #expect(isImage(e5, "regs data-len 200, x86_64 needs 216"), "\(String(describing: e5))")
    }

    /// Numbers the restorer converts or multiplies are held to the kernel's limits: an fd
    /// above INT_MAX trapped the plan itself (`Int32(fd)`), a tid or tgid above pid_t the
    /// restorer once the process ran (`pid_t(tid)`), a pgoff past 2^52 its `pgoff * 4096`, a
    /// restarted call at rip 0 `rip - 2`.
    @Test func numbersBeyondTheKernelsAreRefused() throws {
        let e1 = planRefusal(try crafted { f, task, _ in
            _ = try f.record(.file(FileMeta(fd: 0x8000_0000, fFlags: 0, pos: 0, path: "/dev/null")), parent: task)
        })
        #expect(isImage(e1, "fd 2147483648 above INT_MAX"), "\(String(describing: e1))")

        let e2 = planRefusal(try crafted(tid: 0x8000_0000))
        #expect(isImage(e2, "record 3: tid 2147483648 outside 1 ... 4194304"), "\(String(describing: e2))")
        let e3 = planRefusal(try crafted(tgid: 0))
        #expect(isImage(e3, "record 2: tgid 0 outside"), "\(String(describing: e3))")

        let far = VMAMeta(start: 0x2000_0000, end: 0x2000_1000, vmFlags: 0x1, pgoff: 1 << 60, path: "/dev/null")
        let e4 = planRefusal(try crafted(vmas: [anon, far]))
        #expect(isImage(e4, "record 6: vma pgoff 0x1000000000000000 pages"), "\(String(describing: e4))")

        // rax -ERESTART_RESTARTBLOCK, orig_rax 7, rip 0.
        var regs = [UInt8](repeating: 0, count: 216)
        withUnsafeBytes(of: Int64(-516).littleEndian) { regs.replaceSubrange(80..<88, with: $0) }
        regs[15 * 8] = 7
        let e5 = planRefusal(try crafted(registers: regs))
        #expect(isImage(e5, "thread 77: stopped in a system call to run again"), "\(String(describing: e5))")
        let words = (0..<27).map { i in (0..<8).reduce(UInt64(0)) { $0 | UInt64(regs[i * 8 + $1]) << (8 * UInt64($1)) } }
        let thread = ThreadPlan(meta: RegsMeta(tid: 77), registers: words)
        #expect(thread.resumeRegisters == words)  // and no trap

        let actions = [SignalAction](repeating: SignalAction(handler: 0, flags: 0, restorer: 0, mask: 0), count: 65)
        let e6 = planRefusal(try image(vmas: [anon], signals: actions))
        #expect(isImage(e6, "nr-sigs 65, but x86-64 has 64 signals"), "\(String(describing: e6))")

        var big = Self.x86Header
        big.pageSize = 65536
        let e7 = planRefusal(try crafted(header: big, vmas: [VMAMeta(start: 0x1000_0000, end: 0x1001_0000, vmFlags: 0x3, pgoff: 0)]))
        #expect(isUnsupported(e7, what: "image", "page size is 65536 bytes, this machine's 4096"), "\(String(describing: e7))")

        // An eventfd counter at ULLONG_MAX: the restorer's write of it would wait for a read.
        let efd = FileMeta(fd: 5, fFlags: 2, pos: 0, path: "anon_inode:[eventfd]")
        let text = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\neventfd-count: ffffffffffffffff\neventfd-id: 3\neventfd-semaphore: 0\n"
        let e8 = planRefusal(try image(vmas: [anon], files: [efd], fdinfo: [0: text]))
        #expect(isUnsupported(e8, what: "fd 5 (anon_inode:[eventfd])", "overflow value"), "\(String(describing: e8))")
    }

    /// Finding 2: a FIFO is never opened by path. One at a descriptor's path, or at a
    /// mapping's (with or without the identity the image recorded for it), is refused; the
    /// restorer's opens are O_NONBLOCK for one that appears later (`RemoteSyscallsTests`).
    @Test func aFIFOIsNeverOpenedByPath() throws {
        let fifo = NSTemporaryDirectory() + "ckpt-fifo-\(getpid())-\(UUID().uuidString)"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let e1 = planRefusal(try image(vmas: [anon], files: [FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: fifo)]))
        #expect(isUnsupported(e1, what: "fd 3 (\(fifo))", "is a named FIFO"), "\(String(describing: e1))")

        let mapped = VMAMeta(start: 0x40_0000, end: 0x40_1000, vmFlags: 0x5, pgoff: 0, path: fifo)
        let e2 = planRefusal(try image(vmas: [mapped]))
        #expect(isUnsupported(e2, "is a named FIFO"), "\(String(describing: e2))")

        var st = stat()
        #expect(stat(fifo, &st) == 0)
        let same = FileIdentity(inode: UInt64(st.st_ino), device: UInt32(truncatingIfNeeded: st.st_dev), size: 0,
                                mtimeNs: UInt64(st.st_mtim.tv_sec) * 1_000_000_000 + UInt64(st.st_mtim.tv_nsec))
        var identified = mapped
        identified.identity = same
        let e3 = planRefusal(try image(vmas: [identified]))
        #expect(isUnsupported(e3, "is not a regular file or a device now"), "\(String(describing: e3))")
    }

    /// Finding 3: pipe bytes beyond the pipe's capacity, which the restorer's write into a
    /// pipe of that capacity waited on for ever; and a capacity only privilege may set.
    @Test func aPipeHoldsNoMoreThanItsCapacity() throws {
        let r = FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: "pipe:[77]")
        let w = FileMeta(fd: 4, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[77]")
        let data = [UInt8](repeating: 7, count: 8192)
        let e1 = planRefusal(try image(vmas: [anon], files: [r, w],
                                       pipes: [0: (PipeMeta(size: 4096, bytes: 8192), data), 1: (PipeMeta(size: 4096, bytes: 8192), [])]))
        #expect(isImage(e1, "pipe holds 8192 bytes in a capacity of 4096"), "\(String(describing: e1))")

        // Each record within its own capacity, but the pipe is sized by the first.
        let e2 = planRefusal(try image(vmas: [anon], files: [w, r],
                                       pipes: [0: (PipeMeta(size: 4096, bytes: 0), []), 1: (PipeMeta(size: 65536, bytes: 8192), data)]))
        #expect(isImage(e2, "fd 3 (pipe:[77]): a capacity of 65536 bytes, another fd of the same pipe says 4096"),
                "\(String(describing: e2))")

        let huge = (fds: [Int32(5), 6], name: "pipe:[9]", size: UInt32(2 << 20))
        let e3 = RestorePlan.pipeSizeRefusal([(fds: [7], name: "FIFO /run/x", size: 65536), huge], pipeMaxSize: 1 << 20)
        #expect(isUnsupported(e3, what: "fd 5 (pipe:[9])", "above /proc/sys/fs/pipe-max-size (1048576)"), "\(String(describing: e3))")
        var small = huge
        small.size = 65536
        #expect(RestorePlan.pipeSizeRefusal([small], pipeMaxSize: 4096) == nil)  // a new pipe's own size
        #expect(RestorePlan.pipeSizeRefusal([huge], pipeMaxSize: 4 << 20) == nil)
    }

    /// Finding 4: inotify watch numbers. Reaching wd 0x7fffffff took 2^31 added and removed
    /// watches, one remote call each; wd 0 and one past INT_MAX are no kernel's; two watches
    /// of one number cannot both be made.
    @Test func inotifyWatchNumbersAreTheKernels() throws {
        let log = FileMeta(fd: 3, fFlags: 0, pos: 0, path: "/var/log/x",
                           identity: FileIdentity(inode: 0x40a3, device: 0x801, size: 8, mtimeNs: 1))
        let ino = FileMeta(fd: 4, fFlags: 0, pos: 0, path: "anon_inode:inotify")
        func plan(_ wds: [String]) throws -> RestoreError? {
            let text = wds.map { "inotify wd:\($0) ino:40a3 sdev:800001 mask:fce ignored_mask:0\n" }.joined()
            return planRefusal(try image(vmas: [anon], files: [log, ino], fdinfo: [1: text]))
        }
        let limit = RestorePlan.inotifyCycleLimit()
        let e1 = try plan(["7fffffff"])
        #expect(isUnsupported(e1, what: "fd 4 (anon_inode:inotify)", "watch 2147483647 would need 2147483646 watches added and removed"),
                "\(String(describing: e1))")
        #expect(isUnsupported(e1, "fs.inotify.max_user_watches, \(limit)"))
        #expect(try plan([String(limit + 1, radix: 16)]) == nil)  // as far as the limit goes
        for wd in ["0", "80000000"] {
            let e = try plan([wd])
            #expect(isImage(e, "missing or out of range (wd 1 ... INT_MAX"), "\(String(describing: e))")
        }
        let e2 = try plan(["3", "3"])
        #expect(isImage(e2, "two watches numbered 3"), "\(String(describing: e2))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptSystem
import SystemPackage

/// `ckpt restore --memory-by process`: an image's pages written into a process the caller
/// made and traces, with `process_vm_writev(2)` from the mapped image, instead of through the
/// kernel's restart session. One copy per byte (the image's page cache into the process's
/// pages), as CRIU's restorer does with `preadv`, where the restart session pays two
/// (sendmsg into a zeroed request, the request into the page) and a CRC-32C in the kernel.
///
/// ```
///  walk thread (caller):  read + check each record (ImageFragments), but for pages
///                         records' data ──> FragmentPipe
///                         (each pages fragment's CRC-32C into its record's check here
///                         while writers have work queued, else by the writer)
///  writer threads (1-4):  CRC-32C of the fragment's data if the walk left it, then
///                         process_vm_writev(pid, fragment -> its address); a fragment the
///                         call cannot write (a read-only mapping) through /proc/PID/mem
///  walk thread, after:    each pages record's CRC from its fragments' (PendingRecordCheck)
/// ```
///
/// Most of a write's time is the kernel's: zeroing each new page of the process, then the
/// copy. Several writers spread that over the CPUs. Their order does not matter: the walk
/// lets through only pages records that lie ascending and apart (`PagesRules`; a pre-copy's
/// pages come as such records too), so no two fragments write the same byte.
///
/// What the kernel's direct restart checked of the records is checked here, before a byte of
/// a record is written: each pages record lies inside the vma record before it, ascending, in
/// a vma `acceptsPages` allows (the caller's rule: never a named file's shared mapping, whose
/// memory is the file), and the trailer counts the pages written. That the process's mappings
/// are the image's vmas is the caller's part (`Restorer` made them and compared
/// /proc/PID/maps with the image). A record's CRC is confirmed only after its bytes were
/// handed on (as the walk moves past it; a pages record's once the writers are done), so a
/// damaged record may have been written when the restore fails: the caller kills the
/// process it made.
///
/// A pages record's data is checksummed by the walk while the writers have work queued (the
/// walk would only wait for a slot), else by the writer that takes it, beside its copy:
/// where copies are cheap the CRC pass is a restore's largest cost and then runs on every
/// writer's CPU instead of the walk's alone (docs/benchmarks.md, "The restore's CRC pass on
/// the writers"). Those records are confirmed once every writer is done, before `write`
/// returns, and a damaged one fails the restore as a damaged record met by the walk does.
/// The caller must be allowed to ptrace `pid` (it is its tracer).
public final class ProcessMemoryWriter {
    public struct Result: Equatable, Sendable {
        /// Records walked, and page bytes written.
        public var records: UInt64
        public var bytes: UInt64
        /// Writes that went through /proc/PID/mem (read-only mappings; every write when
        /// `processVMWrite` is false).
        public var forcedWrites: UInt64
        /// Whether process_vm_writev wrote: false on a kernel built without it
        /// (`CONFIG_CROSS_MEMORY_ATTACH=n`: ENOSYS), where every write went through /proc/PID/mem.
        public var processVMWrite: Bool
    }

    /// Bytes per write: 1 MiB of a page run (a record of up to 16 MiB) in one call instead
    /// of one per 60 KiB (docs/benchmarks.md, "Run 23", when runs were 1 MiB: fewer slow
    /// runs, not a faster best run). A slot is this size only when the image cannot be
    /// mapped (a store); a mapped image's fragments are views of it.
    public let maxData: Int
    public let pipeDepth: Int
    /// Writer threads taking fragments from the one pipe.
    public let writers: Int
    /// false: every write through /proc/PID/mem from the start, the path a kernel without
    /// process_vm_writev takes (the writer finds that by ENOSYS; tests choose it here).
    public let processVMWrite: Bool

    public init(maxData: Int = 1 << 20, pipeDepth: Int = 8, writers: Int = ProcessMemoryWriter.defaultWriters,
                processVMWrite: Bool = true) {
        precondition(writers >= 1)
        self.maxData = maxData
        self.pipeDepth = pipeDepth
        self.writers = writers
        self.processVMWrite = processVMWrite
    }

    /// Whether this kernel has process_vm_writev (`CONFIG_CROSS_MEMORY_ATTACH`): a call with
    /// nothing to write returns 0 before it looks at the pid, or ENOSYS without it. For the
    /// operator's progress line; the writer finds the same by its first ENOSYS anyway.
    public static var kernelHasProcessVMWrite: Bool {
        ckpt_process_vm_write(0, nil, 0, 0) >= 0 || errno != ENOSYS
    }

    /// One writer per CPU this process may run on, at most 4 (docs/benchmarks.md, "Runs
    /// 24-26": 0.76x the wall time of one writer for 256 MiB on 2 vCPUs).
    public static var defaultWriters: Int { min(4, max(1, Int(ckpt_cpus_allowed()))) }

    /// Writes every pages record of `reader` (and the pages `parent` holds for its
    /// parent-pages records) into `pid`. `progress(done, total)` in record bytes.
    public func write(
        _ reader: ImageReader, pid: pid_t, parent: ImageReader? = nil,
        acceptsPages: @escaping (VMAMeta) -> Bool,
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws(ReplayError) -> Result {
        let mem = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        guard mem >= 0 else { throw .memory(call: "open /proc/\(pid)/mem", address: nil, errno: Errno(rawValue: errno)) }
        defer { close(mem) }
        let pipe = FragmentPipe(capacity: pipeDepth, maxData: maxData)
        let writing = (0..<writers).map { _ in Writer(pid: pid, mem: mem, pipe: pipe, processVMWrite: processVMWrite) }
        let threads = writing.map { writer in JoinableThread { writer.run() } }
        var rules = PagesRules(acceptsPages: acceptsPages)
        var walkError: ReplayError?
        var deferred: [PendingRecordCheck] = []
        do {
            var slot = 0
            try ImageFragments(reader: reader, maxData: maxData, deferPagesData: true).walk(
                meta: ImageFragments.verbatim, progress: progress, parent: parent.map { ParentImagePages(reader: $0) },
                buffer: { slot = try pipe.acquire(); return pipe.buffer(slot) }
            ) { f, check in
                let address = try rules.check(f)
                guard f.type == .pages, !f.data.isEmpty else { return pipe.release(slot) }
                var pending: (check: PendingRecordCheck, chunk: Int)?
                if case let .deferred(record, chunk) = check {
                    if chunk == 0 { deferred.append(record) }
                    // Writers with work queued: this thread would only wait for a slot,
                    // so it checksums the chunk itself; else a writer will, beside its copy.
                    if pipe.queued >= writers {
                        record.checksum(chunk: chunk, f.data)
                    } else {
                        pending = (record, chunk)
                    }
                }
                pipe.publish(slot, .init(type: f.type, id: f.id, parent: f.parent, dataLength: f.dataLength,
                                         dataOffset: f.dataOffset, data: f.data, hasMeta: false, address: address,
                                         deferred: pending),
                             meta: nil)
            }
            pipe.close()
        } catch {
            walkError = error as? ReplayError ?? .image(.misuse(path: reader.path, offset: 0, recordID: nil, call: "restore",
                                                                 expected: "a ReplayError", found: "\(error)"))
            pipe.fail(walkError!)
        }
        for thread in threads { thread.join() }
        if let failure = writing.lazy.compactMap(\.failure).first ?? walkError { throw failure }
        for check in deferred {
            do throws(ImageError) { try check.verify() } catch { throw .image(error) }
        }
        return Result(records: rules.records, bytes: writing.reduce(0) { $0 + $1.bytes },
                      forcedWrites: writing.reduce(0) { $0 + $1.forced },
                      processVMWrite: writing.allSatisfy(\.processVMWrite))
    }

    /// The checks the kernel's restart session made of pages records: inside the vma
    /// record before them, ascending, and as many pages as the trailer counts.
    struct PagesRules {
        let acceptsPages: (VMAMeta) -> Bool
        /// The last vma record: its range, and whether its pages may be written.
        var vma: (start: UInt64, end: UInt64, accepted: Bool)?
        var next: UInt64 = 0
        var pages: UInt64 = 0
        var records: UInt64 = 0
        var runAddress: UInt64 = 0
        var pageSize: UInt64 = 4096

        /// The address `f`'s data goes to (0 for records without pages).
        mutating func check(_ f: RecordFragment) throws(ReplayError) -> UInt64 {
            if let m = f.meta {
                records += 1
                let meta: RecordMeta
                do throws(ProtocolError) { meta = try RecordMeta(type: f.type, payload: m) } catch {
                    throw .meta(recordID: f.id, error)
                }
                switch meta {
                case let .header(h):
                    pageSize = UInt64(h.pageSize)
                case let .vma(v):
                    vma = (v.start, v.end, acceptsPages(v))
                    next = v.start
                case let .pages(p):
                    let length = UInt64(p.nrPages) * pageSize
                    let why: String? = switch vma {
                    case nil: "no vma record before them"
                    case let vma?:
                        if p.addr % pageSize != 0 || p.addr < next || p.addr > vma.end || length > vma.end - p.addr {
                            "\(p.nrPages) pages outside their vma 0x\(String(vma.start, radix: 16))-0x\(String(vma.end, radix: 16)) or behind the previous record"
                        } else if f.dataLength != length {
                            "data-len \(f.dataLength) is not \(p.nrPages) pages"
                        } else if !vma.accepted {
                            "in a mapping whose pages a restore does not write (a named file's shared mapping, or device memory)"
                        } else { nil }
                    }
                    if let why { throw .pagesRefused(recordID: f.id, address: p.addr, why: why) }
                    next = p.addr + length
                    pages += UInt64(p.nrPages)
                    runAddress = p.addr
                case let .trailer(t):
                    guard t.nrPagesTotal == pages else {
                        throw .trailerPages(counted: pages, trailer: t.nrPagesTotal)
                    }
                default: break
                }
            }
            return f.type == .pages ? runAddress + f.dataOffset : 0
        }
    }

    /// One writer thread's half: its own counters, the shared pipe and descriptor.
    ///
    /// `@unchecked Sendable`, sound because only its own thread touches it between that
    /// thread's start and `join()` (the pipe is itself thread-safe), and pthread_join orders
    /// the writer's stores before the caller's loads.
    final class Writer: @unchecked Sendable {
        let pid: pid_t
        let mem: Int32
        let pipe: FragmentPipe
        var failure: ReplayError?
        var bytes: UInt64 = 0
        var forced: UInt64 = 0
        /// Cleared for good at the first ENOSYS.
        var processVMWrite: Bool

        init(pid: pid_t, mem: Int32, pipe: FragmentPipe, processVMWrite: Bool) {
            self.pid = pid
            self.mem = mem
            self.pipe = pipe
            self.processVMWrite = processVMWrite
        }

        func run() {
            while let slot = pipe.take() {
                let h = pipe.header(slot)
                if let (check, chunk) = h.deferred { check.checksum(chunk: chunk, h.data) }
                let error = write(h.data, at: h.address)
                pipe.release(slot)
                if let error {
                    failure = error
                    pipe.fail(error)
                    return
                }
            }
        }

        /// process_vm_writev, then /proc/PID/mem for what it left (it does not write
        /// read-only mappings; the tracer's /proc/PID/mem does, as a debugger's pokes), or
        /// for everything on a kernel without process_vm_writev.
        private func write(_ data: UnsafeRawBufferPointer, at address: UInt64) -> ReplayError? {
            var done = 0
            var n = -1
            if processVMWrite {
                n = ckpt_process_vm_write(pid, data.baseAddress, data.count, address)
                if n < 0 && errno == ENOSYS { processVMWrite = false }
            }
            if n > 0 { done = n }
            if done < data.count {
                if processVMWrite && n < 0 && errno != EFAULT {
                    return .memory(call: "process_vm_writev", address: address, errno: Errno(rawValue: errno))
                }
                forced += 1
                while done < data.count {
                    let w = pwrite(mem, data.baseAddress! + done, data.count - done,
                                   off_t(Int64(bitPattern: address + UInt64(done))))
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else {
                        return .memory(call: "write /proc/\(pid)/mem", address: address + UInt64(done),
                                       errno: Errno(rawValue: w < 0 ? errno : EIO))
                    }
                    done += w
                }
            }
            bytes += UInt64(done)
            return nil
        }
    }
}

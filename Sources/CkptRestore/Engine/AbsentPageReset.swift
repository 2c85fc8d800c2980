#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptImage
import CkptProtocol
import CkptSystem
import SystemPackage

/// The last step of `ckpt replay --pid`: pages the image does not hold (untouched at the
/// checkpoint, or an anonymous mapping's pages of zeros, which the kernel leaves out) but
/// the target now has a copy of are put back as they were then: zero in an anonymous
/// mapping, the file's bytes in a private file mapping.
///
/// The kernel's restart writes the image's pages; it knows nothing of pages the image lacks.
/// Which pages the target holds comes from /proc/PID/pagemap: present and not a file page
/// (bit 61 clear: its own anonymous copy), or swapped out. Those outside the image's pages
/// records are rewritten through /proc/PID/mem (the ptrace access the restart needed).
/// Unnamed shared memory whose pages the image holds (a shmem record) is the object's pages,
/// not the page tables': pages the object has outside the image's are made holes again
/// (`punchHoles`). Other shared memory is refused before a replay, a shared file mapping's
/// memory is the file; vDSO and vvar are the kernel's. A mapping
/// larger than `maxScan` is not scanned (its pagemap alone would be `size / 512` bytes) and
/// is named in `skipped`.
public struct AbsentPageReset {
    public struct Result: Equatable, Sendable {
        /// Pages of anonymous mappings written back to zero.
        public var zeroed = 0
        /// Pages of private file mappings written back from their file.
        public var fromFile = 0
        /// Pages of shared memory objects made holes again.
        public var holes = 0
        /// Mappings not scanned, and why.
        public var skipped: [String] = []
    }

    let reader: ImageReader
    let pid: pid_t
    let maxScan: UInt64

    public init(reader: ImageReader, pid: pid_t, maxScan: UInt64 = 16 << 30) {
        self.reader = reader
        self.pid = pid
        self.maxScan = maxScan
    }

    static let pageSize: UInt64 = 4096
    static let present: UInt64 = 1 << 63, swapped: UInt64 = 1 << 62, filePage: UInt64 = 1 << 61

    public func run() throws(RestoreError) -> Result {
        var result = Result()
        let mappings = try imageMappings()
        guard !mappings.isEmpty else { return result }
        let pagemap = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { throw .system(call: "open /proc/\(pid)/pagemap", errno: Errno(rawValue: errno)) }
        defer { close(pagemap) }
        let mem = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        guard mem >= 0 else { throw .system(call: "open /proc/\(pid)/mem", errno: Errno(rawValue: errno)) }
        defer { close(mem) }
        var targetMaps: [MapsEntry]?
        for (vma, held, shmem) in mappings {
            let kind = VMAKind(vma)
            if shmem {
                if targetMaps == nil { targetMaps = try Tracee(pid: pid).maps() }
                do throws(RestoreError) { result.holes += try punchHoles(vma, held, targetMaps ?? []) } catch {
                    result.skipped.append("\(RestorePlan.describe(.init(meta: vma, kind: kind))): pages the image does not hold "
                                          + "were not checked: \(error)")
                }
                continue
            }
            switch kind {
            case .anonymous, .stack, .file: break
            case .vdso, .vvar, .shared, .sharedFile, .sharedMemory: continue
            }
            if vma.end - vma.start > maxScan {
                result.skipped.append("\(RestorePlan.describe(.init(meta: vma, kind: kind))): larger than \(maxScan >> 20) MiB, not scanned for pages to put back")
                continue
            }
            // Both ascend (pages records ascend within a vma): one pass. The backing file is
            // opened once per mapping, when a page needs it.
            var j = 0
            var file: Int32 = -1
            defer { if file >= 0 { close(file) } }
            for addr in try ownPages(pagemap, vma) {
                while j < held.count, held[j].upperBound <= addr { j += 1 }
                if j < held.count, held[j].contains(addr) { continue }
                if case let .file(path) = kind {
                    if file < 0 {
                        // O_NONBLOCK: a FIFO put at the path must not make this wait for a writer.
                        file = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
                        guard file >= 0 else { throw .system(call: "open \(path)", errno: Errno(rawValue: errno)) }
                    }
                    try rewriteFromFile(mem, addr, vma, file, path)
                    result.fromFile += 1
                } else {
                    try write(mem, [UInt8](repeating: 0, count: Int(Self.pageSize)), at: addr)
                    result.zeroed += 1
                }
            }
        }
        return result
    }

    /// The image's vmas with the address ranges of their pages records and whether a shmem
    /// record says the pages are a shared memory object's, by the index.
    func imageMappings() throws(RestoreError) -> [(VMAMeta, [Range<UInt64>], Bool)] {
        var out: [(VMAMeta, [Range<UInt64>], Bool)] = []
        var byID: [UInt32: Int] = [:]
        for entry in reader.index where entry.type == .vma || entry.type == .pages || entry.type == .shmem {
            let bytes: [UInt8]
            do throws(ImageError) { bytes = try reader.meta(of: entry) } catch { throw .image("\(error)") }
            var meta: RecordMeta?
            var failure: ProtocolError?
            bytes.withUnsafeBytes { payload in
                do throws(ProtocolError) { meta = try RecordMeta(type: entry.type, payload: payload) } catch { failure = error }
            }
            if let failure { throw .image("record \(entry.id): \(failure)") }
            switch meta {
            case let .vma(v)?:
                byID[entry.id] = out.count
                out.append((v, [], false))
            case .shmem?:
                guard let i = byID[entry.parent] else { throw .image("record \(entry.id): shmem of no vma record") }
                out[i].2 = true
            case let .pages(p)?:
                guard let i = byID[entry.parent] else { throw .image("record \(entry.id): pages of no vma record") }
                out[i].1.append(p.addr..<(p.addr + UInt64(p.nrPages) * Self.pageSize))
            default: break
            }
        }
        return out
    }

    /// Addresses of the pages of `vma` the target holds a copy of: present and anonymous,
    /// or swapped out (pagemap, 8 bytes a page, read 4096 entries at a time).
    func ownPages(_ pagemap: Int32, _ vma: VMAMeta) throws(RestoreError) -> [UInt64] {
        var out: [UInt64] = []
        var entries = [UInt64](repeating: 0, count: 4096)
        var addr = vma.start
        while addr < vma.end {
            let n = Int(min(UInt64(entries.count), (vma.end - addr) / Self.pageSize))
            let want = n * 8
            let got = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, want, off_t(addr / Self.pageSize * 8)) }
            guard got == want else {
                throw .system(call: "read /proc/\(pid)/pagemap at \(hex(addr))", errno: Errno(rawValue: got < 0 ? errno : EIO))
            }
            for i in 0..<n {
                let e = entries[i]
                if (e & Self.present != 0 && e & Self.filePage == 0) || e & Self.swapped != 0 {
                    out.append(addr + UInt64(i) * Self.pageSize)
                }
            }
            addr += UInt64(n) * Self.pageSize
        }
        return out
    }

    /// Makes every page the twin's shared memory object holds in `vma`'s range outside
    /// `held` a hole again, through /proc/PID/map_files (which needs CAP_SYS_ADMIN or
    /// CAP_CHECKPOINT_RESTORE): tmpfs's SEEK_DATA finds the pages it has, a punched hole
    /// reads zero as the absent page did. Returns how many pages were dropped.
    func punchHoles(_ vma: VMAMeta, _ held: [Range<UInt64>],
                    _ maps: [MapsEntry]) throws(RestoreError) -> Int {
        guard let area = maps.first(where: { $0.start <= vma.start && vma.end <= $0.end }) else {
            throw .mismatch("the target has no mapping covering \(hex(vma.start))-\(hex(vma.end))")
        }
        let path = "/proc/\(pid)/map_files/\(String(area.start, radix: 16))-\(String(area.end, radix: 16))"
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .system(call: "open \(path)", errno: Errno(rawValue: errno)) }
        defer { close(fd) }
        // The image's holes as address ranges, then as offsets in the object.
        var holes: [Range<UInt64>] = []
        var at = vma.start
        for r in held {
            if r.lowerBound > at { holes.append(at..<r.lowerBound) }
            at = max(at, r.upperBound)
        }
        if at < vma.end { holes.append(at..<vma.end) }
        let base = vma.pgoff * Self.pageSize
        var dropped = 0
        for h in holes {
            var offset = Int64(base + (h.lowerBound - vma.start))
            let end = Int64(base + (h.upperBound - vma.start))
            while offset < end {
                var data: Int64 = 0, hole: Int64 = 0
                let found = ckpt_next_data(fd, offset, &data, &hole)
                guard found >= 0 else { throw .system(call: "lseek SEEK_DATA/SEEK_HOLE \(path)", errno: Errno(rawValue: errno)) }
                guard found == 1, data < end else { break }
                let stop = min(hole, end)
                guard ckpt_punch_hole(fd, data, stop - data) == 0 else {
                    throw .system(call: "punch a hole in \(path) at \(data)", errno: Errno(rawValue: errno))
                }
                dropped += Int((stop - data) / Int64(Self.pageSize))
                offset = stop
            }
        }
        return dropped
    }

    /// The page at `addr` of a private file mapping as the file has it (zero past its end).
    func rewriteFromFile(_ mem: Int32, _ addr: UInt64, _ vma: VMAMeta, _ fd: Int32, _ path: String) throws(RestoreError) {
        var page = [UInt8](repeating: 0, count: Int(Self.pageSize))
        let offset = vma.pgoff * Self.pageSize + (addr - vma.start)
        let n = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n >= 0 else { throw .system(call: "read \(path) at \(offset)", errno: Errno(rawValue: errno)) }
        try write(mem, page, at: addr)
    }

    func write(_ mem: Int32, _ bytes: [UInt8], at addr: UInt64) throws(RestoreError) {
        let n = bytes.withUnsafeBytes { pwrite(mem, $0.baseAddress, $0.count, off_t(Int64(bitPattern: addr))) }
        guard n == bytes.count else {
            throw .system(call: "write \(bytes.count) bytes at \(hex(addr)) of pid \(pid)", errno: Errno(rawValue: n < 0 ? errno : EIO))
        }
    }
}

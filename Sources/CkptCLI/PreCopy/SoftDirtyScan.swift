#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import CkptSystem
import SystemPackage

/// Which pages a process wrote since its soft-dirty bits were reset: the kernel's own
/// tracking, as CRIU's pre-dump reads it. `reset` writes 4 to /proc/PID/clear_refs (every
/// page write-protected and marked clean; the next write to a page marks it again); `scan`
/// reads /proc/PID/maps and asks the kernel for the soft-dirty ranges (`PagemapScan`), or
/// where it cannot answer (before Linux 6.8) reads /proc/PID/pagemap per mapping, whose bit
/// 55 is a page's soft-dirty bit. Either way a page of a mapping made since the reset
/// counts as written.
struct SoftDirtyScan {
    static let pageSize: UInt64 = 4096
    static let softDirty: UInt64 = 1 << 55
    /// Read from pagemap, a mapping larger than this is not scanned (its pagemap alone would
    /// be `size / 512` bytes) but taken as written whole: its present pages are sent as
    /// data. PAGEMAP_SCAN scans every mapping.
    static let maxScan: UInt64 = 4 << 30

    struct Failure: Error, CustomStringConvertible {
        var what: String
        var errno: Errno
        var description: String { "\(what): \(describe(errno))" }
    }

    let pid: Int32

    /// Whether this kernel tracks soft-dirty pages, tried on a page of this process as CRIU's
    /// kerndat does: written, reset (clear_refs of this process), written again, its pagemap
    /// bit read. Without CONFIG_MEM_SOFT_DIRTY the reset succeeds and every page reads clean,
    /// which would make a pre-copy's final image point at stale pages: so it is asked first.
    static func kernelTracksWrites() throws(Failure) -> Bool {
        let size = Int(pageSize)
        guard let page = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), page != MAP_FAILED else {
            throw Failure(what: "mmap of a probe page", errno: Errno(rawValue: errno))
        }
        defer { munmap(page, size) }
        let byte = page.assumingMemoryBound(to: UInt8.self)
        byte.pointee = 1
        try SoftDirtyScan(pid: getpid()).reset()
        byte.pointee = 2
        let path = "/proc/self/pagemap"
        var word: UInt64 = 0
        do throws(Errno) {
            let fd = try Syscall.openAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC)
            defer { _ = Syscall.close(fd) }
            let offset = off_t(UInt64(UInt(bitPattern: page)) / pageSize * 8)
            _ = try Syscall.retrying("pread") { withUnsafeMutableBytes(of: &word) { pread(fd, $0.baseAddress, 8, offset) } }
        } catch { throw Failure(what: "cannot read \(path)", errno: error) }
        return word & softDirty != 0
    }

    /// Resets the soft-dirty bits of every page of the process.
    func reset() throws(Failure) {
        let path = "/proc/\(pid)/clear_refs"
        do throws(Errno) {
            let fd = try Syscall.openAt(AT_FDCWD, path, O_WRONLY | O_CLOEXEC)
            defer { _ = Syscall.close(fd) }
            try Syscall.writeAll(fd, "4")
        } catch {
            throw Failure(what: "cannot reset the soft-dirty bits (writing 4 to \(path))", errno: error)
        }
    }

    /// The written ranges of the stopped process, page aligned, ascending, disjoint, at most
    /// `maxRanges` (nearest ranges merged first: a range may then cover clean pages, which
    /// are sent as data, never the other way round).
    func scan(maxRanges: Int = PreCopyParent.maxRanges) throws(Failure) -> [Range<UInt64>] {
        let maps: [MapsEntry]
        do throws(Errno) { maps = try ProcessMaps.read(pid: pid) } catch {
            throw Failure(what: "cannot read /proc/\(pid)/maps", errno: error)
        }
        let pagemap = "/proc/\(pid)/pagemap"
        let fd: Int32
        do throws(Errno) { fd = try Syscall.openAt(AT_FDCWD, pagemap, O_RDONLY | O_CLOEXEC) } catch {
            throw Failure(what: "cannot open \(pagemap)", errno: error)
        }
        defer { _ = Syscall.close(fd) }
        let mappings = Self.mappings(maps)
        guard let low = mappings.first?.lowerBound, let high = mappings.last?.upperBound else { return [] }
        do throws(Errno) {
            if let ranges = try PagemapScan.regions(fd: fd, in: low..<high, category: PagemapScan.softDirty) {
                return Self.coalesce(ranges, atMost: maxRanges)
            }
        } catch { throw Failure(what: "cannot scan \(pagemap) (PAGEMAP_SCAN)", errno: error) }
        var ranges: [Range<UInt64>] = []
        var words = [UInt64](repeating: 0, count: 8192)
        for mapping in mappings {
            if mapping.upperBound - mapping.lowerBound > Self.maxScan {
                Self.append(mapping, to: &ranges)
                continue
            }
            var address = mapping.lowerBound
            while address < mapping.upperBound {
                let count = Int(min(UInt64(words.count), (mapping.upperBound - address) / Self.pageSize))
                let offset = off_t(address / Self.pageSize * 8)
                let got: Int
                do throws(Errno) {
                    got = try Syscall.retrying("pread") {
                        words.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count * 8, offset) }
                    }
                } catch { throw Failure(what: "cannot read \(pagemap) at 0x\(String(address, radix: 16))", errno: error) }
                guard got > 0 else { break }  // the mapping went away: nothing of it to send
                let n = got / 8
                for r in Self.dirtyRuns(words[0..<n], base: address) { Self.append(r, to: &ranges) }
                address += UInt64(n) * Self.pageSize
            }
        }
        return Self.coalesce(ranges, atMost: maxRanges)
    }

    /// The address ranges of /proc/PID/maps entries, except the vsyscall page (not in pagemap).
    static func mappings(_ maps: [MapsEntry]) -> [Range<UInt64>] {
        maps.filter { $0.name != "[vsyscall]" }.map(\.range)
    }

    /// Runs of soft-dirty pages among pagemap entries, the first at `base`.
    static func dirtyRuns(_ words: ArraySlice<UInt64>, base: UInt64) -> [Range<UInt64>] {
        var runs: [Range<UInt64>] = []
        var start: UInt64?
        var address = base
        for w in words {
            if w & softDirty != 0 {
                if start == nil { start = address }
            } else if let s = start {
                runs.append(s..<address)
                start = nil
            }
            address += pageSize
        }
        if let s = start { runs.append(s..<address) }
        return runs
    }

    /// Appends `r`, joining it to the last range when they touch.
    static func append(_ r: Range<UInt64>, to ranges: inout [Range<UInt64>]) {
        if let last = ranges.last, last.upperBound == r.lowerBound {
            ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
        } else {
            ranges.append(r)
        }
    }

    /// At most `limit` ranges covering all of `ranges` (ascending, disjoint): the smallest
    /// gaps are closed first.
    static func coalesce(_ ranges: [Range<UInt64>], atMost limit: Int) -> [Range<UInt64>] {
        guard ranges.count > limit, limit > 0 else { return ranges }
        // Gap i lies between ranges i and i + 1; keep the (limit - 1) largest open.
        let gaps = (0..<(ranges.count - 1)).sorted {
            let a = ranges[$0 + 1].lowerBound - ranges[$0].upperBound
            let b = ranges[$1 + 1].lowerBound - ranges[$1].upperBound
            return a != b ? a > b : $0 < $1
        }
        let open = Set(gaps.prefix(limit - 1))
        var out: [Range<UInt64>] = []
        var start = ranges[0].lowerBound
        for i in 0..<ranges.count {
            if i == ranges.count - 1 || open.contains(i) {
                out.append(start..<ranges[i].upperBound)
                if i + 1 < ranges.count { start = ranges[i + 1].lowerBound }
            }
        }
        return out
    }
}

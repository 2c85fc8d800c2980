#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptSystem
import SystemPackage

/// The PAGEMAP_SCAN ioctl of /proc/PID/pagemap (Linux 6.7; soft-dirty among its categories
/// since 6.8): the kernel walks the page tables and returns the address ranges whose pages
/// are in a category, where a read of pagemap returns 8 bytes for every page for the reader
/// to sift. For `--pre-copy`'s scan of a stopped process that is the difference between
/// 0.3 and 8-15 ms for a 256 MiB python3 in the 6.12 guest (docs/benchmarks.md, session
/// 41), time the process spends stopped. CRIU asks the same ioctl where the kernel has it.
enum PagemapScan {
    static let present = UInt64(CKPT_PAGE_IS_PRESENT)
    static let softDirty = UInt64(CKPT_PAGE_IS_SOFT_DIRTY)

    /// The ranges of `range` whose pages are all in `category`, page aligned, ascending,
    /// disjoint, touching ones joined; nil when this kernel has no PAGEMAP_SCAN (ENOTTY,
    /// before 6.7), does not report `category` (EINVAL: soft-dirty before 6.8) or refuses
    /// the range (EFAULT: it checks `range` as user addresses, a rule the pagemap read does
    /// not have), so the caller reads pagemap instead. Not a trap as the syscall layer's
    /// EFAULT is: the caller holds a stopped process it must resume. `batch` ranges are
    /// asked for per call; the walk goes on from where a full batch stopped it.
    static func regions(fd: Int32, in range: Range<UInt64>, category: UInt64,
                        batch: Int = 1024) throws(Errno) -> [Range<UInt64>]? {
        precondition(batch > 0)
        var out: [Range<UInt64>] = []
        var regions = [ckpt_page_region](repeating: ckpt_page_region(), count: batch)
        var start = range.lowerBound
        while start < range.upperBound {
            var walkEnd: UInt64 = 0
            let n = regions.withUnsafeMutableBufferPointer { buf in
                ckpt_pagemap_scan(fd, start, range.upperBound, category, buf.baseAddress, UInt64(buf.count), &walkEnd)
            }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == ENOTTY || e == EINVAL || e == EFAULT { return nil }
                throw Syscall.failure("ioctl(PAGEMAP_SCAN)", e)
            }
            for r in regions[0..<n] { SoftDirtyScan.append(r.start..<r.end, to: &out) }
            // The kernel moves on or ends; should it not, the caller's pagemap read is the
            // answer rather than a loop or a partial one (a missed range is a stale page).
            guard walkEnd > start else { return nil }
            start = walkEnd
        }
        return out
    }
}

import CCkptUAPI

/// How big and how nested a synthetic stream is. Every count is exact: the generator makes
/// that many records (pages are split into runs of 1 ... `CKPT_PAGES_RUN_MAX` pages over the
/// writable mappings), so a test can size a stream precisely.
public struct StreamShape: Equatable, Sendable {
    /// Threads of the task: one regs record each (216 bytes of data on x86_64).
    public var threads: Int = 2
    /// Mappings: one vma record each; about half are file-backed and carry a path.
    public var vmas: Int = 6
    /// Present pages over all writable mappings, in runs (4096 bytes each).
    public var pages: Int = 32
    /// Open file descriptors: one file record each.
    public var files: Int = 3
    /// Data bytes per record fragment, 1 ... `CKPT_DATA_MAX` (the kernel fills up to the max).
    public var fragmentSize: Int = Int(CKPT_DATA_MAX)
    /// Each fragment with data carries its CRC-32C (`CKPT_A_DATA_CHECKSUM`), as the kernel
    /// module's do; off, fragments carry none, as older modules' did.
    public var dataChecksums = false

    public init() {}

    public init(threads: Int, vmas: Int, pages: Int, files: Int, fragmentSize: Int = Int(CKPT_DATA_MAX)) {
        self.threads = threads
        self.vmas = vmas
        self.pages = pages
        self.files = files
        self.fragmentSize = fragmentSize
    }

    /// Why the shape cannot be generated, or nil. (Pages need a mapping to live in.)
    public var problem: String? {
        if threads < 1 { return "a task has at least one thread" }
        if vmas < 0 || pages < 0 || files < 0 { return "counts cannot be negative" }
        if pages > 0 && vmas == 0 { return "pages need at least one vma" }
        if fragmentSize < 1 || fragmentSize > Int(CKPT_DATA_MAX) { return "fragment size must be 1 ... \(CKPT_DATA_MAX)" }
        if threads > 4096 || vmas > 65536 || files > 65536 || pages > 4 << 20 { return "shape too large for a synthetic stream" }
        return nil
    }
}

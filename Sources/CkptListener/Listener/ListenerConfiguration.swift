import CkptJSON
/// Everything `ckpt listen` can be told (see docs/listener.md for the flags).
public struct ListenerConfiguration: Sendable {
    /// Where images go.
    public var directory: String
    /// Receive buffers in the pool, and their size. Default 64 x (64 KiB + 4 KiB): a
    /// maximal message (64 KiB of data + headers) never truncates, 4.3 MiB in all.
    public var poolBuffers = 64
    public var bufferSize = 64 * 1024 + 4096
    /// Datagrams per `recvmmsg` (at most `poolBuffers`): the receive loop holds this many
    /// pool buffers to receive into. 1 is one `recvmsg` at a time.
    public var receiveBatch = 32
    /// Free buffers needed before a stalled reader resumes (nil: a quarter of the pool).
    public var resumeAt: Int? = nil
    /// SO_RCVBUF(FORCE) of the socket: how much the kernel queues while the listener is busy
    /// or stalled. With backpressure it buys smoothness, not correctness.
    public var socketReceiveBuffer = 4 * 1024 * 1024
    /// Who writes the image files: a writer thread, or the receive thread between batches
    /// (`ImageSink.Writer`).
    public var writer: ImageSink.Writer = .inline
    /// Space kept allocated in `directory` for the next image (`SpaceReserve`).
    public var reserve: ReservePolicy = .auto
    public var maxStreams = 256
    /// A stream with no message for this long is failed as abandoned. Time spent stalled
    /// on the pool does not count (the silence is then the listener's own doing).
    public var streamTimeoutNs: UInt64 = 60_000_000_000
    /// Exit after this long with no stream in flight and no message (nil: never).
    public var idleTimeoutNs: UInt64? = nil
    /// Exit after this many streams settled (completed or failed) (nil: never).
    public var exitAfter: Int? = nil
    /// The stats file is rewritten this often (and at exit).
    public var statsIntervalNs: UInt64 = 1_000_000_000
    /// Print the one-line status to stderr (the CLI turns it on when stderr is a TTY).
    public var statusLine = false
    /// Hooks for an uploader (`ckpt listen --store`, CkptStore's `ImageUploader`): told of
    /// every image published into `directory` (name, bytes), after its rename and directory
    /// fsync; asked before each read whether the spool is full, given the bytes of streams
    /// written but not yet settled (while it is, the listener does not read and its senders
    /// wait, as when the pool is empty; the space reserve's bytes are counted with them);
    /// asked, before the space reserve is made, how many bytes the spool has room for (the
    /// reserve stays below that, so the spool can always drain below its limit); and asked
    /// for its counters, which go into the stats file (`"store"`) and the status line.
    public var publishedImage: (@Sendable (_ name: String, _ bytes: UInt64) -> Void)? = nil
    public var spoolFull: (@Sendable (_ unsettledBytes: UInt64) -> Bool)? = nil
    public var spoolRoom: (@Sendable () -> UInt64?)? = nil
    public var storeStats: (@Sendable () -> (json: JSON, status: String))? = nil

    public init(directory: String) {
        self.directory = directory
    }

    /// The stats file's name inside `directory`.
    public static let statsFileName = ".ckpt-listen.stats"
}

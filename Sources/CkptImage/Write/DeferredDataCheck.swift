import CkptProtocol
import SystemPackage

/// `ImageWriter(dataChecksums: .sender)`'s check of the data it wrote on its sender's word, left
/// to run after the image is published (`ckpt listen --data-check after-publish`): each
/// record's data read back from the file and its CRC-32C compared with the one the writer
/// put in the record's footer, which stands on the sender's fragment checksums.
///
/// Most of it is done by then: a `TrailingDataCheck` thread read each record back behind
/// the writer while the stream arrived, on CPU time the stream left idle. `run` reads what
/// that thread has not reached, beside it, and compares; it never waits for the thread.
/// Measured under qemu TCG, the thread reading behind the writer also shortened the 256 MiB
/// checkpoint's freeze (docs/benchmarks.md, "Checked after publication").
///
/// It reads through a descriptor of its own (a `dup`), so the image may be closed, renamed
/// or removed meanwhile; it checks the bytes of the file as they are when read.
///
/// `@unchecked Sendable`, sound because it is used by one thread at a time: made by the
/// writer's thread at `finish`, handed to another through a queue (a lock: happens-before),
/// and only there `run` (its one mutating call) is called, once.
public final class DeferredDataCheck: @unchecked Sendable {
    /// One record with data: where its data lies and the CRC-32C its footer holds for it.
    struct Expected {
        var id: UInt32
        var offset: UInt64
        var length: UInt64
        var crc: UInt32
    }

    public let path: String
    private let fd: FileDescriptor
    private let records: [Expected]
    private var trailing: TrailingDataCheck?
    private var done = false

    /// The records in the order they were handed to `trailing` (all of them, when it is nil).
    init(fd: FileDescriptor, path: String, records: [Expected], trailing: TrailingDataCheck?) {
        self.fd = fd
        self.path = path
        self.records = records
        self.trailing = trailing
    }

    deinit {
        trailing?.cancel()
        try? fd.close()
    }

    /// Data bytes in the records checked.
    public var dataBytes: UInt64 { records.reduce(0) { $0 + $1.length } }

    /// Reads what is left and compares every record. Throws `.checksumMismatch` naming the
    /// first record whose data differs, `.io` when the file cannot be read. Call once.
    public func run() throws(ImageError) {
        precondition(!done, "DeferredDataCheck.run called twice")
        done = true
        var found: [UInt32]
        if let trailing {
            self.trailing = nil
            found = try trailing.finish(fd).spans.map(\.value)
        } else {
            found = []
            found.reserveCapacity(records.count)
            for r in records {
                found.append(try FileRangeChecksum.crc32c(fd, offset: r.offset, length: r.length, path: path))
            }
        }
        for (r, crc) in zip(records, found) where crc != r.crc {
            throw .checksumMismatch(path: path, offset: r.offset, recordID: r.id, structure: "record \(r.id)'s data",
                                    stored: r.crc, computed: crc)
        }
    }
}

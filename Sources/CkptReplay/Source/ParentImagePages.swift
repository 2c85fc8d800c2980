import CkptImage
import CkptProtocol

/// The pages of a pre-copy image, read in address order as the parent-pages records of the
/// checkpoint taken after it ask for them (`ImageFragments.walk(parent:)`).
///
/// Both images list a process's pages in the same order, ascending by address (the kernel
/// walks the vmas upwards and each vma's pages upwards), so one forward walk of the
/// pre-copy serves every request: a request starts at or after the previous one's end.
/// Each pre-copy record is read once and checked as the walk moves past it
/// (`ImageRecordIterator`), exactly as the image's own records are; bytes the requests skip
/// (pages written since the pre-copy, which the checkpoint holds itself) are checksummed
/// and dropped. A local pre-copy is mapped: its bytes are views, never copied here.
///
/// A pre-copy of a module since session 46 leaves out the pages of zeros of its anonymous
/// private mappings, as every checkpoint does (kernel-patch/net/ckpt/checkpoint.c
/// `ckpt_emit_data`): a page the checkpoint leaves to its parent that the parent does not
/// hold, inside such a mapping of the parent, is zero (`Held.zeros`), which the fresh
/// mapping of a restore already reads. Anywhere else it is missing.
final class ParentImagePages {
    /// Where the pre-copy's next bytes at an address are, up to `end`.
    enum Held: Equatable {
        /// In a pages record of the pre-copy: `read` returns them.
        case data(end: UInt64)
        /// Left out by the pre-copy as pages of zeros: nothing to write.
        case zeros(end: UInt64)
    }

    let reader: ImageReader
    private var records: ImageRecordIterator
    /// The open pages record: its address range and the address of its next unread byte.
    private var current: (start: UInt64, end: UInt64, next: UInt64)?
    /// The pre-copy's anonymous private mappings walked past so far (`VMAMeta.isAnonymousPrivate`).
    private var anonymous: [(start: UInt64, end: UInt64)] = []
    /// The walk reached the pre-copy's last record.
    private var exhausted = false
    /// The address the last `seek` asked for: requests ascend.
    private var asked: UInt64 = 0
    private let scratch: UnsafeMutableRawBufferPointer

    init(reader: ImageReader, scratchSize: Int = 64 * 1024) {
        self.reader = reader
        records = reader.records()
        scratch = .allocate(byteCount: scratchSize, alignment: 8)
    }

    deinit { scratch.deallocate() }

    /// Makes `address` the next byte `read` returns and gives the end address of the pre-copy
    /// record holding it (reads up to there are contiguous); or, where the pre-copy left out
    /// pages of zeros, the end of that gap. Throws when the pre-copy does not hold it and
    /// did not leave it out: a checkpoint and a pre-copy that do not belong together, or a
    /// request behind an earlier one.
    func seek(_ address: UInt64, recordID: UInt32) throws(ReplayError) -> Held {
        guard address >= asked else { throw missing(address, recordID) }
        asked = address
        while current == nil || current!.end <= address {
            current = nil
            if exhausted { break }
            let next: (entry: ImageIndexEntry, meta: UnsafeRawBufferPointer)?
            do throws(ImageError) { next = try records.next() } catch { throw .image(error) }
            guard let (entry, meta) = next else {
                exhausted = true
                break
            }
            guard entry.type == .pages || entry.type == .vma else { continue }
            let decoded: RecordMeta
            do throws(ProtocolError) { decoded = try RecordMeta(type: entry.type, payload: meta) } catch {
                throw .meta(recordID: entry.id, error)
            }
            switch decoded {
            case let .pages(p): current = (p.addr, p.addr + entry.dataLength, p.addr)
            case let .vma(v) where v.isAnonymousPrivate: anonymous.append((v.start, v.end))
            default: break
            }
        }
        guard var c = current, c.start <= address else {
            // Between the pre-copy's pages records: zeros only inside an anonymous mapping.
            guard let m = anonymous.last(where: { $0.start <= address && address < $0.end }) else {
                throw missing(address, recordID)
            }
            return .zeros(end: min(m.end, current?.start ?? m.end))
        }
        guard c.next <= address else { throw missing(address, recordID) }
        while c.next < address {
            let want = Int(min(UInt64(scratch.count), address - c.next))
            let n = try take(want, into: scratch).count
            guard n > 0 else { throw missing(address, recordID) }
            c.next += UInt64(n)
        }
        current = c
        return .data(end: c.end)
    }

    /// The bytes from the position `seek` set (at most `buffer.count`, up to the record's
    /// end) and their CRC-32C: a view of the mapped pre-copy, or read into `buffer` when it
    /// cannot be mapped. Empty at the record's end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ReplayError) -> (data: UnsafeRawBufferPointer, crc: UInt32) {
        guard var c = current else { return (UnsafeRawBufferPointer(start: nil, count: 0), 0) }
        let want = Int(min(UInt64(buffer.count), c.end - c.next))
        let data = try take(want, into: buffer)
        c.next += UInt64(data.count)
        current = c
        return (data, records.lastDataCRC)
    }

    /// Walks the rest of the pre-copy, so that the records read last are checked too.
    func finish() throws(ReplayError) {
        do throws(ImageError) { while try records.next() != nil {} } catch { throw .image(error) }
        current = nil
    }

    /// The open record's next `want` bytes at most (`want <= buffer.count`): a view of the
    /// mapping, else read into `buffer`.
    private func take(_ want: Int, into buffer: UnsafeMutableRawBufferPointer) throws(ReplayError) -> UnsafeRawBufferPointer {
        do throws(ImageError) {
            return try records.nextData(orInto: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        } catch { throw .image(error) }
    }

    private func missing(_ address: UInt64, _ recordID: UInt32) -> ReplayError {
        .parentMissing(recordID: recordID, address: address, parentPath: reader.path)
    }
}

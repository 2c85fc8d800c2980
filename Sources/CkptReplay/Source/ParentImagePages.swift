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
final class ParentImagePages {
    let reader: ImageReader
    private var records: ImageRecordIterator
    /// The open pages record: its address range and the address of its next unread byte.
    private var current: (start: UInt64, end: UInt64, next: UInt64)?
    private let scratch: UnsafeMutableRawBufferPointer

    init(reader: ImageReader, scratchSize: Int = 64 * 1024) {
        self.reader = reader
        records = reader.records()
        scratch = .allocate(byteCount: scratchSize, alignment: 8)
    }

    deinit { scratch.deallocate() }

    /// Makes `address` the next byte `read` returns and gives the end address of the pre-copy
    /// record holding it (reads up to there are contiguous). Throws when the pre-copy does
    /// not hold it: a checkpoint and a pre-copy that do not belong together, or a request
    /// behind an earlier one.
    func seek(_ address: UInt64, recordID: UInt32) throws(ReplayError) -> UInt64 {
        while current == nil || current!.end <= address {
            let next: (entry: ImageIndexEntry, meta: UnsafeRawBufferPointer)?
            do throws(ImageError) { next = try records.next() } catch { throw .image(error) }
            guard let (entry, meta) = next else { throw missing(address, recordID) }
            guard entry.type == .pages else { continue }
            let decoded: RecordMeta
            do throws(ProtocolError) { decoded = try RecordMeta(type: .pages, payload: meta) } catch {
                throw .meta(recordID: entry.id, error)
            }
            guard case let .pages(p) = decoded else { continue }
            current = (p.addr, p.addr + entry.dataLength, p.addr)
        }
        guard var c = current, c.start <= address, c.next <= address else { throw missing(address, recordID) }
        while c.next < address {
            let want = Int(min(UInt64(scratch.count), address - c.next))
            let n = try take(want, into: scratch).count
            guard n > 0 else { throw missing(address, recordID) }
            c.next += UInt64(n)
        }
        current = c
        return c.end
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

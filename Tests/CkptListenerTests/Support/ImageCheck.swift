import CkptImage
import CkptProtocol
import XCTest

/// Reads the image at `path` back with CkptImage's reader and recomputes its stream summary
/// from every record's meta and data: it must equal what the sender sent, byte for byte
/// (same record count, bytes and CRC-32C), and the header must name the stream.
func assertImage(_ path: String, matches stream: EncodedStream, file: StaticString = #filePath, line: UInt = #line) {
    do {
        let reader = try ImageReader(path: path)
        XCTAssertEqual(reader.header.crid, stream.crid, file: file, line: line)
        XCTAssertEqual(reader.summary, stream.summary, file: file, line: line)
        var builder = StreamSummaryBuilder()
        var records = reader.records()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        while let (_, meta) = try records.next() {
            builder.beginRecord(meta: meta)
            while true {
                let n = try records.readData(into: buffer)
                if n == 0 { break }
                builder.data(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
        }
        XCTAssertEqual(builder.summary, stream.summary, "content read back differs", file: file, line: line)
    } catch {
        XCTFail("\(path): \(error)", file: file, line: line)
    }
}

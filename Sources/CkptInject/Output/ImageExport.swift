#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import SystemPackage

/// Writes a synthetic stream's finished image with CkptImage's `ImageWriter`, record by
/// record and fragment by fragment as the listener would: what a capture of the clean
/// stream must look like (the file header's capture time and host aside).
public enum ImageExport {
    public static func write(_ stream: SyntheticStream, to path: String, host: String = "ckpt-inject",
                             captureStartNs: UInt64 = 0) throws(InjectError) {
        let raw = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard raw >= 0 else { throw .io("create \(path): \(String(cString: strerror(errno))) (never overwritten)") }
        defer { close(raw) }
        do {
            let w = try ImageWriter(fd: FileDescriptor(rawValue: raw),
                                    header: ImageHeader(crid: stream.crid, pid: stream.pid, captureStartNs: captureStartNs, host: host),
                                    path: path)
            let step = stream.shape.fragmentSize
            for r in stream.records {
                try r.meta.withUnsafeBytes { m in
                    try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: m, dataLength: UInt64(r.data.count))
                }
                try r.data.withUnsafeBytes { d in
                    var at = 0
                    while at < d.count {
                        let n = min(step, d.count - at)
                        try w.appendData(UnsafeRawBufferPointer(rebasing: d[at..<(at + n)]))
                        at += n
                    }
                }
                try w.endRecord()
            }
            try w.finish(summary: stream.summary)
        } catch {
            unlink(path)
            throw .io("\(error)")
        }
        if fsync(raw) != 0 { throw .io("fsync \(path): \(String(cString: strerror(errno)))") }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A recorded stream on disk, so a failing case can be kept as a regression fixture and
/// sent again byte for byte (`ckpt inject --out FILE`, then `ckpt inject --from FILE`).
///
/// ```
///  | "CKPTDGM1" (8) | len u32 LE | datagram (len bytes) | len u32 LE | datagram | ...
/// ```
/// Datagrams are stored exactly as sent (faults included), in send order.
public enum DatagramFile {
    public static let magic: [UInt8] = Array("CKPTDGM1".utf8)

    public static func encode(_ datagrams: [[UInt8]]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(datagrams.reduce(8) { $0 + 4 + $1.count })
        for d in datagrams {
            let n = UInt32(d.count)
            out += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
            out += d
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(InjectError) -> [[UInt8]] {
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            throw .badDatagramFile("does not start with CKPTDGM1")
        }
        var out: [[UInt8]] = []
        var at = 8
        while at < bytes.count {
            guard at + 4 <= bytes.count else { throw .badDatagramFile("length cut short at byte \(at)") }
            let n = Int(bytes.u32(at: at))
            at += 4
            guard n <= bytes.count - at else { throw .badDatagramFile("datagram \(out.count) of \(n) bytes runs past the end at byte \(at)") }
            out.append(Array(bytes[at..<(at + n)]))
            at += n
        }
        return out
    }

    public static func write(_ datagrams: [[UInt8]], to path: String) throws(InjectError) {
        try writeFile(encode(datagrams), to: path)
    }

    public static func read(from path: String) throws(InjectError) -> [[UInt8]] {
        try decode(readFile(path))
    }
}

func writeFile(_ bytes: [UInt8], to path: String) throws(InjectError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io("open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw .io("write \(path): \(String(cString: strerror(errno)))")
        }
        done += n
    }
}

func readFile(_ path: String) throws(InjectError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io("open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw .io("read \(path): \(String(cString: strerror(errno)))")
        }
        if n == 0 { return out }
        out += chunk[0..<n]
    }
}

/// The data of a unix record: the socket's queued messages, oldest first, each a
/// little-endian u32 length and that many bytes (the UAPI header's unix record).
public enum UnixMessages {
    /// The messages of `data`, or nil when the framing is broken (a length running past
    /// the end). A zero length is an empty datagram, which is a message too.
    public static func split(_ data: [UInt8]) -> [ArraySlice<UInt8>]? {
        var out: [ArraySlice<UInt8>] = []
        var i = 0
        while i < data.count {
            guard data.count - i >= 4 else { return nil }
            let n = Int(data[i]) | Int(data[i + 1]) << 8 | Int(data[i + 2]) << 16 | Int(data[i + 3]) << 24
            i += 4
            guard n <= data.count - i else { return nil }
            out.append(data[i..<(i + n)])
            i += n
        }
        return out
    }

    /// `messages` framed as a unix record's data (for tests and the injector).
    public static func join(_ messages: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for m in messages {
            let n = UInt32(m.count)
            out += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
            out += m
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// This process's capability sets, as /proc/self/status prints them.
enum OwnCapabilities {
    /// The set on the line `name` ("CapEff", "CapAmb", ...) as a bit mask, bit n for
    /// capability n; nil when the file or the line cannot be read.
    static func set(_ name: String) -> UInt64? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if s.hasPrefix(name + ":") {
                let hex = s.dropFirst(name.count + 1).drop(while: { $0 == " " || $0 == "\t" }).prefix { $0.isHexDigit }
                return UInt64(hex, radix: 16)
            }
        }
        return nil
    }
}

import CkptImage
import CkptInject
import CkptProtocol
import Foundation
import CkptTestSupport
import XCTest

/// What a capture of `stream` at `path` must be: an image that verifies end to end whose
/// header names the stream and whose records are the stream's, byte for byte (type, id,
/// parent, meta, data), in order. Returns a description of the first difference, or nil.
func captureDifference(_ path: String, _ stream: SyntheticStream) -> String? {
    do {
        _ = try verifyImage(path: path)
        let reader = try ImageReader(path: path)
        if reader.header.crid != stream.crid { return "header crid \(reader.header.crid) != \(stream.crid)" }
        if reader.header.pid != stream.pid { return "header pid \(reader.header.pid) != \(stream.pid)" }
        if reader.summary != stream.summary { return "summary \(reader.summary) != \(stream.summary)" }
        var it = reader.records()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        var i = 0
        while let (entry, meta) = try it.next() {
            guard i < stream.records.count else { return "more records than sent (\(i + 1))" }
            let r = stream.records[i]
            if entry.type != r.type || entry.id != r.id || entry.parent != r.parent {
                return "record \(i): \(entry.type) \(entry.id) under \(entry.parent), sent \(r.type) \(r.id) under \(r.parent)"
            }
            if Array(meta) != r.meta { return "record \(i) (id \(r.id)): meta differs" }
            var data: [UInt8] = []
            while true {
                let n = try it.readData(into: buffer)
                if n == 0 { break }
                data += buffer[0..<n]
            }
            if data != r.data { return "record \(i) (id \(r.id)): data differs (\(data.count) vs \(r.data.count) bytes)" }
            i += 1
        }
        if i != stream.records.count { return "\(i) records, sent \(stream.records.count)" }
        return nil
    } catch {
        return "\(error)"
    }
}

/// The reason file's text says this rule (the `FailureRule.description` prefixes).
let ruleText: [String: String] = [
    "sequence-gap": "sequence: gap",
    "duplicate-begin": "begin: a second begin",
    "malformed": "decode: ",
    "summary-mismatch": "end: sender counted",
    "nesting": "nesting: ",
    "aborted": "aborted by the sender",
    "abandoned": "abandoned: ",
    "io": "io: ",
    "leftover": "listener crashed or was killed mid-capture",
]

/// Checks how the listener settled `prepared` in `directory` against its expectation.
/// Returns problems (empty when all is as expected).
func checkSettled(_ prepared: PreparedStream, in directory: String) -> [String] {
    let crid = prepared.stream.crid
    let e = prepared.expectation
    let name = "crid \(crid) [\(prepared.faults.map { "\($0.kind.rawValue)@\($0.seq)" }.joined(separator: ","))]"
    let ckpt = directory + "/\(crid).ckpt"
    let failed = directory + "/\(crid).failed"
    let fm = FileManager.default
    var problems: [String] = []
    if e.isComplete {
        if fm.fileExists(atPath: failed) { problems.append("\(name): expected complete, failed: \(ListenerProcess.read(failed + ".reason"))") }
        if let d = captureDifference(ckpt, prepared.stream) { problems.append("\(name): capture: \(d)") }
    } else {
        if fm.fileExists(atPath: ckpt) { problems.append("\(name): expected \(e.rule!), but a .ckpt was published") }
        let reason = ListenerProcess.read(failed + ".reason")
        var head = "crid \(crid)"
        if let seq = e.seq { head += " seq \(seq)" }
        if !reason.hasPrefix(head + " ") && !reason.hasPrefix(head + ":") {
            problems.append("\(name): reason should start with '\(head)': \(reason)")
        }
        if let text = ruleText[e.rule!], !reason.contains(text) {
            problems.append("\(name): reason should say \(e.rule!) ('\(text)'): \(reason)")
        }
        // A failed capture never looks complete.
        if fm.fileExists(atPath: failed), (try? verifyImage(path: failed)) != nil {
            problems.append("\(name): the .failed file verifies as a complete image")
        }
    }
    return problems
}

/// True once the listener has settled the stream (either file is there).
func isSettled(_ prepared: PreparedStream, in directory: String) -> Bool {
    let crid = prepared.stream.crid
    return prepared.expectation.isComplete
        ? FileManager.default.fileExists(atPath: directory + "/\(crid).ckpt") || FileManager.default.fileExists(atPath: directory + "/\(crid).failed.reason")
        : FileManager.default.fileExists(atPath: directory + "/\(crid).failed.reason") || FileManager.default.fileExists(atPath: directory + "/\(crid).ckpt")
}

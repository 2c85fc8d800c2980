#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

func makeTemporaryDirectory(_ tag: String = "inject") throws -> String {
    let path = NSTemporaryDirectory() + "/ckpt-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Polls `condition` every 20 ms until it holds; fails (throws) after `timeout` seconds.
func waitFor(_ what: @autoclosure () -> String = "condition", timeout: Double = 20,
             _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    if try condition() { return }
    XCTFail("timed out after \(timeout) s waiting for \(what())")
    throw POSIXError(.ETIMEDOUT)
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held. No failure.
func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

func files(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ what: String) { description = what }
}

import Foundation

/// Values added from any thread, in the order added.
///
/// `@unchecked Sendable`, sound because `all` is read and written only with `lock` held.
final class Recorded<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [Element] = []
    func add(_ value: Element) {
        lock.lock()
        defer { lock.unlock() }
        all.append(value)
    }
    var values: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return all
    }
}

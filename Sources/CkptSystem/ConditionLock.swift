#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex with one condition variable: what the listener's pool and writer queue and
/// the store's uploader wait on.
///
/// The state machines it guards are pure; callers compute an action under the lock and act
/// on it (signal, write, log) after unlocking, as swift-nio's backpressure strategies do.
///
/// `@unchecked Sendable`, sound because its only state is the pthread mutex and condition
/// variable, which are made for use from any thread, allocated once and never moved.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        // Deadlines are computed on the monotonic clock, so a wall-clock step never
        // stretches or cuts a wait.
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always) public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits (lock held) until signalled or until the monotonic `deadlineNs`.
    public func wait(untilNs deadlineNs: UInt64) {
        var ts = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        _ = pthread_cond_timedwait(cond, mutex, &ts)
    }

    /// Waits (lock held) until signalled.
    public func wait() { pthread_cond_wait(cond, mutex) }

    public func broadcast() { pthread_cond_broadcast(cond) }
    public func signal() { pthread_cond_signal(cond) }
}

/// Starts a joinable pthread running `body` (Foundation's Thread cannot be joined).
public final class JoinableThread {
    private var thread: pthread_t = 0

    /// `body` is `@Sendable`: whatever it captures is shared with the new thread, so the
    /// compiler checks it.
    public init(_ body: @escaping @Sendable () -> Void) {
        let rc = createThread(&thread, nil, body)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    public func join() { pthread_join(thread, nil) }
}

/// Starts a detached pthread running `body` (its resources are freed when it ends). Returns
/// false, and `body` never runs, when the system gives no thread (`EAGAIN`: a thread or
/// memory limit): for helpers the caller can do without, where `JoinableThread` would stop
/// the process.
public func startDetachedThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    defer { pthread_attr_destroy(&attr) }
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    var thread: pthread_t = 0
    return createThread(&thread, &attr, body) == 0
}

/// `pthread_create` running `body`, which the new thread owns (released if none starts).
private func createThread(_ thread: inout pthread_t, _ attr: UnsafePointer<pthread_attr_t>?,
                          _ body: @escaping @Sendable () -> Void) -> Int32 {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    let box = Unmanaged.passRetained(Box(body))
    let rc = pthread_create(&thread, attr, { arg in
        let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
        box.body()
        return nil
    }, box.toOpaque())
    if rc != 0 { box.release() }
    return rc
}

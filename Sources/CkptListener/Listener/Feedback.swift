import Synchronization

/// What the writer thread tells the receive thread: sessions it failed, and the
/// settled-stream counters, in a `Mutex` (Sendable as the compiler checks it).
final class Feedback: Sendable {
    private struct State {
        var writerFailures: [UInt64] = []
        var counters = SettledCounters()
    }
    private let state = Mutex(State())

    func writerFailed(_ session: UInt64) {
        state.withLock { $0.writerFailures.append(session) }
    }

    func settled(_ stream: SettledStream) {
        state.withLock { $0.counters.note(stream) }
    }

    /// A published image failed its check after publication.
    func corrupt() {
        state.withLock { $0.counters.corrupt += 1 }
    }

    /// The writer failures since the last call, and the counters so far.
    func drain() -> (writerFailures: [UInt64], counters: SettledCounters) {
        state.withLock { state in
            defer { state.writerFailures.removeAll() }
            return (state.writerFailures, state.counters)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptTransport

extension CheckpointRun {
    /// `--tree --stop --hold`: each running process's stream requested before the tree is
    /// stopped, with the kernel's await-go flag. The kernel allocates the pages each hold
    /// copies into while the tree still runs (checkpoint-reserved), so that allocation is
    /// not part of the freeze, and reads a process only at this command's go, which
    /// `runTree` gives once the whole tree is stopped (a process read while another still
    /// ran could disagree with it about what they share). Returns pid -> its admitted
    /// stream, every reserve made. Processes it could not request ahead (the module's
    /// stream limits, EAGAIN) are requested after the stop as before; a module without
    /// await-go (EINVAL for the first request: the flag bit is unknown to it) gets them all
    /// that way. A process that exited meanwhile is left out. Says how many pages were
    /// reserved for how many processes (`tree of N processes reserved-pages P`), when any
    /// was requested ahead.
    func reserveAhead(_ client: GenlClient, _ tree: ProcessTree) throws -> [Int32: GenlClient.AdmittedCheckpoint] {
        let flags = UInt32(CKPT_CHECKPOINT_FLAGS_HOLD.rawValue | CKPT_CHECKPOINT_FLAGS_AWAIT_GO.rawValue)
        var ahead: [Int32: GenlClient.AdmittedCheckpoint] = [:]
        var order: [Int32] = []
        requests: for p in tree.pids where ProcessTree.state(p) != "Z" {
            do throws(TransportError) {
                ahead[p] = try client.beginCheckpoint(pid: UInt32(p), flags: flags, timeoutMs: timeoutMs ?? 0)
                order.append(p)
            } catch {
                switch error.errno {
                case .invalidArgument? where ahead.isEmpty: return [:]
                case .resourceTemporarilyUnavailable?: break requests
                case .noSuchProcess?: continue requests
                default: throw checkpointFailure(error, pid: p)
                }
            }
        }
        var pages: UInt64 = 0
        for p in order {
            let started = ahead[p]!
            let reserved: UInt64?
            do throws(TransportError) { reserved = try client.awaitCheckpointReserved(started) } catch {
                throw checkpointFailure(error, pid: p)
            }
            pages += reserved ?? 0
            // Ended before its reserve (its process exited): its done is taken at its turn.
            if reserved == nil, kill(p, 0) == 0 { _ = try finish(client, started, pid: p) }
        }
        if !order.isEmpty { emit("tree of \(order.count) processes reserved-pages \(pages)") }
        return ahead
    }

    /// The go of a stream `reserveAhead` requested: its process (with the rest of the tree)
    /// is stopped now.
    func go(_ client: GenlClient, _ started: GenlClient.AdmittedCheckpoint, pid: Int32) throws {
        do throws(TransportError) { try client.checkpointGo(started) } catch {
            throw checkpointFailure(error, pid: pid)
        }
    }
}

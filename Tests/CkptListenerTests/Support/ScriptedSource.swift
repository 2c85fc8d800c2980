#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
@testable import CkptListener

/// A `DatagramSource` that plays a script: datagrams (possibly longer than the pool buffer) and ENOBUFS overruns, which no userspace sender can cause on a
/// real socket (a user sender blocks; only kernel senders drop).
final class ScriptedSource: DatagramSource {
    enum Step {
        case datagram([UInt8])
        case overrun
    }

    let fileDescriptor: Int32
    private let writeEnd: Int32
    private var steps: [Step]
    var messageType: UInt16 { UInt16(CKPT_USERSOCK_TYPE) }
    var description: String { "scripted" }

    init(_ steps: [Step]) {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        fileDescriptor = fds[0]
        writeEnd = fds[1]
        var byte: UInt8 = 1
        write(writeEnd, &byte, 1)  // always readable: poll never waits, receive decides
        self.steps = steps.reversed()
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> ReceiveOutcome {
        guard let step = steps.popLast() else {
            usleep(1000)
            return .wouldBlock
        }
        switch step {
        case .overrun:
            return .overrun
        case let .datagram(bytes):
            let n = min(bytes.count, buffer.count)
            buffer.copyBytes(from: bytes[0..<n])
            return .datagram(count: n, truncated: bytes.count > buffer.count)
        }
    }

    func shutdown() {
        close(fileDescriptor)
        close(writeEnd)
    }
}

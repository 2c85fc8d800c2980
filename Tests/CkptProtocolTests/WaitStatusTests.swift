import Testing
@testable import CkptProtocol

/// A zombie's wait status read as <sys/wait.h> reads it.
@Suite struct WaitStatusTests {
    @Test func exitsAndSignals() {
        let exited = WaitStatus(5 << 8)
        #expect(exited.signal == nil && exited.exitCode == 5 && !exited.coreDumped && exited.isExit)
        #expect(exited.description == "exited with 5")
        #expect(WaitStatus(0).description == "exited with 0" && WaitStatus(0).isExit)
        let killed = WaitStatus(15)
        #expect(killed.signal == 15 && !killed.coreDumped && killed.isExit && killed.description == "killed by signal 15")
        let cored = WaitStatus(0x80 | 11)
        #expect(cored.signal == 11 && cored.coreDumped && cored.isExit && cored.description == "killed by signal 11, core dumped")
    }

    /// What no exit leaves: a stop (0x7f), a signal with an exit code beside it, bits above 15.
    @Test func whatNoExitLeaves() {
        #expect(!WaitStatus(0x137f).isExit)
        #expect(!WaitStatus(0x050f).isExit)
        #expect(!WaitStatus(1 << 16).isExit)
        #expect(!WaitStatus(65).isExit)
    }
}

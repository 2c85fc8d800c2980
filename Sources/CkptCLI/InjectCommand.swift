import CkptJSON
import ArgumentParser
import CkptInject
import CkptProtocol

/// `ckpt inject`: synthetic checkpoint streams, clean or with faults, sent to a listener's
/// NETLINK_USERSOCK port (or written to a file). The test harness's product face; see
/// docs/testing.md.
public struct InjectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inject",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Send synthetic checkpoint streams, clean or with faults, to a usersock listener.",
        discussion: """
            Generates realistic streams (header, task, regs per thread, mm, vmas, page runs, files, trailer; correct meta, fragments and checksums) from --seed: the same seed and shape give the same bytes. The streams are interleaved and sent to PORT (`ckpt listen --usersock` prints it) with blocking sends, so a slow listener slows the injector and nothing is lost.

            Faults (--fault, comma-separated to mix them in one stream): \(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")). --fault-at SEQ aims the first fault at that stream message. The summary says for each stream what the listener must do with it (complete, or fail with which rule at which seq).

            --out FILE writes the datagrams (length-prefixed, exactly as they would be sent) instead of sending; --from FILE sends such a file again (a kept fixture). --image FILE writes the image the clean stream must become (with several streams, FILE is a directory and each is FILE/<crid>.ckpt).

            Exit codes: 0 sent; 64 usage; 74 file or socket error (e.g. nobody listens on PORT).
            """)

    @Option(help: "The listener's NETLINK_USERSOCK port (`usersock port N` of ckpt listen --usersock).")
    var port: UInt32?

    @Option(help: "Seed: the same seed and shape give the same bytes.")
    var seed: UInt64 = 1

    @Option(help: "Concurrent streams, interleaved.")
    var streams: Int = 1

    @Option(help: "Streams that get the faults (the first ones; the rest stay clean). Default: all.")
    var faultyStreams: Int?

    @Option(help: "The first stream's crid (the others follow). Default: derived from the seed.")
    var crid: UInt64?

    @Option(name: [.customLong("threads"), .customLong("tasks")], help: "Threads of each task (regs records).")
    var threads: Int = 2

    @Option(help: "Mappings per task (vma records).")
    var vmas: Int = 6

    @Option(help: "Present pages per task (4 KiB each, in runs of up to 256).")
    var pages: Int = 32

    @Option(help: "Open files per task (file records).")
    var files: Int = 3

    @Option(help: "Data bytes per record fragment (1 ... 65531).")
    var fragmentSize: Int = 65531

    @Flag(help: "Each fragment with data carries its CRC-32C (CKPT_A_DATA_CHECKSUM), as the kernel module's do.")
    var dataChecksums = false

    @Option(help: ArgumentHelp("Faults to inject, comma-separated.", valueName: "kind[,kind...]"))
    var fault: String?

    @Option(help: "The stream seq the first fault aims at (default: picked from the seed).")
    var faultAt: UInt32?

    @Option(help: "Write the datagrams to FILE (length-prefixed) instead of sending them.")
    var out: String?

    @Option(help: "Send the datagrams of FILE (written by --out) instead of generating.")
    var from: String?

    @Option(help: "Write the finished image of each clean stream (FILE, or FILE/<crid>.ckpt with several streams).")
    var image: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    public init() {}

    var plan: InjectPlan {
        get throws {
            var plan = InjectPlan()
            plan.seed = seed
            plan.streams = streams
            plan.faultyStreams = faultyStreams
            plan.firstCrid = crid
            plan.shape = StreamShape(threads: threads, vmas: vmas, pages: pages, files: files, fragmentSize: fragmentSize)
            plan.shape.dataChecksums = dataChecksums
            if let fault { plan.faults = try FaultKind.parseList(fault) }
            plan.faultAt = faultAt
            return plan
        }
    }

    public func validate() throws {
        if from != nil {
            guard port != nil else { throw ValidationError("--from FILE needs --port") }
            return
        }
        guard port != nil || out != nil || image != nil else {
            throw ValidationError("say where the streams go: --port PORT, --out FILE or --image FILE")
        }
        do {
            if let problem = try plan.problem { throw ValidationError(problem) }
        } catch let error as InjectError {
            throw ValidationError("\(error)")
        }
    }

    public func run() throws {
        do {
            if let from {
                let datagrams = try DatagramFile.read(from: from)
                let bytes = try InjectRun.send(datagrams, toPort: port!)
                print(json ? "{\"datagrams\": \(datagrams.count), \"bytes\": \(bytes)}"
                           : "inject: sent \(datagrams.count) datagrams (\(bytes) bytes) from \(from) to port \(port!)")
                return
            }
            let run = InjectRun(plan: try plan)
            if let image { try writeImages(run, to: image) }
            if let out {
                try DatagramFile.write(run.datagrams, to: out)
            } else if let port {
                try run.send(toPort: port)
            }
            print(json ? run.summary.json() : run.summary.text)
        } catch let error as InjectError {
            if case .usage = error { throw failure("inject", error.description, CkptExit.usage) }
            throw failure("inject", error.description, CkptExit.ioError)
        }
    }

    /// The images of the streams as generated, before any fault (orphans and reused ids
    /// change the records themselves, so each is made again from the seed).
    private func writeImages(_ run: InjectRun, to path: String) throws {
        let clean = (0..<run.plan.streams).map {
            SyntheticStream(seed: run.plan.seed, index: $0, crid: run.plan.crid($0), shape: run.plan.shape)
        }
        if clean.count == 1 {
            try ImageExport.write(clean[0], to: path)
            return
        }
        guard mkdirIfMissing(path) else { throw InjectError.io("cannot create the directory \(path)") }
        for s in clean { try ImageExport.write(s, to: "\(path)/\(s.crid).ckpt") }
    }
}

#if canImport(Glibc)
import Glibc
#endif

private func mkdirIfMissing(_ path: String) -> Bool {
    mkdir(path, 0o755) == 0 || errno == EEXIST
}

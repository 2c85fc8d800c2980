import CkptJSON
import ArgumentParser
import CkptImage
import CkptStore

/// `ckpt list [DIR]`: the images and failed captures of the listener's directory, one line each.
public struct ListCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "list",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "List the images and failed captures in the listener's directory.",
        discussion: """
            One line per file: crid, the checkpointed pid and its command name (from the task record), capture time (UTC), file size, records, and state: complete (DIR/<crid>.ckpt), failed (DIR/<crid>.failed, with the listener's reason), partial (a stream in flight, or left by a listener that died) or damaged (a .ckpt that does not open; `ckpt verify` says where).

            Examples:
              ckpt list                            # /var/lib/ckpt, by crid
              ckpt list /srv/ckpt --sort time
              ckpt list --json | jq '.[] | select(.state == "complete") | .file'
              ckpt list s3://bucket/host1/         # images in an S3 store

            Exit codes: 0 listed (even when some files are damaged: the state says so); 64 usage; 74 the directory cannot be read.
            """)

    @OptionGroup var directory: DirectoryOptions
    @OptionGroup var output: OutputOptions

    enum SortKey: String, ExpressibleByArgument, CaseIterable { case crid, time, size }

    @Option(help: "Order by crid, capture time or size.")
    var sort: SortKey = .crid

    public init() {}

    public func run() throws {
        let dir = directory.dir
        var listings: [ImageListing]
        if ObjectURL.isStoreURL(dir) {
            do throws(StoreError) { listings = try ImageListing.inspectStore(dir) } catch {
                throw failure("list", "\(error)", ExitCode(error.exitCode))
            }
        } else {
        let names: [String]
        switch directoryNames(dir) {
        case let .success(n): names = n
        case let .failure(error): throw failure("list", "\(dir): \(error)", CkptExit.ioError)
        }
        let files = names.filter { !$0.hasPrefix(".") && ($0.hasSuffix(".ckpt") || $0.hasSuffix(".failed") || $0.hasSuffix(".partial")) }
        listings = files.map { name in
            ImageListing.inspect(
                directory: dir, name: name,
                reasonText: name.hasSuffix(".failed") ? readTextFile(dir + "/" + name + ".reason").map(Self.oneLine) : nil)
        }
        }
        listings.sort { a, b in
            switch sort {
            case .crid: return (a.crid ?? .max, a.file) < (b.crid ?? .max, b.file)
            case .time: return (a.captureNs, a.file) < (b.captureNs, b.file)
            case .size: return (a.size, a.file) < (b.size, b.file)
            }
        }
        if output.json {
            emit(JSONOutput.document([("images", .array(listings.map(\.json)))]).rendered())
            return
        }
        var rows = [["CRID", "PID", "COMM", "CAPTURED", "SIZE", "RECORDS", "STATE"]]
        for l in listings {
            rows.append([
                l.crid.map(String.init) ?? "?", l.pid.map(String.init) ?? "?", l.comm ?? "?", Format.time(ns: l.captureNs),
                Format.size(l.size), "\(l.records)", l.stateText,
            ])
        }
        for line in Format.table(rows) { emit(line) }
    }

    /// The reason file's lines joined (the first says why; a scan line may follow).
    static func oneLine(_ text: String) -> String {
        text.split(separator: "\n").map(String.init).joined(separator: "; ")
    }
}

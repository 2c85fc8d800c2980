import ArgumentParser
import CkptImage

/// `ckpt verify IMAGE...`: every check of the image format, one line per image.
public struct VerifyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Check images end to end: structure, nesting, counts and checksums.",
        discussion: """
            Reads each image through and checks the file header, every record (header, padding, footer, CRC-32C), the record tree (header first, parents open, ids increasing, trailer last), the index against the records, the stream's record count, bytes and checksum against the trailer, and the CRC of the whole file. Every byte is covered: a flipped bit anywhere is found. One line per image:

              IMAGE: ok (N records, B bytes)
              IMAGE: FAILED at record R offset O: why

            Examples:
              ckpt verify /var/lib/ckpt/7.ckpt
              ckpt verify /var/lib/ckpt/*.ckpt || echo "some image is damaged"
              ckpt verify s3://bucket/host1/7.ckpt   # streamed, never copied whole

            Exit codes: 0 every image is sound; 65 at least one is damaged, truncated, not an image or of another format version; 74 at least one could not be read (missing, permission, unknown crid) and none was damaged; 69 an object store was unavailable (down, bad credentials, missing bucket, clock skew) and none was damaged; 64 usage.
            """)

    @Argument(help: "The image files (or crids, looked up in --dir).")
    var images: [String]

    @OptionGroup var location: ImageLocationOptions

    @OptionGroup var progress: ProgressOptions

    public init() {}

    public func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one IMAGE") }
    }

    public func run() throws {
        var damaged = false
        var unreadable = false
        var unavailable = false
        for argument in images {
            let path: String
            switch location.resolve(argument) {
            case let .path(p): path = p
            case let .unknownCrid(why):
                unreadable = true
                emit("\(argument): FAILED: \(why)")
                continue
            }
            let source: any ImageByteSource
            switch openImageBytes(path) {
            case let .success(s): source = s
            case let .failure(f):
                if f.code == CkptExit.dataError { damaged = true } else if f.code == CkptExit.unavailable { unavailable = true } else { unreadable = true }
                emit("\(path): FAILED: \(f.verifyText)")
                continue
            }
            let bar = ProgressBar(label: "verifying", enabled: progress.enabled)
            do throws(ImageError) {
                let v = try verifyImage(source: source) { bar.update($0, $1) }
                bar.finish()
                emit("\(path): ok (\(v.trailer.summary.records) records, \(v.fileSize) bytes)")
            } catch {
                bar.finish()
                if case .io = error {
                    unreadable = true
                    emit("\(path): FAILED: cannot read: \(error.reason)")
                } else {
                    damaged = true
                    emit("\(path): FAILED at \(error.location): \(error.reason)")
                }
            }
        }
        if damaged { throw CkptExit.dataError }
        if unavailable { throw CkptExit.unavailable }
        if unreadable { throw CkptExit.ioError }
    }
}

import ArgumentParser
import CkptImage
import CkptStore

/// Image arguments that are `s3://BUCKET/KEY` URLs: `ckpt show`, `verify` and `replay` read
/// the object where it lies with ranged GETs (CkptStore's `ObjectImageBytes`); `ckpt list
/// s3://BUCKET/PREFIX` lists the images under a prefix. Errors: docs/object-store.md.
struct ImageOpenFailure: Error {
    /// For `ckpt COMMAND: MESSAGE` (names the image).
    var message: String
    /// For `verify`'s `IMAGE: FAILED: TEXT` line (as it says it for a local file that cannot
    /// be read: `cannot read: why`).
    var verifyText: String
    var code: ExitCode
}

/// The bytes of `image`: a local file, or an object in the store (its checksum metadata
/// checked against its trailer on open).
func openImageBytes(_ image: String) -> Result<any ImageByteSource, ImageOpenFailure> {
    if ObjectURL.isStoreURL(image) {
        do throws(StoreError) {
            let url = try ObjectURL(parsing: image)
            let client = S3Client(configuration: try StoreConfiguration.fromEnvironment())
            return .success(try ObjectImageBytes(client: client, object: url))
        } catch {
            return .failure(ImageOpenFailure(message: "\(error)", verifyText: "\(error)", code: ExitCode(error.exitCode)))
        }
    }
    do throws(ImageError) {
        return .success(try LocalImageBytes(path: image))
    } catch {
        return .failure(ImageOpenFailure(message: "\(image): \(error.reason)",
                                         verifyText: (error.exitCode == CkptExit.ioError ? "cannot read: " : "") + error.reason,
                                         code: error.exitCode))
    }
}

/// `openImageBytes`, or report and exit with its code.
func openImageBytes(_ image: String, command: String) throws -> any ImageByteSource {
    switch openImageBytes(image) {
    case let .success(source): return source
    case let .failure(f): throw failure(command, f.message, f.code)
    }
}

extension ImageListing {
    /// Every object under `s3://BUCKET/PREFIX` whose name ends in `.ckpt`, each opened with
    /// ranged GETs (trailer, header, index, task record), as `ckpt list DIR` shows files.
    static func inspectStore(_ location: String) throws(StoreError) -> [ImageListing] {
        let url = try ObjectURL(parsing: location)
        let client = S3Client(configuration: try StoreConfiguration.fromEnvironment())
        let objects = try client.list(bucket: url.bucket, prefix: url.key)
        return objects.filter { $0.key.hasSuffix(".ckpt") }.map { o in
            let object = ObjectURL(bucket: url.bucket, key: o.key)
            let name = object.description
            do {
                return complete(name, try ImageReader(source: ObjectImageBytes(client: client, object: object)))
            } catch let error as ImageError {
                return ImageListing(file: name, crid: nil, pid: nil, comm: nil, captureNs: 0, size: o.size, records: 0,
                                    state: .damaged, reason: error.reason)
            } catch {
                return ImageListing(file: name, crid: nil, pid: nil, comm: nil, captureNs: 0, size: o.size, records: 0,
                                    state: .damaged, reason: "\(error)")
            }
        }
    }
}

import CkptProtocol

/// Where the checkpointed task ran: the `header` record's meta (the stream's first record),
/// surfaced by `ImageReader.source()`, the verifier and the partial scanner. It is the
/// protocol's `HeaderMeta` itself, so the fields are declared once.
public typealias ImageSource = HeaderMeta

extension HeaderMeta {
    /// Decodes the header record's `CKPT_A_META` payload.
    init(headerRecord e: ImageIndexEntry, meta: [UInt8], path: String) throws(ImageError) {
        guard e.type == .header else {
            throw .badField(path: path, offset: e.offset + UInt64(ImageLayout.RecordOffset.type), recordID: e.id,
                            field: "first record type", expected: "header", found: "\(e.type)")
        }
        guard case let .header(h) = try decodeMeta(of: e, meta, path: path) else {
            preconditionFailure("RecordMeta(type: .header) decoded another type")
        }
        self = h
    }
}

extension ImageReader {
    /// The record's meta, decoded into its typed fields (for `ckpt show`), strictly: the
    /// fields its type requires and no others. Errors name the file offset of the
    /// offending attribute.
    public func typedMeta(of entry: ImageIndexEntry) throws(ImageError) -> RecordMeta {
        try decodeMeta(of: entry, meta(of: entry), path: path)
    }
}

/// HOOK (typed meta): meta attributes are decoded by CkptProtocol's `RecordMeta`, the one
/// definition of the meta fields (the same decoder the listener runs on the wire). This is
/// the only place CkptImage depends on it; the image layer itself stores meta verbatim.
func decodeMeta(of e: ImageIndexEntry, _ meta: [UInt8], path: String) throws(ImageError) -> RecordMeta {
    let decoded: Result<RecordMeta, ProtocolError> = meta.withUnsafeBytes { p in
        do throws(ProtocolError) {
            // Offsets in errors are then file offsets: the decoder counts from a nest header
            // 4 bytes before the payload.
            return .success(try RecordMeta(type: e.type, payload: p, offset: Int(e.metaOffset) - 4))
        } catch {
            return .failure(error)
        }
    }
    switch decoded {
    case let .success(m): return m
    case let .failure(error):
        throw .badField(path: path, offset: UInt64(max(error.offset, 0)), recordID: e.id, field: "\(e.type) record meta",
                        expected: "valid CKPT_A_META attributes", found: "\(error)")
    }
}

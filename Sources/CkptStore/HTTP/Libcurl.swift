import CCkptCurl

/// libcurl, loaded at the first store use rather than linked: `ckpt_curl_load` (CCkptCurl)
/// `dlopen`s libcurl.so.4 once per process, so a listener without `--store` and the local
/// commands never map libcurl and its dependency tree (about 6 MiB of peak RSS,
/// docs/benchmarks.md "RSS"). A machine without the library gets a `StoreError` at the first
/// store request, never a crash and never a failure to start.
enum Libcurl {
    /// The library loaded: `libcurl.so.4`.
    static let soname = CKPT_CURL_SONAME

    /// Loads libcurl, once per process (later calls return the first one's result).
    /// Calls `ckpt_curl_load`.
    static func load() throws(StoreError) {
        guard ckpt_curl_load() == 0 else {
            throw .libcurlUnavailable(soname: soname, reason: String(cString: ckpt_curl_load_error()))
        }
    }

    /// Whether `load()` succeeded in this process. Calls `ckpt_curl_loaded`.
    static var isLoaded: Bool { ckpt_curl_loaded() != 0 }

    /// What `load()` would say if the library were `soname`: the same `dlopen` and lookups,
    /// then `dlclose`; the process's loaded libcurl is not touched. For tests. Calls
    /// `ckpt_curl_probe`.
    static func probe(soname: String) throws(StoreError) {
        var err = [CChar](repeating: 0, count: 512)
        guard ckpt_curl_probe(soname, &err, err.count) == 0 else {
            throw .libcurlUnavailable(soname: soname, reason: err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
    }
}

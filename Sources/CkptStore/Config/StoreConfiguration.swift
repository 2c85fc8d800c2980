#if canImport(Glibc)
import Glibc
#endif

/// Where the store is and who we are, resolved the way the AWS CLI and SDKs resolve it, so
/// an operator's existing setup works unchanged:
///
/// | what        | first found of |
/// |-------------|----------------|
/// | profile     | `AWS_PROFILE`, else `default` |
/// | credentials | `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`); the profile in `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`); the profile in `~/.aws/config` (`AWS_CONFIG_FILE`) |
/// | region      | `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, `us-east-1` |
/// | endpoint    | `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, `https://s3.REGION.amazonaws.com` |
///
/// In `config` a profile's section is `[profile NAME]` (`[default]` for the default); in
/// `credentials` it is `[NAME]`. Requests use path-style URLs (`ENDPOINT/BUCKET/KEY`), which
/// Ceph RGW, MinIO and AWS all accept.
public struct StoreConfiguration: Equatable, Sendable {
    public var endpoint: String
    public var region: String
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Where the credentials came from, for logs (never the secret itself).
    public var credentialSource: String

    public init(endpoint: String, region: String, accessKeyID: String, secretAccessKey: String,
                sessionToken: String? = nil, credentialSource: String = "given") {
        self.endpoint = endpoint
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.credentialSource = credentialSource
    }

    /// Resolves from the process environment and the files under `$HOME/.aws`.
    public static func fromEnvironment() throws(StoreError) -> StoreConfiguration {
        try resolve(environment: processEnvironment(), readFile: { readSmallFile($0) })
    }

    /// The resolution itself, with the environment and file reader given (tests).
    public static func resolve(environment env: [String: String], readFile: (String) -> String?) throws(StoreError) -> StoreConfiguration {
        func nonEmpty(_ k: String) -> String? { env[k].flatMap { $0.isEmpty ? nil : $0 } }
        let profile = nonEmpty("AWS_PROFILE") ?? "default"
        let home = nonEmpty("HOME") ?? "/root"
        let credentialsPath = nonEmpty("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials"
        let configPath = nonEmpty("AWS_CONFIG_FILE") ?? home + "/.aws/config"
        let credentialsFile = readFile(credentialsPath).map(INIFile.init) ?? INIFile("")
        let configFile = readFile(configPath).map(INIFile.init) ?? INIFile("")
        let fromCredentials = credentialsFile.section(profile)
        let fromConfig = configFile.section(profile == "default" ? "default" : "profile " + profile)

        let key: String, secret: String, token: String?, source: String
        if let k = nonEmpty("AWS_ACCESS_KEY_ID"), let s = nonEmpty("AWS_SECRET_ACCESS_KEY") {
            (key, secret, token, source) = (k, s, nonEmpty("AWS_SESSION_TOKEN"), "environment")
        } else if let k = fromCredentials["aws_access_key_id"], let s = fromCredentials["aws_secret_access_key"] {
            (key, secret, token, source) = (k, s, fromCredentials["aws_session_token"], "\(credentialsPath) [\(profile)]")
        } else if let k = fromConfig["aws_access_key_id"], let s = fromConfig["aws_secret_access_key"] {
            (key, secret, token, source) = (k, s, fromConfig["aws_session_token"], "\(configPath) [\(profile)]")
        } else {
            throw .configuration("no store credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile \"\(profile)\" aws_access_key_id and aws_secret_access_key in \(credentialsPath)")
        }
        let region = nonEmpty("AWS_REGION") ?? nonEmpty("AWS_DEFAULT_REGION") ?? fromConfig["region"] ?? "us-east-1"
        var endpoint = nonEmpty("AWS_ENDPOINT_URL_S3") ?? nonEmpty("AWS_ENDPOINT_URL") ?? fromConfig["endpoint_url"]
            ?? "https://s3.\(region).amazonaws.com"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw .configuration("store endpoint \"\(endpoint)\" is not an http:// or https:// URL (AWS_ENDPOINT_URL)")
        }
        return StoreConfiguration(endpoint: endpoint, region: region, accessKeyID: key, secretAccessKey: secret,
                                  sessionToken: token, credentialSource: source)
    }
}

/// The AWS shared files' INI dialect: `[section]` lines, `key = value` lines, `#` and `;`
/// comments. Keys are lower-cased; values trimmed. Nested (indented) sub-sections, which
/// only the `s3 =` block of `config` uses, are skipped.
struct INIFile {
    private var sections: [String: [String: String]] = [:]

    init(_ text: String) {
        var current: String? = nil
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if raw.first == " " || raw.first == "\t" { continue }
            let line = trim(Substring(raw))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = trim(line.dropFirst().dropLast())
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            sections[current, default: [:]][trim(line[..<eq]).lowercased()] = trim(line[line.index(after: eq)...])
        }
    }

    func section(_ name: String) -> [String: String] { sections[name] ?? [:] }
}

private func trim(_ s: Substring) -> String {
    var s = s
    while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
    while let c = s.last, c == " " || c == "\t" || c == "\r" || c == "\r\n" { s.removeLast() }
    return String(s)
}

/// The process environment (`environ`).
func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return result
}

/// A whole small text file (at most 1 MiB), or nil when it cannot be read.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while bytes.count < 1 << 20 {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

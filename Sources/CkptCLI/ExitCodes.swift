import ArgumentParser

/// Exit codes scripts can rely on (sysexits.h values where one fits). Documented in
/// `ckpt --help` and docs/operating.md; keep the three in step.
public enum CkptExit {
    /// The operation ran and failed: a verify that found damage, a rejected replay, a
    /// listener that failed streams when asked to treat that as failure.
    public static let failed = ExitCode(1)
    /// Bad command line (ArgumentParser's own validation errors also exit 64).
    public static let usage = ExitCode(64)
    /// Input data is malformed: not an image, wrong format version, truncated, corrupt.
    public static let dataError = ExitCode(65)
    /// The kernel family `ckpt` is not available (module not loaded) or refused us; or an
    /// object store is down or refused us (credentials, missing bucket, clock skew).
    public static let unavailable = ExitCode(69)
    /// A file or socket operation failed (missing file, permission, disk full).
    public static let ioError = ExitCode(74)
}

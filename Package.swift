// swift-tools-version:6.0
// ckpt: the userspace side. Folders say what each module does:
//   CCkptUAPI      the kernel's UAPI header (kernel-patch/include/uapi/linux/ckpt.h) + netlink headers
//   CNetlink       libnl-genl-3 (control path: family resolution, sink registration, commands)
//   CCkptShims     C helpers Swift cannot express: CRC-32C with SSE4.2, recvmmsg batches,
//                  vmsplice/splice writes, heap counters (plain C: no libnl)
//   CkptSystem     the one system-call layer (EINTR retries, typed Errno, one errno policy),
//                  the one clock and the one /proc/PID/maps parser
//   CkptJSON       the one JSON writer (CLI --json output, the listener's stats file)
//   CkptProtocol   the wire codec: netlink datagrams <-> typed stream events (zero-copy decode)
//   CkptImage      the on-disk image format: append-only writer, random-access reader, verifier
//   CkptTransport  sockets: NETLINK_USERSOCK and generic netlink, behind typed wrappers
//   CkptListener   `ckpt listen`: buffer pool, reassembler, image sink, backpressure
//   CkptReplay     `ckpt replay`: an image streamed back to the kernel (or re-emitted to a listener)
//   CkptInject     `ckpt inject`: synthetic streams with faults
//   CCkptCurl      libcurl (HTTP + AWS SigV4 signing) for the object store, loaded at first use (dlopen),
//                  behind typed shims (its variadic calls included)
//   CkptStore      the S3 object store: client, configuration, the listener's uploader, ranged image reads
//   CkptCLI        the subcommands; `ckpt` is a thin @main over it
import PackageDescription

let package = Package(
    name: "ckpt",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(name: "CCkptUAPI", path: "Sources/CCkptUAPI"),
        .systemLibrary(
            name: "CNetlink", path: "Sources/CNetlink", pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-genl-3-dev"])]),
        .target(name: "CCkptShims", path: "Sources/CCkptShims"),
        .target(name: "CkptSystem", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "CkptJSON"),
        .target(name: "CkptProtocol", dependencies: ["CCkptUAPI", "CCkptShims"]),
        .target(
            name: "CkptImage",
            dependencies: ["CkptProtocol", "CkptSystem", "CCkptShims", .product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "CkptTransport",
            dependencies: [
                "CkptProtocol", "CkptSystem", "CNetlink", "CCkptShims", "CCkptUAPI",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .target(
            name: "CkptListener",
            dependencies: [
                "CkptProtocol", "CkptImage", "CkptTransport", "CkptSystem", "CkptJSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .target(name: "CkptReplay", dependencies: ["CkptProtocol", "CkptImage", "CkptTransport", "CkptSystem", "CCkptShims"]),
        .target(
            name: "CkptRestore",
            dependencies: ["CkptProtocol", "CkptImage", "CkptReplay", "CkptSystem", "CCkptShims",
                           .product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "CkptInject",
            dependencies: [
                "CkptProtocol", "CkptImage", "CkptTransport",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Not linked with libcurl: it is dlopen()ed at the first store use (ckpt_curl.h).
        .target(name: "CCkptCurl", path: "Sources/CCkptCurl"),
        .target(
            name: "CkptStore",
            dependencies: [
                "CCkptCurl", "CkptProtocol", "CkptImage", "CkptJSON", "CkptSystem",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "CkptCLI",
            dependencies: [
                "CkptProtocol", "CkptImage", "CkptTransport", "CkptListener", "CkptReplay",
                "CkptInject", "CkptSystem", "CkptJSON", "CkptRestore",
                "CkptStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(name: "ckpt", dependencies: ["CkptCLI"]),
        // Test-only helpers shared by the test targets: the `ckpt` executable lookup,
        // `ckpt listen --usersock` as a subprocess (a failure to start is a test failure) and
        // test images written record by record (ImageFixture).
        .target(
            name: "CkptTestSupport", dependencies: ["CkptImage", "CkptProtocol", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/CkptTestSupport"),
        .testTarget(
            name: "CkptRestoreTests",
            dependencies: ["CkptRestore", "CkptImage", "CkptProtocol", "CkptSystem", "CkptTestSupport",
                           .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "CkptProtocolTests", dependencies: ["CkptProtocol", "CCkptUAPI", "CCkptShims"]),
        .testTarget(
            name: "CkptTransportTests",
            dependencies: [
                "CkptTransport", "CkptProtocol", "CCkptUAPI",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(name: "CkptImageTests", dependencies: ["CkptImage", "CkptProtocol"]),
        .testTarget(
            name: "CkptListenerTests",
            dependencies: [
                "CkptListener", "CkptProtocol", "CkptImage", "CkptTransport", "CkptSystem", "CCkptUAPI", "CCkptShims", "CkptTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(
            name: "CkptCLITests",
            dependencies: [
                "CkptCLI", "CkptImage", "CkptProtocol", "CkptReplay", "CkptTransport", "CkptStore", "CkptSystem", "CkptTestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(
            name: "CkptStoreTests",
            dependencies: ["CkptStore", "CkptImage", "CkptProtocol", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "CkptInjectTests",
            dependencies: [
                "CkptInject", "CkptProtocol", "CkptImage", "CkptTransport", "CkptListener", "CCkptUAPI",
                "CkptTestSupport",
            ]),
    ],
    swiftLanguageModes: [.v6]
)

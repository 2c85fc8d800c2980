#if canImport(Glibc)
import Glibc
#endif
@testable import CkptRestore
import XCTest

/// A privileged restore believes only image files nobody else could have written.
final class ImageTrustTests: XCTestCase {
    func testWhoseFilesAPrivilegedRestorerUses() {
        let root: uid_t = 0, me: uid_t = 1000, other: uid_t = 65534
        // As root: root's files, not group/other-writable.
        XCTAssertNil(ImageTrust.refusal(ownerUID: root, mode: S_IFREG | 0o600, restorerEUID: root, privileged: true))
        XCTAssertNil(ImageTrust.refusal(ownerUID: root, mode: S_IFREG | 0o644, restorerEUID: root, privileged: true))
        XCTAssertNotNil(ImageTrust.refusal(ownerUID: other, mode: S_IFREG | 0o600, restorerEUID: root, privileged: true))
        XCTAssertNotNil(ImageTrust.refusal(ownerUID: root, mode: S_IFREG | 0o666, restorerEUID: root, privileged: true))
        XCTAssertNotNil(ImageTrust.refusal(ownerUID: root, mode: S_IFREG | 0o620, restorerEUID: root, privileged: true))
        // With capabilities as another uid: its own files or root's.
        XCTAssertNil(ImageTrust.refusal(ownerUID: me, mode: S_IFREG | 0o600, restorerEUID: me, privileged: true))
        XCTAssertNotNil(ImageTrust.refusal(ownerUID: other, mode: S_IFREG | 0o600, restorerEUID: me, privileged: true))
        // Unprivileged: not asked (it can only become itself).
        XCTAssertNil(ImageTrust.refusal(ownerUID: other, mode: S_IFREG | 0o666, restorerEUID: me, privileged: false))
        let why = ImageTrust.refusal(ownerUID: other, mode: S_IFREG | 0o600, restorerEUID: root, privileged: true) ?? ""
        XCTAssertTrue(why.contains("owned by uid 65534"), why)
    }

    func testTheCapabilityMaskNamesTheRightBits() {
        XCTAssertNotEqual(ImageTrust.privilegedCapabilities & (1 << 7), 0, "CAP_SETUID")
        XCTAssertNotEqual(ImageTrust.privilegedCapabilities & (1 << 40), 0, "CAP_CHECKPOINT_RESTORE")
        XCTAssertEqual(ImageTrust.privilegedCapabilities & (1 << 13), 0, "CAP_NET_RAW is not one")
        if geteuid() == 0 { XCTAssertTrue(ImageTrust.restorerIsPrivileged()) }
        XCTAssertNotEqual(ImageTrust.effectiveCapabilities(), .max, "CapEff read from /proc/self/status")
    }
}

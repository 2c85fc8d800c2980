#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
@testable import CkptRestore
import XCTest

/// The capability sets read from /proc/self/status: what `ckpt restore` asks before it
/// starts a process (the ambient set, for the stub's PR_SET_MM_MAP) and before it trusts
/// an image file (the effective set).
final class OwnCapabilitiesTests: XCTestCase {
    func testEachSetIsItsLine() throws {
        let bounding = try XCTUnwrap(OwnCapabilities.set("CapBnd"))
        XCTAssertNotEqual(bounding & (1 << UInt64(CKPT_CAP_CHECKPOINT_RESTORE)), 0, "this kernel knows CAP_CHECKPOINT_RESTORE")
        XCTAssertEqual(OwnCapabilities.set("CapEff"), ImageTrust.effectiveCapabilities())
        if geteuid() == 0 {
            XCTAssertNotEqual(try XCTUnwrap(OwnCapabilities.set("CapEff")) & (1 << UInt64(CKPT_CAP_SYS_ADMIN)), 0)
        }
    }

    func testALineThatIsNotThereIsNil() {
        XCTAssertNil(OwnCapabilities.set("CapNoSuchSet"))
        XCTAssertNil(OwnCapabilities.set("Cap"), "a prefix of several lines is no line")
    }
}

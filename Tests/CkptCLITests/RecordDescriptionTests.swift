@testable import CkptCLI
import CkptProtocol
import XCTest

/// What `ckpt show` says of a shmem record's seals.
final class RecordDescriptionTests: XCTestCase {
    func testSealsAreNamedAndUnknownBitsShownInHex() {
        XCTAssertEqual(RecordDescription.seals(0x17), "seal|shrink|grow|future-write")
        XCTAssertEqual(RecordDescription.seals(0x8), "write")
        XCTAssertEqual(RecordDescription.seals(0x21), "seal|0x20")  // F_SEAL_EXEC (6.3), no name here
        XCTAssertEqual(RecordDescription.seals(0), "none")
    }
}

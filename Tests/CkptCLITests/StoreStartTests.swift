@testable import CkptCLI
import CkptStore
import XCTest

/// `ckpt listen --store`: what the store's first answer does to the listener
/// (docs/object-store.md, "At start").
final class StoreStartTests: XCTestCase {
    private let head = "HEAD http://127.0.0.1:7480/bkt"

    func testAnUnreachableOrBusyStoreIsWaitedFor() {
        let waits: [StoreError] = [
            .unreachable(what: head, endpoint: "http://127.0.0.1:7480", curl: "Connection refused"),
            .server(what: head, status: 503, code: "ServiceUnavailable", message: ""),
            .server(what: head, status: 500, code: "InternalError", message: ""),
            .server(what: head, status: 429, code: "", message: ""),
            .server(what: head, status: 400, code: "SlowDown", message: ""),
        ]
        for error in waits {
            guard case .wait = StoreListenOptions.atStart(error) else { return XCTFail("\(error) stops the listener") }
        }
        XCTAssertEqual(StoreListenOptions.atStart(waits[0]),
                       .wait("store unreachable at start; images stay in the spool until it answers"))
    }

    func testARefusalStopsWith69() {
        let stops: [StoreError] = [
            .credentials(what: head, code: "InvalidAccessKeyId", message: ""),
            .noSuchBucket(what: head, bucket: "bkt"),
            .clockSkew(what: head, message: "20 minutes"),
            .server(what: head, status: 301, code: "PermanentRedirect", message: "wrong region"),
            .server(what: head, status: 400, code: "InvalidRequest", message: ""),
        ]
        for error in stops {
            XCTAssertEqual(StoreListenOptions.atStart(error), .stop("store refused", 69), "\(error)")
        }
        XCTAssertEqual(StoreListenOptions.atStart(.libcurlUnavailable(soname: "libcurl.so.4", reason: "not found")),
                       .stop("no libcurl for the store", 69))
        XCTAssertEqual(StoreListenOptions.atStart(.configuration("no credentials")), .stop("store configuration", 64))
    }
}

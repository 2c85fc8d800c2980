import Foundation
import Testing
import CkptProtocol

/// VMFlags are the kernel's own vm_flags values (the module copies `vma->vm_flags`): held
/// to include/linux/mm.h of every Debian kernel header package installed here (tools/setup-deps
/// installs those of 6.1 and 6.12). No header found fails the test: it would check nothing.
@Suite struct VMFlagsTests {
    static let expected: [(String, UInt64)] = [
        ("VM_READ", VMFlags.read), ("VM_WRITE", VMFlags.write), ("VM_EXEC", VMFlags.exec),
        ("VM_SHARED", VMFlags.shared), ("VM_MAYREAD", VMFlags.mayRead), ("VM_MAYWRITE", VMFlags.mayWrite),
        ("VM_MAYEXEC", VMFlags.mayExec), ("VM_GROWSDOWN", VMFlags.growsDown), ("VM_PFNMAP", VMFlags.pfnMap),
        ("VM_MIXEDMAP", VMFlags.mixedMap), ("VM_IO", VMFlags.io), ("VM_DONTEXPAND", VMFlags.dontExpand),
        ("VM_NORESERVE", VMFlags.noReserve),
    ]

    /// `#define NAME 0x...` lines of a header.
    static func defines(_ text: String) -> [String: UInt64] {
        var found: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 3, words[0] == "#define", words[2].hasPrefix("0x"),
                  let value = UInt64(words[2].dropFirst(2), radix: 16) else { continue }
            found[String(words[1])] = value
        }
        return found
    }

    @Test func theKernelsValues() throws {
        let headers = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/src")) ?? []
        let paths = headers.filter { $0.hasPrefix("linux-headers-") && $0.hasSuffix("-common") }
            .map { "/usr/src/\($0)/include/linux/mm.h" }
            .filter { FileManager.default.fileExists(atPath: $0) }
        #expect(!paths.isEmpty, "no /usr/src/linux-headers-*-common/include/linux/mm.h (tools/setup-deps installs them)")
        for path in paths {
            let defined = Self.defines(try String(contentsOfFile: path, encoding: .utf8))
            for (name, value) in Self.expected {
                #expect(defined[name] == value, "\(name) in \(path)")
            }
        }
    }

    @Test func anonymousPrivate() {
        #expect(VMAMeta(start: 0, end: 4096, vmFlags: VMFlags.read | VMFlags.write, pgoff: 0).isAnonymousPrivate)
        #expect(!VMAMeta(start: 0, end: 4096, vmFlags: VMFlags.read | VMFlags.shared, pgoff: 0).isAnonymousPrivate)
        #expect(!VMAMeta(start: 0, end: 4096, vmFlags: VMFlags.read, pgoff: 0, path: "/bin/true").isAnonymousPrivate)
        // The vDSO and vvar: no path, not shared, special mappings (flags as 6.12 gives them).
        let may = VMFlags.mayRead | VMFlags.mayWrite | VMFlags.mayExec
        #expect(!VMAMeta(start: 0, end: 8192, vmFlags: VMFlags.read | VMFlags.exec | may | VMFlags.dontExpand,
                         pgoff: 0).isAnonymousPrivate)
        #expect(!VMAMeta(start: 0, end: 16384, vmFlags: VMFlags.read | VMFlags.dontExpand | VMFlags.pfnMap | VMFlags.io,
                         pgoff: 0).isAnonymousPrivate)
    }
}

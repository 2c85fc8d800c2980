#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptProtocol

/// What kind of mapping an image's vma is, from its `vm_flags` and backing path: the
/// restorer recreates each kind differently.
///
/// vm_flags are the kernel's (`include/linux/mm.h`), recorded by the kernel that took the
/// image; the bits read here have had these values since Linux 2.6 and are only read to
/// tell the special mappings apart.
public enum VMAKind: Equatable, Sendable {
    /// Private anonymous memory (heap from mmap, .bss, brk).
    case anonymous
    /// The stack: anonymous, grows down.
    case stack
    /// Private mapping of a file at an offset (text, data, libraries).
    case file(path: String)
    /// The kernel's vDSO text: placed with `arch_prctl(ARCH_MAP_VDSO_64)`.
    case vdso
    /// The vDSO's data pages (vvar): they come with the vDSO.
    case vvar
    /// A shared mapping of a file that has a name (`MAP_SHARED` of a file opened for
    /// writing): its memory is the file, so the image holds no pages for it and the
    /// restorer maps the file again.
    case sharedFile(path: String)
    /// Shared memory no path reaches whose pages the image holds (a shmem record): shared
    /// anonymous memory (`/dev/zero (deleted)`), memfd, SysV shm, a deleted tmpfs file. The
    /// restorer makes one memfd per object of `size` bytes and maps it again.
    case sharedMemory(SharedObject)
    /// Shared memory the image holds no pages of: a device's memory, a deleted file that
    /// was not on tmpfs, hugetlbfs shm, and every unnamed shared mapping in images of
    /// modules older than the shmem record.
    case shared

    public init(_ vma: VMAMeta) {
        let f = vma.vmFlags
        if f & VMFlags.shared != 0 {
            // Every unnamed shmem object (shared anonymous memory, shm, memfd) and a
            // deleted file has a path ending in " (deleted)".
            if let path = vma.path, path.hasPrefix("/"), !path.hasSuffix(" (deleted)"),
               f & (VMFlags.pfnMap | VMFlags.io | VMFlags.mixedMap) == 0 {
                self = .sharedFile(path: path)
            } else {
                self = .shared
            }
        } else if let path = vma.path {
            self = .file(path: path)
        } else if f & (VMFlags.pfnMap | VMFlags.io | VMFlags.mixedMap) != 0 {
            self = .vvar
        } else if f & VMFlags.exec != 0, f & VMFlags.dontExpand != 0 {
            self = .vdso
        } else if f & VMFlags.growsDown != 0 {
            self = .stack
        } else {
            self = .anonymous
        }
    }

    /// An unnamed shared memory object, as the image names it: its file's device and inode
    /// (two vmas, or a vma and an fd, with the same ones share it) and its size.
    public struct SharedObject: Hashable, Sendable {
        public var device: UInt32
        public var inode: UInt64
        public var size: UInt64
        /// Its seals (`F_GET_SEALS`); nil in images of older modules (the memfd made for it
        /// then has `F_SEAL_SEAL` only, as one made without `MFD_ALLOW_SEALING`).
        public var seals: UInt32? = nil

        /// Whether its memfd must be made with `MFD_ALLOW_SEALING`: it had seals other than
        /// `F_SEAL_SEAL` alone, the seals of memory nobody may seal.
        public var sealable: Bool { seals.map { $0 != UInt32(CKPT_F_SEAL_SEAL) } ?? false }
        /// Whether its seals go on before it is mapped: `F_SEAL_WRITE` fails while a shared
        /// mapping may write (`VM_MAYWRITE`, which every shared mapping of a file opened for
        /// writing has until the seal removes it). Otherwise after, so that writable
        /// mappings made before an `F_SEAL_FUTURE_WRITE` can be made again.
        public var sealsBeforeMapping: Bool { (seals ?? 0) & UInt32(CKPT_F_SEAL_WRITE) != 0 }
    }

    /// mmap(2)'s prot for these vm_flags.
    public static func prot(_ vmFlags: UInt64) -> Int32 {
        var p: Int32 = PROT_NONE
        if vmFlags & VMFlags.read != 0 { p |= PROT_READ }
        if vmFlags & VMFlags.write != 0 { p |= PROT_WRITE }
        if vmFlags & VMFlags.exec != 0 { p |= PROT_EXEC }
        return p
    }
}

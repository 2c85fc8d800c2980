/// The bits of a vma record's `vm-flags` that ckpt reads: the kernel's own `vm_flags`
/// (include/linux/mm.h), which the module copies as they are, so they are defined here
/// once, not in the UAPI header. VMFlagsTests holds them to the kernel's values.
public enum VMFlags {
    public static let read: UInt64 = 0x1
    public static let write: UInt64 = 0x2
    public static let exec: UInt64 = 0x4
    public static let shared: UInt64 = 0x8
    public static let mayRead: UInt64 = 0x10
    public static let mayWrite: UInt64 = 0x20
    public static let mayExec: UInt64 = 0x40
    public static let growsDown: UInt64 = 0x100
    public static let pfnMap: UInt64 = 0x400
    public static let mixedMap: UInt64 = 0x1000_0000
    public static let io: UInt64 = 0x4000
    public static let dontExpand: UInt64 = 0x4_0000
    public static let noReserve: UInt64 = 0x20_0000
}

extension VMAMeta {
    /// Anonymous private memory, what the kernel leaves pages of zeros out of
    /// (`vma_is_anonymous()`, not `VM_SHARED`): no backing file, not shared, and not a
    /// special mapping (the vDSO and vvar, which have no path either, are `VM_DONTEXPAND`,
    /// vvar also `VM_PFNMAP`/`VM_IO`/`VM_MIXEDMAP`). Where an image has no page of it, the
    /// page reads as zero.
    public var isAnonymousPrivate: Bool {
        path == nil && vmFlags & (VMFlags.shared | VMFlags.dontExpand | VMFlags.pfnMap | VMFlags.io | VMFlags.mixedMap) == 0
    }
}

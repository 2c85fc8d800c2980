import CCkptUAPI

/// What a record describes (`enum ckpt_record_type` in the UAPI header).
///
/// The raw values come from the header; this file only names them and states where each
/// type may stand in the record tree.
public enum RecordType: UInt32, Sendable, BitwiseCopyable, CaseIterable, CustomStringConvertible {
    case header
    case task
    case regs
    case mm
    case vma
    case pages
    case file
    case trailer
    case sigactions
    case xstate
    case rlimits
    case pipe
    case siginfo
    case sharedSiginfo
    case shmem
    case fdinfo
    case unix
    case parentPages
    case inet

    public init?(rawValue: UInt32) {
        switch rawValue {
        case CKPT_RECORD_TYPE_HEADER.rawValue: self = .header
        case CKPT_RECORD_TYPE_TASK.rawValue: self = .task
        case CKPT_RECORD_TYPE_REGS.rawValue: self = .regs
        case CKPT_RECORD_TYPE_MM.rawValue: self = .mm
        case CKPT_RECORD_TYPE_VMA.rawValue: self = .vma
        case CKPT_RECORD_TYPE_PAGES.rawValue: self = .pages
        case CKPT_RECORD_TYPE_FILE.rawValue: self = .file
        case CKPT_RECORD_TYPE_TRAILER.rawValue: self = .trailer
        case CKPT_RECORD_TYPE_SIGACTIONS.rawValue: self = .sigactions
        case CKPT_RECORD_TYPE_XSTATE.rawValue: self = .xstate
        case CKPT_RECORD_TYPE_RLIMITS.rawValue: self = .rlimits
        case CKPT_RECORD_TYPE_PIPE.rawValue: self = .pipe
        case CKPT_RECORD_TYPE_SIGINFO.rawValue: self = .siginfo
        case CKPT_RECORD_TYPE_SHARED_SIGINFO.rawValue: self = .sharedSiginfo
        case CKPT_RECORD_TYPE_SHMEM.rawValue: self = .shmem
        case CKPT_RECORD_TYPE_FDINFO.rawValue: self = .fdinfo
        case CKPT_RECORD_TYPE_UNIX.rawValue: self = .unix
        case CKPT_RECORD_TYPE_PARENT_PAGES.rawValue: self = .parentPages
        case CKPT_RECORD_TYPE_INET.rawValue: self = .inet
        default: return nil
        }
    }

    public var rawValue: UInt32 {
        switch self {
        case .header: CKPT_RECORD_TYPE_HEADER.rawValue
        case .task: CKPT_RECORD_TYPE_TASK.rawValue
        case .regs: CKPT_RECORD_TYPE_REGS.rawValue
        case .mm: CKPT_RECORD_TYPE_MM.rawValue
        case .vma: CKPT_RECORD_TYPE_VMA.rawValue
        case .pages: CKPT_RECORD_TYPE_PAGES.rawValue
        case .file: CKPT_RECORD_TYPE_FILE.rawValue
        case .trailer: CKPT_RECORD_TYPE_TRAILER.rawValue
        case .sigactions: CKPT_RECORD_TYPE_SIGACTIONS.rawValue
        case .xstate: CKPT_RECORD_TYPE_XSTATE.rawValue
        case .rlimits: CKPT_RECORD_TYPE_RLIMITS.rawValue
        case .pipe: CKPT_RECORD_TYPE_PIPE.rawValue
        case .siginfo: CKPT_RECORD_TYPE_SIGINFO.rawValue
        case .sharedSiginfo: CKPT_RECORD_TYPE_SHARED_SIGINFO.rawValue
        case .shmem: CKPT_RECORD_TYPE_SHMEM.rawValue
        case .fdinfo: CKPT_RECORD_TYPE_FDINFO.rawValue
        case .unix: CKPT_RECORD_TYPE_UNIX.rawValue
        case .parentPages: CKPT_RECORD_TYPE_PARENT_PAGES.rawValue
        case .inet: CKPT_RECORD_TYPE_INET.rawValue
        }
    }

    /// The type a record of this type must be a child of; `nil` for roots.
    /// header, task, trailer are roots; regs, sigactions, rlimits, mm, file sit under task; xstate
    /// and siginfo under regs; shared-siginfo under sigactions; pipe, unix, inet and fdinfo under file; vma under mm;
    /// pages, parent-pages and shmem under vma (the tree drawn in the header's protocol comment).
    public var parentType: RecordType? {
        switch self {
        case .header, .task, .trailer: nil
        case .regs, .sigactions, .rlimits, .mm, .file: .task
        case .xstate, .siginfo: .regs
        case .sharedSiginfo: .sigactions
        case .pipe, .fdinfo, .unix, .inet: .file
        case .vma: .mm
        case .pages, .shmem, .parentPages: .vma
        }
    }

    public var description: String {
        switch self {
        case .header: "header"
        case .task: "task"
        case .regs: "regs"
        case .mm: "mm"
        case .vma: "vma"
        case .pages: "pages"
        case .file: "file"
        case .trailer: "trailer"
        case .sigactions: "sigactions"
        case .xstate: "xstate"
        case .rlimits: "rlimits"
        case .pipe: "pipe"
        case .siginfo: "siginfo"
        case .sharedSiginfo: "shared-siginfo"
        case .shmem: "shmem"
        case .fdinfo: "fdinfo"
        case .unix: "unix"
        case .parentPages: "parent-pages"
        case .inet: "inet"
        }
    }
}

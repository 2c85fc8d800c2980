#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptJSON
import CkptImage
import CkptProtocol

/// How `ckpt show` prints a record: one line of key fields (text) or an object (JSON).
enum RecordDescription {
    /// x86-64 `struct user_regs_struct`: 27 u64s; rip is the 17th, rsp the 20th.
    static let x86RegsSize = 27 * 8
    static let x86RIP = 16 * 8
    static let x86RSP = 19 * 8

    /// `rip`/`rsp` from a regs record's data, when the source is x86-64.
    static func instructionAndStack(_ data: [UInt8], arch: String?) -> (rip: UInt64, rsp: UInt64)? {
        guard arch == "x86_64", data.count >= x86RegsSize else { return nil }
        func le64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(data[at + $1]) << (8 * UInt64($1)) } }
        return (le64(x86RIP), le64(x86RSP))
    }

    /// Seals by name ("shrink|grow|seal"), a bit without one in hex; "none" for 0.
    static func seals(_ word: UInt32) -> String {
        let names: [(Int, String)] = [(CKPT_F_SEAL_SEAL, "seal"), (CKPT_F_SEAL_SHRINK, "shrink"), (CKPT_F_SEAL_GROW, "grow"),
                                        (CKPT_F_SEAL_WRITE, "write"), (CKPT_F_SEAL_FUTURE_WRITE, "future-write")]
        var parts = names.filter { word & UInt32($0.0) != 0 }.map(\.1)
        let rest = names.reduce(word) { $0 & ~UInt32($1.0) }
        if rest != 0 { parts.append(Format.hex(UInt64(rest))) }
        return parts.isEmpty ? "none" : parts.joined(separator: "|")
    }

    static func text(_ meta: RecordMeta?, entry: ImageIndexEntry, regs: (rip: UInt64, rsp: UInt64)?, pageSize: UInt32 = 4096) -> String {
        let h = Format.hex
        guard let meta else { return "(meta does not decode)" }
        switch meta {
        case let .header(m):
            let kind = m.isPreCopy ? " pre-copy (memory only)" : ""
            let parent = m.parentCrid.map { " parent crid \($0)" } ?? ""
            return "\(m.arch) page-size \(m.pageSize) release \(m.release) time \(Format.time(ns: m.timeNs))\(kind)\(parent)"
        case let .task(m):
            let root = m.root.flatMap { $0 == "/" ? nil : " root \(JSON.quote($0))" } ?? ""
            let persona = m.personality.flatMap { $0 == 0 ? nil : " personality \(h(UInt64($0)))" } ?? ""
            let group = m.pgid.map { " pgid \($0)" } ?? ""
            let session = m.sid.map { " sid \($0)" } ?? ""
            let zombie = m.exitStatus.map { " zombie (\(WaitStatus($0)))" } ?? ""
            return "pid \(m.pid) tgid \(m.tgid) ppid \(m.ppid)\(group)\(session) comm \(JSON.quote(m.comm)) uid \(m.uid) gid \(m.gid) euid \(m.euid) egid \(m.egid)\(root)\(persona)\(zombie)"
        case let .regs(m):
            let r = regs.map { " rip \(h($0.rip)) rsp \(h($0.rsp))" } ?? ""
            let mask = m.sigmask.map { " blocked \(h($0))" } ?? ""
            let pending = m.sigpending.flatMap { $0 == 0 ? nil : " pending \(h($0))" } ?? ""
            let alt = m.altstack.flatMap { $0.sp == 0 ? nil : " altstack \(h($0.sp))+\($0.size)" } ?? ""
            return "tid \(m.tid)\(r)\(mask)\(pending)\(alt) (\(entry.dataLength) bytes)"
        case let .mm(m):
            let dumpable = m.dumpable.map { " dumpable \($0)" } ?? ""
            return "code \(h(m.startCode))-\(h(m.endCode)) data \(h(m.startData))-\(h(m.endData)) brk \(h(m.startBrk))-\(h(m.brk)) stack \(h(m.startStack))\(dumpable)"
        case let .vma(m):
            let pages = (m.end &- m.start) / UInt64(max(1, pageSize))
            // pgoff means something only for a file (anonymous vmas carry start >> PAGE_SHIFT).
            let file = m.path == nil ? "" : " pgoff \(m.pgoff)"
            return "\(h(m.start))-\(h(m.end)) \(Format.vmFlags(m.vmFlags))\(file) (\(Format.size(m.end &- m.start)), \(Format.count(pages, "page")))"
                + (m.path.map { " \($0)" } ?? "")
        case let .pages(m):
            return "\(h(m.addr)) x \(Format.count(UInt64(m.nrPages), "page")) (\(Format.size(entry.dataLength)))"
        case let .parentPages(m):
            return "\(h(m.addr)) x \(Format.count(UInt64(m.nrPages), "page")) in the parent image"
        case let .file(m):
            return "fd \(m.fd) flags \(h(UInt64(m.fFlags))) pos \(m.pos)" + (m.path.map { " \($0)" } ?? "")
        case let .trailer(m):
            return "threads \(m.nrThreads) vmas \(m.nrVMAs) pages \(m.nrPagesTotal) files \(m.nrFiles)"
        case let .sigactions(m):
            let pending = m.sharedPending.flatMap { $0 == 0 ? nil : ", pending \(h($0))" } ?? ""
            return "\(m.nrSigs) signals\(pending) (\(entry.dataLength) bytes)"
        case let .xstate(m):
            return "xfeatures \(h(m.xfeatures)) (\(entry.dataLength) bytes)"
        case let .rlimits(m):
            return "\(m.nrRlimits) limits (\(entry.dataLength) bytes)"
        case let .pipe(m):
            return "size \(m.size) holds \(m.bytes) bytes (\(entry.dataLength) captured)"
        case let .siginfo(m), let .sharedSiginfo(m):
            return "\(m.nrSiginfo) of \(m.nrQueued) queued signals (\(entry.dataLength) bytes)"
        case let .shmem(m):
            return "shared memory object inode \(m.inode), \(Format.size(m.size))" + (m.seals.map { ", seals \(Self.seals($0))" } ?? "")
        case .fdinfo:
            return "\(entry.dataLength) bytes of fdinfo text"
        case let .unix(m):
            let kind = [SOCK_STREAM.rawValue: "stream", SOCK_DGRAM.rawValue: "datagram",
                        SOCK_SEQPACKET.rawValue: "seqpacket"][m.type] ?? "type \(m.type)"
            var state = [UInt32(TCP_ESTABLISHED): "connected", UInt32(TCP_CLOSE): "unconnected",
                         UInt32(TCP_LISTEN): "listening"][m.state] ?? "state \(m.state)"
            if let backlog = m.backlog { state += " (backlog \(backlog), \(m.queued ?? 0) waiting)" }
            let on = m.address.map { " on \($0)" } ?? ""
            let peer = m.peerInode == 0 ? "no peer" : "peer socket:[\(m.peerInode)]\(m.peerAddress.map { " on \($0)" } ?? "")"
            let flags = Format.sockFlags(m.flags).map { " " + $0 } ?? ""
            let shut = m.shutdown == 0 ? "" : " shutdown \(m.shutdown)"
            return "unix \(kind) \(state)\(on) \(peer)\(shut)\(flags) holds \(m.bytes) bytes (\(entry.dataLength) captured)"
        case let .inet(m):
            let proto = m.proto == UInt32(IPPROTO_TCP) ? "tcp" : m.proto == UInt32(IPPROTO_UDP) ? "udp" : "protocol \(m.proto)"
            let family = m.family == UInt32(AF_INET6) ? "6" : ""
            let state = m.state == UInt32(TCP_LISTEN) ? "listening (backlog \(m.backlog))"
                : m.state == UInt32(TCP_CLOSE) ? (m.address == nil ? "unbound" : "bound")
                : m.state == UInt32(TCP_ESTABLISHED) ? "connected" : "state \(m.state)"
            let on = m.address.map { " on \($0)" } ?? ""
            let peer = m.peer.map { " to \($0)" } ?? ""
            let flags = Format.sockFlags(m.flags).map { " " + $0 } ?? ""
            let shut = m.shutdown == 0 ? "" : " shutdown \(m.shutdown)"
            return "\(proto)\(family) \(state)\(on)\(peer)\(shut)\(flags) held \(m.queued) unread"
        }
    }

    static func json(_ meta: RecordMeta?, regs: (rip: UInt64, rsp: UInt64)?) -> JSON {
        func u(_ v: UInt64) -> JSON { .uint(v) }
        func u32(_ v: UInt32) -> JSON { .uint(UInt64(v)) }
        guard let meta else { return .null }
        switch meta {
        case let .header(m):
            var fields: [(String, JSON)] = [("arch", .string(m.arch)), ("page_size", u32(m.pageSize)), ("release", .string(m.release)),
                                            ("time_ns", u(m.timeNs))]
            if let crid = m.parentCrid { fields.append(("parent_crid", u(crid))) }
            if m.checkpointFlags != 0 { fields.append(("checkpoint_flags", u32(m.checkpointFlags))) }
            return .object(fields)
        case let .task(m):
            var fields: [(String, JSON)] = [
                ("pid", u32(m.pid)), ("tgid", u32(m.tgid)), ("ppid", u32(m.ppid)), ("comm", .string(m.comm)),
                ("uid", u32(m.uid)), ("gid", u32(m.gid)), ("euid", u32(m.euid)), ("egid", u32(m.egid))]
            if let cwd = m.cwd { fields.append(("cwd", .string(cwd))) }
            if let root = m.root { fields.append(("root", .string(root))) }
            if let umask = m.umask { fields.append(("umask", u32(umask))) }
            if let p = m.personality { fields.append(("personality", u32(p))) }
            if let pgid = m.pgid { fields.append(("pgid", u32(pgid))) }
            if let sid = m.sid { fields.append(("sid", u32(sid))) }
            if let status = m.exitStatus { fields.append(("exit_status", u32(status))) }
            return .object(fields)
        case let .regs(m):
            var fields: [(String, JSON)] = [("tid", u32(m.tid))]
            if let mask = m.sigmask { fields.append(("sigmask", u(mask))) }
            if let p = m.sigpending { fields.append(("sigpending", u(p))) }
            if let a = m.altstack {
                fields += [("altstack_sp", u(a.sp)), ("altstack_size", u(a.size)), ("altstack_flags", u32(a.flags))]
            }
            if let regs { fields += [("rip", u(regs.rip)), ("rsp", u(regs.rsp))] }
            return .object(fields)
        case let .mm(m):
            return .object([("start_code", u(m.startCode)), ("end_code", u(m.endCode)), ("start_data", u(m.startData)),
                            ("end_data", u(m.endData)), ("start_brk", u(m.startBrk)), ("brk", u(m.brk)),
                            ("start_stack", u(m.startStack)), ("arg_start", u(m.argStart)), ("arg_end", u(m.argEnd)),
                            ("env_start", u(m.envStart)), ("env_end", u(m.envEnd)), ("dumpable", m.dumpable.map { u32($0) } ?? .null)])
        case let .vma(m):
            return .object([("start", u(m.start)), ("end", u(m.end)), ("vm_flags", u(m.vmFlags)), ("prot", .string(Format.vmFlags(m.vmFlags))),
                            ("pgoff", u(m.pgoff)), ("path", .optional(m.path))])
        case let .pages(m), let .parentPages(m):
            return .object([("addr", u(m.addr)), ("nr_pages", u32(m.nrPages))])
        case let .file(m):
            var fields: [(String, JSON)] = [("fd", u32(m.fd)), ("f_flags", u32(m.fFlags)), ("pos", u(m.pos)), ("path", .optional(m.path))]
            if let id = m.fileID { fields.append(("file_id", u(id))) }
            return .object(fields)
        case let .trailer(m):
            return .object([("nr_threads", u32(m.nrThreads)), ("nr_vmas", u32(m.nrVMAs)), ("nr_pages_total", u(m.nrPagesTotal)),
                            ("nr_files", u32(m.nrFiles))])
        case let .sigactions(m):
            var fields: [(String, JSON)] = [("nr_sigs", u32(m.nrSigs))]
            if let p = m.sharedPending { fields.append(("shared_pending", u(p))) }
            return .object(fields)
        case let .xstate(m):
            return .object([("xfeatures", u(m.xfeatures))])
        case let .rlimits(m):
            return .object([("nr_rlimits", u32(m.nrRlimits))])
        case let .pipe(m):
            return .object([("pipe_size", u32(m.size)), ("pipe_bytes", u32(m.bytes))])
        case let .siginfo(m), let .sharedSiginfo(m):
            return .object([("nr_siginfo", u32(m.nrSiginfo)), ("nr_queued", u32(m.nrQueued))])
        case let .shmem(m):
            return .object([("ino", u(m.inode)), ("size", u(m.size))] + (m.seals.map { [("seals", u32($0))] } ?? []))
        case .fdinfo:
            return .object([])
        case let .unix(m):
            return .object([("sock_type", u32(m.type)), ("sock_state", u32(m.state)), ("sock_flags", u32(m.flags)),
                            ("peer_ino", u(m.peerInode)), ("sock_shutdown", u32(m.shutdown)), ("sock_bytes", u(m.bytes)),
                            ("sndbuf", u32(m.sndbuf)), ("rcvbuf", u32(m.rcvbuf)),
                            ("sock_addr", .optional(m.address?.description)),
                            ("sock_peer_addr", .optional(m.peerAddress?.description)),
                            ("sock_backlog", m.backlog.map { u32($0) } ?? .null),
                            ("sock_queued", m.queued.map { u32($0) } ?? .null)])
        case let .inet(m):
            return .object([("sock_family", u32(m.family)), ("sock_type", u32(m.type)), ("sock_protocol", u32(m.proto)),
                            ("sock_state", u32(m.state)), ("sock_flags", u32(m.flags)), ("sock_shutdown", u32(m.shutdown)),
                            ("sock_backlog", u32(m.backlog)), ("sock_queued", u32(m.queued)), ("sndbuf", u32(m.sndbuf)),
                            ("rcvbuf", u32(m.rcvbuf)), ("sock_addr", .optional(m.address?.description)),
                            ("sock_peer_addr", .optional(m.peer?.description))])
        }
    }

    /// Decodes a record's meta (nil when it does not: `show` still lists the record).
    static func decode(_ type: RecordType, _ bytes: UnsafeRawBufferPointer) -> (RecordMeta?, String?) {
        do throws(ProtocolError) {
            return (try RecordMeta(type: type, payload: bytes), nil)
        } catch {
            return (nil, "\(error)")
        }
    }
}

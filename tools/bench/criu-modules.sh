# Sourced by the guest scripts that run CRIU (vs-criu-guest, vs-criu-profile-guest,
# restore-matrix-guest): CRIU asks the kernel about sockets (sock_diag) and network state
# even for a process that has none; without these modules its dump fails.
# load_criu_modules [NOTE_CMD]: modprobe each; NOTE_CMD (say, `say`) is called with a note
# for each module that fails to load.
load_criu_modules() {
	local m
	for m in nf_tables veth netlink_diag unix_diag inet_diag tcp_diag udp_diag raw_diag af_packet_diag; do
		modprobe "$m" 2>/dev/null || { [[ $# -gt 0 ]] && "$@" "note: modprobe $m failed"; }
	done
	return 0
}

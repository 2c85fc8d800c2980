# Who may send to the capture sink: only the kernel. ckpt listen's sink socket is connected
# to port 0 (GenlClient), so another process's unicast to the sink's port, forged stream
# messages or junk, is refused at its send (ECONNREFUSED) and never queued where the
# listener would read it; the listener takes no sender address per datagram and checks
# none. NETLINK_GENERIC already refuses unicasts to a port from a process without
# CAP_NET_ADMIN over the network namespace (EPERM: uid 65534, root of a user namespace
# that shares the host's); root has it, and is what the connection refuses. The listener
# still records a checkpoint after.
t_sink_refuses_other_senders() {
	restore_listen || return 1
	local port as res want
	port=$(sed -n 's/.*sink port \([0-9][0-9]*\).*/\1/p' l.log | head -1)
	[[ -n $port ]] || { why="no sink port in the listener's log: $(grep listening l.log)"; return 1; }
	for as in "$AS_NOBODY" "$AS_USERNS_ROOT" ""; do
		want="EPERM|ECONNREFUSED"
		[[ -n $as ]] || want=ECONNREFUSED
		# A netlink header and zeros: the kernel refuses by sender, not by content.
		res=$($as /usr/bin/python3 - "$port" <<'EOF' 2>&1
import errno, socket, struct, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
s.bind((0, 0))
msg = struct.pack("=IHHII", 36, 0x20, 0, 1, s.getsockname()[0]) + bytes(20)
try:
    s.sendto(msg, (port, 0))
    print("sent")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
)
		[[ $res =~ ^($want)$ ]] || { why="a send to the sink's port as ${as:-root}: $res, expected $want"; return 1; }
	done
	grep -q 'malformed\|ignored' l.log && { why="the listener read something: $(grep -m2 'malformed\|ignored' l.log)"; return 1; }
	start_target t.out 1
	checkpoint_to_image $T || return 1
	$CKPT_CLI verify $img >v.out 2>&1 || { why="verify: $(tail -3 v.out)"; return 1; }
}

# The user-namespace policy (SECURITY.md): root of a user namespace made by an
# unprivileged user may register a sink in a network namespace it owns and
# checkpoint and restart tasks of its own namespace; it may not register in the
# host's netns, nor touch the host's tasks or read its counters.
t_userns_policy() {
	start_target t.out 1
	kill -STOP $T
	cat >$W/inside.sh <<EOS
set -u
$K sink $W/u >$W/u-sink.out 2>&1 &
sleep 0.5
$B/ktarget 1 >$W/u-t.out & t=\$!
sleep 0.5; kill -STOP \$t; sleep 0.2
echo "inside-checkpoint: \$($K checkpoint \$t)"
wait %1
echo "inside-restart: \$($K restart \$t \$(ls $W/u-*.img) --validate-only)"
echo "host-checkpoint: \$($K checkpoint $T)"
echo "host-restart: \$($K send restart-begin pid:u32=$T)"
echo "host-stats: \$($K send stats-get)"
kill -9 \$t
EOS
	chmod 755 $W/inside.sh; chmod 777 $W
	out=$(timeout 60 $AS_USER unshare -Urn bash $W/inside.sh 2>&1) || true
	chmod 755 $W
	[[ $out == *"inside-checkpoint: ok crid="* ]] || { why="own task: $out"; return 1; }
	[[ $out == *"inside-restart: ok validated"* ]] || { why="own restart: $out"; return 1; }
	expect_err "$(grep host-checkpoint <<<"$out")" EPERM "CAP_CHECKPOINT_RESTORE" || { why="host task: $why"; return 1; }
	expect_err "$(grep host-restart <<<"$out")" EPERM "CAP_CHECKPOINT_RESTORE" || { why="host restart: $why"; return 1; }
	# The counters count every namespace's streams: root of this one reads none of them.
	expect_err "$(grep host-stats <<<"$out")" EPERM "the counters are the host's" || { why="host stats: $why"; return 1; }
	out=$($AS_USERNS_ROOT $K sink $W/h) || true
	expect_err "$out" EPERM "over the network namespace" || { why="host netns sink: $why"; return 1; }
}

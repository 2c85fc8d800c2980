# Restart writes the image's memory back: validate-only changes nothing, a
# real restart rolls the counters back to the checkpoint.
t_restart_rollback() {
	start_target t.out 1
	start_sink sink.out
	sleep 0.3
	out=$($K checkpoint $T --stop) || { why="checkpoint: $out"; return 1; }
	local at=$(last_tick t.out)
	wait $S
	img=$(ls $W/s-*.img)
	wait_for t.out "^tick $((at + 10)) " 20 || { why="target stuck at $(last_tick t.out)"; return 1; }
	kill -STOP $T; sleep 0.2
	out=$($K restart $T $img --validate-only) || { why="validate-only: $out"; return 1; }
	kill -CONT $T; sleep 0.5
	local now=$(last_tick t.out)
	((now > at + 10)) || { why="validate-only changed the task ($at -> $now)"; return 1; }
	kill -STOP $T; sleep 0.2
	local before=$(last_tick t.out)
	out=$($K restart $T $img) || { why="restart: $out"; return 1; }
	kill -CONT $T; sleep 0.5
	local after
	after=$(grep '^tick' t.out | awk -v b=$before 'f {print $2; exit} $2 == b {f=1}')
	[[ -n $after ]] && ((after <= at + 2)) ||
		{ why="no rollback: checkpoint at tick $at, stopped at $before, then $after"; return 1; }
	grep -q "^tick $after heap $after stack $after" t.out ||
		{ why="heap/stack counters not restored: $(grep "^tick $after " t.out)"; return 1; }
}

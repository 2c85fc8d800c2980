# Two streams at once, interleaved at the sink, both complete with their own crid.
t_two_at_once() {
	start_target t.out 4; local a=$T
	start_target t2.out 4; local b=$T
	start_sink sink.out --streams 2 --slow-ms 1
	$K checkpoint $a --stop >ck1.out & local c1=$!
	$K checkpoint $b --stop >ck2.out & local c2=$!
	wait $c1 || { why="first: $(cat ck1.out)"; return 1; }
	wait $c2 || { why="second: $(cat ck2.out)"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	[[ $(grep -c 'stream crid=.* ok' sink.out) == 2 ]] || { why="sink: $(cat sink.out)"; return 1; }
	[[ $(sed 's/.*crid=\([0-9]*\).*/\1/' ck1.out) != $(sed 's/.*crid=\([0-9]*\).*/\1/' ck2.out) ]] ||
		{ why="same crid twice"; return 1; }
}

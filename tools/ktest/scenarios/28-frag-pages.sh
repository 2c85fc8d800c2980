# Page data rides in page fragments: each stream copies the target's pages into pages
# of its own ring (sized at admission: the sink's receive buffer plus two messages) and
# takes the oldest back once the sink has read it, when only the ring holds it (emit.c).
# A sink that keeps up: most pages are reused, few allocated. A sink that grows its
# buffer after the first message and then stalls holds far more pages than the ring:
# those are replaced by new pages, never overwritten, and the image equals the task.
stat_of() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
t_frag_pages() {
	local s0 s1 new reused img
	start_target t.out 32
	kill -STOP $T
	s0=$($K stats)
	start_sink sink.out --rcvbuf 262144
	out=$($K checkpoint $T --timeout 60000) || { why="checkpoint: $out"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
	img=$(ls $W/s-*.img)
	v=$($K verify $img $T) || { why="fast sink: $v"; return 1; }
	s1=$($K stats)
	new=$(($(stat_of frag-pages-new "$s1") - $(stat_of frag-pages-new "$s0")))
	reused=$(($(stat_of frag-pages-reused "$s1") - $(stat_of frag-pages-reused "$s0")))
	# 32 MiB of heap: 8192 pages and more; the ring is a few hundred.
	((new + reused >= 8192 && reused > 8 * new)) || { why="fast sink: $new pages allocated, $reused reused"; return 1; }
	echo "fast sink: $new pages allocated, $reused reused"

	rm -f "$img"
	start_sink sink2.out --rcvbuf 65536 --grow-rcvbuf 8388608 --stall-ms 1500
	out=$($K checkpoint $T --timeout 60000) || { why="checkpoint: $out"; return 1; }
	wait $S || { why="grown sink: $(cat sink2.out)"; return 1; }
	grep -q 'stream crid=.* ok' sink2.out || { why="grown sink: $(cat sink2.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="grown sink: $v"; return 1; }
	s0=$s1 s1=$($K stats)
	new=$(($(stat_of frag-pages-new "$s1") - $(stat_of frag-pages-new "$s0")))
	reused=$(($(stat_of frag-pages-reused "$s1") - $(stat_of frag-pages-reused "$s0")))
	# The ring: 60 pages at most (2 x 65536 / 4096 + 28); the stall queues megabytes.
	((new > 1000)) || { why="grown sink: only $new pages allocated ($reused reused): queued pages were not replaced"; return 1; }
	echo "grown sink: $new pages allocated, $reused reused"
}

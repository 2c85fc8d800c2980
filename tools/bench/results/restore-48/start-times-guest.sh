# Start times of short commands (README); OUT=DIR HELLO=BINARY. The strace at the end (-f) breaks the traced restore: run without -f for a timeline.
set -u
B=/tmp/ckpt; cp /work/main/.build-release/x86_64-unknown-linux-gnu/release/ckpt $B
cp "${HELLO:?a static Swift print binary: swiftc -O -static-stdlib hello.swift}" /tmp/hello
source "$(dirname "$0")/one-checkpoint.sh"
t() { local a=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local b=$EPOCHREALTIME; echo $(( (${b/./}-${a/./})/1000 )); }
for r in 1 2 3 4 5 6 7 8; do
  echo "R true $(t /bin/true) hello $(t /tmp/hello) version $(t $B --version) check $(t $B restore $IMG/$crid.ckpt --check) help $(t $B restore --help)"
done
strace -f -ttt -o $OUT/strace.txt $B restore $IMG/$crid.ckpt > /tmp/o 2>&1; cat /tmp/o
np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np
a=$EPOCHREALTIME; $B restore $IMG/$crid.ckpt > /tmp/o 2>&1; b=$EPOCHREALTIME; echo "full $(( (${b/./}-${a/./})/1000 ))"
np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np
perf --version 2>&1 | head -1

set -u
V=/tmp/b28/vars
for n in 0 1 2 4; do cp $V/ckpt-v$n /tmp/ckpt-v$n; done
modprobe libcrc32c; insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || echo insmod failed
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
mkdir -p /tmp/img; /tmp/ckpt-v0 listen --dir /tmp/img --status never >/dev/null 2>/tmp/listen.log &
for i in $(seq 300); do grep -q listening /tmp/listen.log && break; sleep 0.1; done
t() { local a=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local b=$EPOCHREALTIME; echo "t $(( (10#${b/./} - 10#${a/./}) / 1000 )) $1 $2"; }
for r in 1 2 3 4 5 6; do for n in 0 1 2 4; do t /tmp/ckpt-v$n --version; t /tmp/ckpt-v$n show; done; done
log=/tmp/target.log; setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 $log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
for i in $(seq 600); do grep -q "^tick 20 pid $pid\$" $log 2>/dev/null && break; sleep 0.1; done
/tmp/ckpt-v0 checkpoint $pid --stop; sleep 2; kill -9 $pid; img=$(ls -t /tmp/img/*.ckpt | head -1)
for r in 1 2 3 4 5 6; do for n in 0 1 2 4; do
  a=$EPOCHREALTIME; out=$(/tmp/ckpt-v$n restore $img 2>&1); rc=$?; b=$EPOCHREALTIME
  np=$(echo "$out" | sed -n 's/.*restored pid \([0-9]*\).*/\1/p'); [ -n "$np" ] && kill -9 $np
  echo "r $(( (10#${b/./} - 10#${a/./}) / 1000 )) /tmp/ckpt-v$n restore rc=$rc"; sleep 0.3
done; done

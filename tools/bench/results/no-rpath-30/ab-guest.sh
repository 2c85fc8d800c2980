# D=DIR ab-guest.sh [BINDIR...]: in the guest, DIR (a --share) holding ckpt-old, ckpt-new,
# ckpt.ko and target.py; the two builds run from each BINDIR (default: DIR itself, an
# uncached 9p share, and a copy in the guest's tmpfs, /tmp/bin).
set -u
. "$(dirname "$0")/../../restore-ab-lib.sh"
mkdir -p /tmp/bin
cp $D/ckpt-old $D/ckpt-new /tmp/bin/
restore_ab_listen $D/ckpt-new
t() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local rc=$?; local e=$EPOCHREALTIME; echo "$(( (${e/./}-${s/./})/1000 )) rc=$rc"; }
one() { # one BINARY: checkpoint a fresh target, restore it with BINARY
  fresh_checkpoint $D/ckpt-new
  echo "restore $1 $(t $1 restore $image)"
  kill_restored
}
dirs=("$@"); [ $# -gt 0 ] || dirs=("$D" /tmp/bin)
for r in $(seq 8); do
  if [ $((r % 2)) = 0 ]; then order="old new"; else order="new old"; fi
  for w in $order; do
    for dir in "${dirs[@]}"; do one $dir/ckpt-$w; echo "version $dir/ckpt-$w $(t $dir/ckpt-$w --version)"; done
  done
done

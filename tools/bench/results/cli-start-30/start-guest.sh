set -u
D=$(dirname $0)
cp $D/ckpt $D/hello /tmp/
t() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local e=$EPOCHREALTIME; echo $(( (${e/./}-${s/./})/1000 )); }
for what in "/bin/true" "/tmp/hello" "/tmp/ckpt --version" "/tmp/hello" "/tmp/ckpt restore /nonexistent"; do
  ms=""; for i in $(seq 12); do ms="$ms $(t $what)"; done; echo "$what:$ms"
done
cd /tmp && perf record -q -F 2000 -g -o /tmp/v.data -- bash -c 'for i in $(seq 30); do /tmp/ckpt --version >/dev/null; done' 2>/dev/null
perf report -i /tmp/v.data --no-children --comm ckpt --sort dso -g none 2>/dev/null | grep "%" | head -8
perf report -i /tmp/v.data --no-children --comm ckpt --sort sym -g none 2>/dev/null | grep "%" | head -40

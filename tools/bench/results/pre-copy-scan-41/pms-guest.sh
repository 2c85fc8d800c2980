setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 256 /tmp/t.log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
while ! grep -q "^tick 20" /tmp/t.log 2>/dev/null; do sleep 0.2; done
for i in 1 2 3; do
echo 4 > /proc/$pid/clear_refs; sleep 1; kill -STOP $pid; sleep 0.2
/tmp/pms/pms $pid; /tmp/pms/pms $pid
kill -CONT $pid
done

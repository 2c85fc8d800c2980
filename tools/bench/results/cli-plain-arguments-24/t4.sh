#!/bin/bash
cp /tmp/clis/ckpt-new /tmp/clis/ckpt-old /tmp/clis/ckpt-run /tmp/
t() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local e=$EPOCHREALTIME; echo "$(( (${e/./}-${s/./})/1000 )) $*"; }
for i in 1 2 3 4 5 6 7 8; do
t /tmp/ckpt-old restore /nonexistent.ckpt
t /tmp/ckpt-new restore /nonexistent.ckpt
t /tmp/ckpt-run restore /nonexistent.ckpt
t /tmp/ckpt-old checkpoint 999999 --stop
t /tmp/ckpt-new checkpoint 999999 --stop
t /tmp/ckpt-run checkpoint 999999 --stop
done

#!/bin/bash
cp /tmp/clis/ckpt-exp /tmp/clis/hello /tmp/
t() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local e=$EPOCHREALTIME; echo "$(( (${e/./}-${s/./})/1000 )) $*"; }
for i in 1 2 3 4 5 6 7 8; do
t /bin/true
t /tmp/hello
t /tmp/ckpt-exp --exit-now
t /tmp/ckpt-exp --version
t /tmp/ckpt-exp restore /nonexistent.ckpt
t /tmp/ckpt-exp checkpoint --help
done

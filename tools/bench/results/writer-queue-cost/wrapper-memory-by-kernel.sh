#!/bin/sh
# restore with --memory-by kernel; anything else as is
if [ "$1" = restore ]; then exec /work/main/.build-release/release/ckpt "$@" --memory-by kernel; fi
exec /work/main/.build-release/release/ckpt "$@"

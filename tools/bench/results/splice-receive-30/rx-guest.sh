for i in 1 2 3; do /tmp/g30/rx recv 128; /tmp/g30/rx splice 128; done

# sourced: hold this VM's free page reporting for the caller's life (as tools/bench/run
# does) and write 2.5 GiB once to warm the page cache's pages up.
P=/sys/module/page_reporting/parameters/page_reporting_order; was=$(cat $P); echo 11 > $P
trap 'echo $was > $P; [ -n "${W:-}" ] && rm -rf "$W"' EXIT
dd if=/dev/zero of=/var/tmp/ab29-warm bs=1M count=2560 status=none; rm /var/tmp/ab29-warm

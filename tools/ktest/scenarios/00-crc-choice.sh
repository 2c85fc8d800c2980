# SPDX-License-Identifier: GPL-2.0
# At load the module times crc32c() (the CPU's instruction where it has one) against
# the kernel's slice-by-8 table over 32 KiB, checks that both give the same value (a
# WARN, which fails dmesg-clean, if not) and runs the faster for every stream checksum.
# Its log line names the choice and both timings: the choice must be the faster one.
# (Under qemu's TCG, where these scenarios run, that is the table; every scenario that
# streams or restores then checks the table's value against the listener's or the CLI's.)
t_crc_choice() {
	local line lib table want
	line=$(dmesg | sed -n 's/.*ckpt: CRC-32C by \(.*\)$/\1/p' | tail -1)
	[[ -n $line ]] || { why="no 'ckpt: CRC-32C by' line in the log after load"; return 1; }
	lib=$(sed -n 's/.*crc32c() \([0-9]*\) ns.*/\1/p' <<<"$line")
	table=$(sed -n 's/.*slice-by-8 \([0-9]*\) ns.*/\1/p' <<<"$line")
	[[ -n $lib && -n $table ]] || { why="no timings in: $line"; return 1; }
	if ((table < lib)); then want="slice-by-8 table"; else want="crc32c()"; fi
	[[ $line == "$want ("* ]] || { why="chose '${line%% (*}' with crc32c() $lib ns, table $table ns"; return 1; }
	echo "chose $want: crc32c() $lib ns, slice-by-8 $table ns"
}

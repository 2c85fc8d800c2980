# The kernel's own YNL client, driven by our spec, agrees with the family.
t_ynl_cli() {
	local ynl=$repo/.build-ynl/linux-source-6.12/tools/net/ynl
	local spec=$repo/kernel-patch/Documentation/netlink/specs/ckpt.yaml
	[[ -f $ynl/cli.py ]] || { why="no $ynl/cli.py (tools/ynl-regen extracts it)"; return 1; }
	local cli="python3 $ynl/cli.py --spec $spec --no-schema"
	out=$($cli --do stats-get 2>&1) || { why="stats-get: $out"; return 1; }
	[[ $out == *"'streams'"* ]] || { why="stats-get: $out"; return 1; }
	out=$($cli --do checkpoint --json '{"pid": 0}' 2>&1) || true
	[[ $out == *"integer out of range"* ]] || { why="checkpoint pid 0: $out"; return 1; }
	out=$($cli --do checkpoint --json '{"pid": 999999}' 2>&1) || true
	[[ $out == *"no such process"* ]] || { why="checkpoint pid 999999: $out"; return 1; }
}

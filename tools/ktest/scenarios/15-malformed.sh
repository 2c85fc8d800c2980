# Malformed requests, each with its exact errno and extack text. Every command
# has a policy: unknown attributes are rejected, also by the commands that
# take none (sink-register, sink-unregister, stats-get).
t_malformed() {
	local n=0 line cmd errno text out past
	# One past the last record type of the UAPI header (entries from UNSPEC = 0 on).
	past=$(sed -n '/^enum ckpt_record_type {/,/^};/p' $here/../../kernel-patch/include/uapi/linux/ckpt.h | grep -c 'CKPT_RECORD_TYPE_')
	((past > 16)) || { why="could not count the record types of the UAPI header ($past)"; return 1; }
	# The lowest checkpoint flag the header does not define (its mask is every defined bit).
	local unknown
	unknown=$(sed -n 's/.*CKPT_CHECKPOINT_FLAGS_MASK = \([0-9]*\),/\1/p' $here/../../kernel-patch/include/uapi/linux/ckpt.h)
	((unknown >= 15)) || { why="could not read CKPT_CHECKPOINT_FLAGS_MASK from the UAPI header ('$unknown')"; return 1; }
	unknown=$((unknown + 1))
	start_target t.out 1
	start_sink sink.out
	while IFS='|' read -r errno text cmd; do
		[[ -n $errno ]] || continue
		out=$(eval "$K send $cmd") || true
		expect_err "$out" "$errno" "$text" || { why="send $cmd: $why"; return 1; }
		n=$((n + 1))
	done <<EOT
EINVAL|missing required attribute CKPT_A_PID|checkpoint
ERANGE|integer out of range|checkpoint pid:u32=0
EINVAL|reserved bit set|checkpoint pid:u32=$T flags:u32=$unknown
EINVAL|not with pre-copy|checkpoint pid:u32=$T flags:u32=10
EINVAL|not with stop|checkpoint pid:u32=$T flags:u32=3
EINVAL|go together|checkpoint pid:u32=$T parent-crid:u64=5
EINVAL|go together|checkpoint pid:u32=$T dirty-ranges:bin=16
EINVAL|a pre-copy has no parent|checkpoint pid:u32=$T flags:u32=2 parent-crid:u64=5 dirty-ranges:bin=0
EINVAL|16-byte ranges, at most 2048|checkpoint pid:u32=$T parent-crid:u64=5 dirty-ranges:bin=24
EINVAL|16-byte ranges, at most 2048|checkpoint pid:u32=$T parent-crid:u64=5 dirty-ranges:bin=32784
EINVAL|range 0 not aligned, ascending, disjoint|checkpoint pid:u32=$T parent-crid:u64=5 dirty-ranges:bin=16
EINVAL|range 0 not aligned, ascending, disjoint|checkpoint pid:u32=$T parent-crid:u64=5 dirty-ranges:hex=01100000000000000020000000000000
EINVAL|range 1 not aligned, ascending, disjoint|checkpoint pid:u32=$T parent-crid:u64=5 dirty-ranges:hex=0010000000000000003000000000000000200000000000000040000000000000
EINVAL|Unknown attribute type|checkpoint pid:u32=$T 99:u32=1
EINVAL|Unsupported attribute|checkpoint pid:u32=$T restart-flags:u32=1
EINVAL|invalid attribute length|checkpoint pid:u8=1
ERANGE|integer out of range|checkpoint pid:u32=$T timeout-ms:u32=3600001
ESRCH|no such process|checkpoint pid:u32=999999
EBUSY|a sink is already registered|sink-register
EINVAL|Unknown attribute type|sink-register pid:u32=1
EINVAL|Unsupported attribute|sink-register 1:u32=1
ENOENT|not the registered sink|sink-unregister
EINVAL|Unknown attribute type|sink-unregister 99:u32=1
EINVAL|Unknown attribute type|stats-get pid:u32=1
EINVAL|missing required attribute CKPT_A_PID|restart-begin
EINVAL|reserved bit set|restart-begin pid:u32=$T restart-flags:u32=4
EBUSY|not stopped|restart-begin pid:u32=$T
EINVAL|missing required attribute CKPT_A_SEQ|restart-record rsid:u32=7
ERANGE|integer out of range|restart-record rsid:u32=7 seq:u32=0 rec-type:u32=$past
ERANGE|integer out of range|restart-record rsid:u32=7 data-len:u64=99999999
ENOENT|no such restart session|restart-record rsid:u32=7 seq:u32=0 rec-type:u32=1 rec-id:u32=1 rec-parent:u32=0 data-len:u64=0 data-offset:u64=0
EINVAL|missing required attribute CKPT_A_RECORDS|restart-commit rsid:u32=7 seq:u32=0
ENOENT|no such restart session|restart-commit rsid:u32=7 seq:u32=0 records:u64=1 bytes:u64=1 checksum:u32=1
EINVAL|missing required attribute CKPT_A_RSID|restart-abort
ENOENT|no such restart session|restart-abort rsid:u32=7
EOT
	((n == 35)) || { why="ran $n cases"; return 1; }
}

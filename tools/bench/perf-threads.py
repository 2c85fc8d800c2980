#!/usr/bin/python3
"""Where a guest's CPU went, thread by thread, from `perf script` call graphs.

Usage: perf-threads.py SCRIPT KALLSYMS [--top N] [--callers SYMBOL]...

SCRIPT is `perf script -F comm,tid,ip,sym,dso` of a `perf record -g -a` (one sample: a
"comm tid" line, then one frame per line, innermost first); KALLSYMS is /proc/kallsyms of
the same boot (the host's perf cannot name the guest kernel's symbols, so this names each
kernel address by the nearest symbol at or below it). Prints each thread's share of all
samples and its hottest innermost functions, then, for each --callers SYMBOL, the call
chains that end in it (who zeroes pages, who copies). Stdlib only: the guest has no pandas.
"""
import bisect
import collections
import sys


def load_kallsyms(path):
    syms = []
    for line in open(path):
        w = line.split()
        if len(w) >= 3 and w[1] in "tTwW":
            syms.append((int(w[0], 16), w[2]))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def samples(path, addrs, names):
    def name(frame):
        tok, _, rest = frame.strip().partition(" ")
        if tok.startswith("ffff"):
            i = bisect.bisect_right(addrs, int(tok, 16)) - 1
            return names[i] if i >= 0 else tok
        sym = rest.split(" (")[0].strip()
        return sym if sym and sym != "[unknown]" else "?"

    thread, frames = None, []
    for line in open(path, errors="replace"):
        if not line.strip():
            if thread:
                yield thread, frames
            thread, frames = None, []
        elif not line[0].isspace():
            w = line.split()
            thread, frames = " ".join(w[:2]), []
        else:
            frames.append(name(line))
    if thread:
        yield thread, frames


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 else 2
    top, callers, rest = 8, [], argv[3:]
    while rest:
        opt, val, rest = rest[0], rest[1], rest[2:]
        if opt == "--top":
            top = int(val)
        elif opt == "--callers":
            callers.append(val)
        else:
            print(f"perf-threads.py: unknown option {opt}", file=sys.stderr)
            return 2
    addrs, names = load_kallsyms(argv[2])
    all_samples = list(samples(argv[1], addrs, names))
    n = len(all_samples)
    if not n:
        print("perf-threads.py: no samples", file=sys.stderr)
        return 1
    print(f"{n} samples; share of all samples (2 vCPUs: 50 % is one vCPU busy all the time)")
    by_thread = collections.defaultdict(list)
    for thread, frames in all_samples:
        by_thread[thread].append(frames)
    for thread, chains in sorted(by_thread.items(), key=lambda kv: -len(kv[1])):
        share = 100 * len(chains) / n
        if share < 1:
            continue
        print(f"{share:5.1f}%  {thread}")
        leaves = collections.Counter(c[0] if c else "?" for c in chains)
        for leaf, k in leaves.most_common(top):
            print(f"         {100 * k / n:5.1f}%  {leaf[:100]}")
    for symbol in callers:
        print(f"== call chains ending in {symbol}*")
        chains = collections.Counter(
            (thread.split()[0],) + tuple(f[:40] for f in frames[1:7])
            for thread, frames in all_samples if frames and frames[0].startswith(symbol))
        for chain, k in chains.most_common(6):
            print(f"  {100 * k / n:5.1f}%  {chain[0]}: {' < '.join(chain[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

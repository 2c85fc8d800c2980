# sum.py FILE: medians per shape and contender of ab.sh lines (wall ms / CPU s)
import sys, collections, statistics as st
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 9 or f[4] != 'wall_ms': continue
    d[(f[1], f[2], f[3], f[0].split('/')[-1])].append((int(f[5]), float(f[7]) + float(f[8])))
for s in sorted({k[:3] for k in d}, key=lambda x: (x[2], int(x[0]))):
    row = []
    for who in sorted({k[3] for k in d if k[:3] == s}):
        v = d[s + (who,)]
        row.append(f"{who} {st.median(x[0] for x in v):.0f}ms/{st.median(x[1] for x in v):.2f}s (n={len(v)})")
    print(" ".join(s), " | ".join(row))

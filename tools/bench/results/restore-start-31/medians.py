import sys,statistics as s
d={}
for l in sys.stdin:
    f=l.split()
    if len(f)<3 or not f[2].isdigit() or not f[0].startswith('v-'): continue
    d.setdefault((f[0],f[1]),[]).append(int(f[2]))
for k in sorted(d): print(k, 'n', len(d[k]), 'median', s.median(d[k]), 'min', min(d[k]))

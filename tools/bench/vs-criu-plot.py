#!/usr/bin/env python3
"""Draws a vs-criu run as an SVG (stdlib only: the machine has no matplotlib).

  tools/bench/vs-criu-plot.py RESULTS [PROFILE] > OUT.svg

RESULTS is a results file of tools/bench/vs-criu (its `result` lines; the `*-detail.txt`
next to it gives ckpt's stamped restore stages); PROFILE optionally a
tools/bench/vs-criu-profile-guest output (its "restore by symbol" table, and "criu-restore
by symbol" or else "checkpoint by symbol"). Three panels: medians of frozen, dump and
restore for ckpt and CRIU at the largest target; ckpt's restore split into its stages
(median per stage); and the profile's largest symbols for each. Every number drawn is printed in the SVG's text.
"""
import os
import re
import statistics
import sys

COLORS = {"ckpt": "#3b6ea8", "criu": "#c8772f", "ckpt-pc": "#8fb3dd", "criu-pd": "#e8b583", "ckpt-hold": "#5b9a68", "ckpt-pc-hold": "#a7d3b0"}
TOOLS = ("ckpt", "criu", "ckpt-pc", "criu-pd", "ckpt-hold", "ckpt-pc-hold")
STAGE_COLORS = ["#9fb7d6", "#3b6ea8", "#1f3d63"]


def results(path):
    """{(tool, mib): {"frozen": [s], "dump": [s], "restore": [s]}} for good runs."""
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) < 9 or f[0] != "result" or f[8] != "ok":
            continue
        d = out.setdefault((f[1], int(f[2])), {"frozen": [], "dump": [], "restore": []})
        for k, v in zip(("frozen", "dump", "restore"), f[4:7]):
            if v != "-":  # not measured in that run (the target logged no gap)
                d[k].append(int(v) / 1e6)
    return out


def stages(detail, mib):
    """Median seconds of ckpt's restore before the memory, the memory, and after."""
    runs = {}
    for line in open(detail):
        m = re.match(r"ckpt (\d+) (\d+) restore: \+(\d+) us (.*)", line)
        if m and int(m.group(1)) == mib:
            runs.setdefault(m.group(2), []).append((int(m.group(3)) / 1e6, m.group(4)))
    parts = []
    for stamps in runs.values():
        mem = next((t for t, what in stamps if "writing memory" in what), None)
        after = next((t for t, what in stamps if "restoring" in what and "thread" in what), None)
        end = stamps[-1][0]
        if mem is not None and after is not None:
            parts.append((mem, after - mem, end - after))
    if not parts:
        return None
    return [statistics.median(p[i] for p in parts) for i in range(3)]


def profile(path, section, n=6):
    """[(percent, label)]: the section's threads ("by thread": each thread's share and its
    top symbol; swapper is the idle vCPUs), or, in profiles without that table, its
    symbols ("by symbol"; pv_native_safe_halt is idle vCPU time)."""
    threads, symbols, on = [], [], None
    for line in open(path):
        if line.startswith("== "):
            head = line.strip()
            on = {f"== {section} by thread": "t", f"== {section} by symbol": "s"}.get(head)
            continue
        if on == "t":
            m = re.match(r" {0,2}([\d.]+)%\s+(\S+ \d+)$", line.rstrip())
            if m:
                threads.append([float(m.group(1)), m.group(2), None])
            elif threads and threads[-1][2] is None:
                m = re.match(r"\s+([\d.]+)%\s+(\S+)", line)
                if m:
                    threads[-1][2] = f"{m.group(2)[:30]} {m.group(1)}%"
        elif on == "s":
            m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(\S+)(?:\s+(\S+))?", line)
            if m:
                sym = m.group(4) or m.group(3)
                symbols.append((float(m.group(1)), sym if len(sym) < 40 else sym[:37] + "..."))
    if threads:
        return [(pct, f"{name}: {top}" if top else name) for pct, name, top in threads[:n]]
    return symbols[:n]


def image_mib(path):
    """The profiled image's size ("ckpt verify IMG (N bytes)" in the profile's output), in MiB."""
    for line in open(path):
        m = re.match(r"ckpt verify \S+ \((\d+) bytes\)", line)
        if m:
            return f"{int(m.group(1)) / 2**20:.0f} MiB image"
    return "image size not in the profile"


def svg(res, stage, panels, prof_label, title):
    w, h = 960, 620
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="20" y="24" font-size="16">{title}</text>']
    mib = max(m for _, m in res)
    # Panel 1: medians at the largest target.
    x0, y0, ph, pw = 40, 60, 220, 420
    out.append(f'<text x="{x0}" y="{y0 - 8}">python3 {mib} MiB: medians (s)</text>')
    keys = ("frozen", "dump", "restore")
    tools = [t for t in TOOLS if (t, mib) in res]
    top = max(statistics.median(res[(t, mib)][k]) for t in tools for k in keys)
    slots = len(tools) + 1
    bw = pw / (len(keys) * slots)
    for i, k in enumerate(keys):
        for j, tool in enumerate(tools):
            v = statistics.median(res[(tool, mib)][k])
            bh = ph * v / top
            x = x0 + (i * slots + j) * bw
            out.append(f'<rect x="{x:.0f}" y="{y0 + ph - bh:.0f}" width="{bw - 4:.0f}" height="{bh:.0f}" fill="{COLORS[tool]}"/>')
            out.append(f'<text x="{x:.0f}" y="{y0 + ph - bh - 4:.0f}" font-size="10">{v:.2f}</text>')
        out.append(f'<text x="{x0 + i * slots * bw:.0f}" y="{y0 + ph + 16:.0f}">{k}</text>')
    # The legend in one row under the axis labels: over the panel it hid the tallest bars.
    for j, tool in enumerate(tools):
        out.append(f'<rect x="{x0 + j * 90}" y="{y0 + ph + 26}" width="12" height="12" fill="{COLORS[tool]}"/>')
        out.append(f'<text x="{x0 + j * 90 + 18}" y="{y0 + ph + 37}">{tool}</text>')
    # Panel 2: ckpt's restore stages.
    x1 = 500
    out.append(f'<text x="{x1}" y="{y0 - 8}">ckpt restore of {mib} MiB by stage (median s)</text>')
    if stage:
        total = sum(stage)
        names = ("start, map, fds, signals", "writing the memory", "threads, registers, detach")
        x = x1
        for i, (v, name) in enumerate(zip(stage, names)):
            bw2 = 420 * v / total
            out.append(f'<rect x="{x:.0f}" y="{y0}" width="{bw2:.0f}" height="40" fill="{STAGE_COLORS[i]}"/>')
            out.append(f'<text x="{x1}" y="{y0 + 62 + 16 * i}">{name}: {v:.2f} s</text>')
            x += bw2
        crit = statistics.median(res[("criu", mib)]["restore"]) if ("criu", mib) in res else None
        if crit:
            out.append(f'<text x="{x1}" y="{y0 + 62 + 16 * 3}">CRIU restore, whole: {crit:.2f} s</text>')
    # Panel 3: profiles.
    y2 = 360
    for k, (name, tool, rows) in enumerate(panels):
        if not rows:
            continue
        xp = 40 + k * 460
        out.append(f'<text x="{xp}" y="{y2 - 8}">{name}: share of guest samples (perf cpu-clock, {prof_label})</text>')
        for i, (pct, sym) in enumerate(rows):
            y = y2 + i * 30
            out.append(f'<rect x="{xp}" y="{y}" width="{pct * 6:.0f}" height="20" fill="{COLORS[tool]}"/>')
            out.append(f'<text x="{xp + pct * 6 + 6:.0f}" y="{y + 15}">{pct:.1f}% {sym}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    res = results(path)
    if not res:
        sys.exit(f"vs-criu-plot: no good result lines in {path}")
    mib = max(m for _, m in res)
    detail = path[:-4] + "-detail.txt" if path.endswith(".txt") else None
    stage = stages(detail, mib) if detail and os.path.exists(detail) else None
    prof = sys.argv[2] if len(sys.argv) > 2 else None
    panels = []
    if prof:
        # ckpt's restore beside CRIU's when the profile has it (vs-criu-profile-guest since
        # run 23), else beside ckpt's checkpoint.
        criu = profile(prof, "criu-restore")
        panels = [("ckpt restore", "ckpt", profile(prof, "restore")),
                  ("CRIU restore", "criu", criu) if criu else ("ckpt checkpoint", "ckpt", profile(prof, "checkpoint"))]
    print(svg(res, stage, panels, image_mib(prof) if prof else "", f"ckpt against CRIU: {os.path.basename(path)}"))


if __name__ == "__main__":
    main()

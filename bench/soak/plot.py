"""Draws a soak sample file (t_s,rss_kib,fds,data_bytes; from
bench/soak/sample.sh) as an SVG: resident memory and data directory size
over time, with the open file descriptors in the title.
Usage: plot.py samples.csv out.svg "title" """

import csv
import sys

W, H, PAD = 720, 300, 48


def main(src, out, title):
    rows = [r for r in csv.DictReader(open(src)) if r["rss_kib"]]
    t = [int(r["t_s"]) for r in rows]
    rss = [int(r["rss_kib"]) / 1024 for r in rows]
    data = [int(r["data_bytes"] or 0) / 2**20 for r in rows]
    fds = [int(r["fds"]) for r in rows]
    top = max(max(rss), max(data)) * 1.1 or 1
    span = max(t[-1], 1)
    x = lambda v: PAD + (W - 2 * PAD) * v / span
    y = lambda v: H - PAD - (H - 2 * PAD) * v / top
    line = lambda vs: " ".join("%.1f,%.1f" % (x(a), y(b)) for a, b in zip(t, vs))
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20">%s (fds %d–%d)</text>' % (PAD, title, min(fds), max(fds)),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' % (PAD, H - PAD, W - PAD, H - PAD),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' % (PAD, PAD, PAD, H - PAD)]
    for frac in (0, 0.5, 1):
        v = top * frac
        svg.append('<text x="4" y="%.1f">%.0f MiB</text>' % (y(v) + 4, v))
    svg.append('<text x="%d" y="%d">0 s</text><text x="%d" y="%d">%d s</text>' % (PAD, H - 28, W - PAD - 40, H - 28, span))
    svg.append('<polyline fill="none" stroke="#2563eb" stroke-width="2" points="%s"/>' % line(rss))
    svg.append('<polyline fill="none" stroke="#b45309" stroke-width="2" points="%s"/>' % line(data))
    svg.append('<text x="%d" y="%d" fill="#2563eb">resident memory</text>' % (W - 260, 40))
    svg.append('<text x="%d" y="%d" fill="#b45309">data directory</text>' % (W - 130, 40))
    svg.append("</svg>")
    open(out, "w").write("\n".join(svg))


if __name__ == "__main__":
    main(*sys.argv[1:4])

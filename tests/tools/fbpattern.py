#!/usr/bin/env python3
"""tests/tools/fbpattern.py FILE W H — checks a screendump (PNG or PPM, read
by tests/tools/image.py) against the pattern tests/linux/fb.sh's guest
draws into /dev/fb0: eight vertical bars, each W/8 pixels wide, in the
colours of BARS from left to right on the upper half of the screen and
right to left on the lower half. Prints the first few wrong pixels;
exit 0 when every pixel is right."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import image  # noqa: E402

BARS = [0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0xffff00, 0x00ffff, 0xff00ff, 0x808080]


def expected(x, y, w, h):
    bar = x * 8 // w
    if y >= h // 2:
        bar = 7 - bar
    return BARS[bar]


def main():
    path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    gw, gh, px = image.read(path)
    if (gw, gh) != (w, h):
        print("fbpattern: %s is %dx%d, want %dx%d" % (path, gw, gh, w, h))
        return 1
    bad = 0
    for y in range(h):
        row = px[y * w * 3:(y + 1) * w * 3]
        for x in range(w):
            got = (row[x * 3] << 16) | (row[x * 3 + 1] << 8) | row[x * 3 + 2]
            want = expected(x, y, w, h)
            if got != want:
                if bad < 5:
                    print("fbpattern: (%d,%d) is %06x, want %06x" % (x, y, got, want))
                bad += 1
    if bad:
        print("fbpattern: %d of %d pixels wrong" % (bad, w * h))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""tests/tools/image.py — reads the screendumps the tests compare: PNG
(8-bit greyscale, RGB or RGBA, not interlaced; every filter type; zlib
from the standard library, no imaging package) and binary PPM (P6, maxval
255). As a program:
  image.py info FILE             prints "W H"
  image.py same A B [TOL]        exit 0 when A and B have the same size and
                                 every colour byte differs by at most TOL
  image.py pixel FILE X Y        prints the pixel as rrggbb
"""
import struct
import sys
import zlib


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xffffffff != crc:
            raise ValueError("bad CRC in %r" % kind)
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    chans = {0: 1, 2: 3, 6: 4}.get(ctype)
    if depth != 8 or chans is None or interlace:
        raise ValueError("unsupported PNG (depth %d, colour type %d)" % (depth, ctype))
    raw = zlib.decompress(idat)
    stride = w * chans
    out, prev, pos = bytearray(), bytearray(stride), 0
    for _ in range(h):
        f, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - chans] if i >= chans else 0
            b = prev[i]
            c = prev[i - chans] if i >= chans else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 255
            elif f != 0:
                raise ValueError("bad filter %d" % f)
        prev = line
        if chans == 3:
            out += line
        else:
            for x in range(w):
                px = line[x * chans:x * chans + chans]
                out += bytes(px[:3]) if chans == 4 else bytes([px[0]] * 3)
    return w, h, bytes(out)


def read_ppm(data):
    parts, pos = [], 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    if parts[0] != b"P6" or parts[3] != b"255":
        raise ValueError("not a binary PPM with maxval 255")
    w, h = int(parts[1]), int(parts[2])
    return w, h, data[pos + 1:pos + 1 + w * h * 3]


def read(path):
    """(width, height, RGB bytes row by row)"""
    with open(path, "rb") as f:
        data = f.read()
    return read_png(data) if data[:4] == b"\x89PNG" else read_ppm(data)


def main(argv):
    if argv[1] == "info":
        w, h, _ = read(argv[2])
        print(w, h)
        return 0
    if argv[1] == "pixel":
        w, h, px = read(argv[2])
        x, y = int(argv[3]), int(argv[4])
        print(px[(y * w + x) * 3:(y * w + x) * 3 + 3].hex())
        return 0
    if argv[1] == "same":
        tol = int(argv[4]) if len(argv) > 4 else 0
        a, b = read(argv[2]), read(argv[3])
        if a[:2] != b[:2]:
            print("image: %s is %dx%d, %s %dx%d" % (argv[2], a[0], a[1], argv[3], b[0], b[1]))
            return 1
        bad = sum(1 for x, y in zip(a[2], b[2]) if abs(x - y) > tol)
        if bad:
            print("image: %s and %s differ in %d colour bytes" % (argv[2], argv[3], bad))
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

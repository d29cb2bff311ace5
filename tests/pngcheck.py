#!/usr/bin/env python3
"""pngcheck.py FILE WIDTH HEIGHT [R,G,B ...] - checks a picture nnrun drew.

FILE.png: a whole PNG (signature, every chunk's CRC, IHDR first and IEND
last, the IDAT stream inflating to exactly the bytes WIDTH x HEIGHT pixels
of its colour type take, a known filter on every row) of that size, whose
top-left pixel is white (the background) and in which each colour R,G,B
given occurs. FILE.svg: an XML document whose <svg> root has that width
and height (in pt or px). Exit status 0 when all holds, else 1 with the
reason on stderr. Python's standard library only (struct, zlib, xml).
"""
import struct
import sys
import zlib
import xml.etree.ElementTree as ET

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


class Bad(Exception):
    pass


def chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Bad("no PNG signature")
    pos, out = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            raise Bad("truncated chunk header at byte %d" % pos)
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if len(body) != n or pos + 12 + n > len(data):
            raise Bad("chunk %r truncated" % kind)
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise Bad("chunk %r: bad CRC" % kind)
        out.append((kind, body))
        pos += 12 + n
    return out


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter(raw, width, height, bpp, stride):
    """The pixel rows, PNG's per-row filters undone."""
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f > 4:
            raise Bad("row %d: unknown filter %d" % (y, f))
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[f]
            line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    return rows


def check_png(path, width, height, colours):
    with open(path, "rb") as f:
        cs = chunks(f.read())
    if not cs or cs[0][0] != b"IHDR" or cs[-1][0] != b"IEND":
        raise Bad("IHDR must come first and IEND last")
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", cs[0][1])
    if (w, h) != (width, height):
        raise Bad("%dx%d pixels, expected %dx%d" % (w, h, width, height))
    if ctype not in CHANNELS or depth != 8 or interlace:
        raise Bad("colour type %d, depth %d, interlace %d: expected 8-bit RGB(A), "
                  "not interlaced" % (ctype, depth, interlace))
    bpp = CHANNELS[ctype]
    stride = w * bpp
    raw = zlib.decompress(b"".join(body for kind, body in cs if kind == b"IDAT"))
    if len(raw) != h * (stride + 1):
        raise Bad("image data inflates to %d bytes, %dx%d needs %d"
                  % (len(raw), w, h, h * (stride + 1)))
    if ctype not in (2, 6):
        raise Bad("colour type %d: expected RGB or RGBA" % ctype)
    rows = unfilter(raw, w, h, bpp, stride)
    if tuple(rows[0][0:3]) != (255, 255, 255):
        raise Bad("the top-left pixel is %s, not white" % (tuple(rows[0][0:3]),))
    seen = set()
    for line in rows:
        for x in range(0, stride, bpp):
            seen.add(bytes(line[x:x + 3]))
    for c in colours:
        if bytes(c) not in seen:
            raise Bad("no pixel of colour %d,%d,%d" % tuple(c))


def check_svg(path, width, height):
    root = ET.parse(path).getroot()
    if not root.tag.endswith("svg"):
        raise Bad("the root element is %s, not svg" % root.tag)
    for name, want in (("width", width), ("height", height)):
        v = root.get(name, "")
        num = v[:-2] if v[-2:] in ("pt", "px") else v
        try:
            if float(num) != want:
                raise Bad("%s %s, expected %d" % (name, v, want))
        except ValueError:
            raise Bad("%s '%s' is no number" % (name, v))


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    path, width, height = argv[1], int(argv[2]), int(argv[3])
    colours = [[int(v) for v in c.split(",")] for c in argv[4:]]
    try:
        if path.endswith(".svg"):
            check_svg(path, width, height)
        else:
            check_png(path, width, height, colours)
    except (Bad, OSError, zlib.error, ET.ParseError) as e:
        sys.stderr.write("%s: %s\n" % (path, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

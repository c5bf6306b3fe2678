"""A plain Radiance RGBE (.hdr) decoder and run-length encoder, written from the format's
description (Greg Ward, "Real Pixels", Graphics Gems II, and the Radiance file format notes), pixel
by pixel with no vectorization, to check gshell.recon.bake's reader and writer against.

Only the standard orientation ``-Y H +X W`` (top row first, left to right) is handled.
"""
import math


def _header(data):
    """(width, height, offset of the pixel data)."""
    assert data[:2] == b"#?", "not a Radiance file"
    lines = data.split(b"\n")
    pos = 0
    i = 0
    while True:
        line = lines[i]
        pos += len(line) + 1
        i += 1
        if line.strip() == b"":
            break
        if line.startswith(b"FORMAT="):
            assert line.strip() == b"FORMAT=32-bit_rle_rgbe", line
    res = lines[i].split()
    pos += len(lines[i]) + 1
    assert res[0] == b"-Y" and res[2] == b"+X", res
    return int(res[3]), int(res[1]), pos


def decode(data):
    """Nested lists [row][col] = (r, g, b) floats of a Radiance file's bytes."""
    width, height, pos = _header(data)
    rows = []
    for _ in range(height):
        if data[pos] == 2 and data[pos + 1] == 2 and data[pos + 2] < 128 and 8 <= width < 32768:
            assert data[pos + 2] * 256 + data[pos + 3] == width
            pos += 4
            channels = []
            for _c in range(4):
                values = []
                while len(values) < width:
                    n = data[pos]
                    if n > 128:                      # a run: one byte, n - 128 times
                        values += [data[pos + 1]] * (n - 128)
                        pos += 2
                    else:                            # a dump: n literal bytes
                        values += list(data[pos + 1:pos + 1 + n])
                        pos += 1 + n
                channels.append(values)
            pixels = list(zip(*channels))
        else:
            pixels = [tuple(data[pos + 4 * k:pos + 4 * k + 4]) for k in range(width)]
            pos += 4 * width
        row = []
        for r, g, b, e in pixels:
            if e == 0:
                row.append((0.0, 0.0, 0.0))
            else:
                f = math.ldexp(1.0, e - 128 - 8)     # mantissas are fractions of 256
                row.append((r * f, g * f, b * f))
        rows.append(row)
    return rows


def _rgbe(r, g, b):
    m = max(r, g, b)
    if m < 1e-32:
        return (0, 0, 0, 0)
    mant, e = math.frexp(m)
    s = mant * 256.0 / m
    return (int(r * s), int(g * s), int(b * s), e + 128)


def _rle(values):
    """Run-length encoding of one channel of a scanline (runs of >= 3 equal bytes become runs)."""
    out = bytearray()
    i, n = 0, len(values)
    while i < n:
        j = i
        while j < n and j - i < 127 and values[j] == values[i]:
            j += 1
        if j - i >= 3:
            out += bytes([128 + (j - i), values[i]])
            i = j
            continue
        start = i                                    # a dump until the next run of 3
        while i < n and i - start < 128:
            if i + 2 < n and values[i] == values[i + 1] == values[i + 2]:
                break
            i += 1
        out += bytes([i - start]) + bytes(values[start:i])
    return bytes(out)


def encode_rle(rows):
    """Bytes of a run-length encoded Radiance file of nested lists [row][col] = (r, g, b)."""
    height, width = len(rows), len(rows[0])
    out = bytearray(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\nEXPOSURE=1.0\n\n-Y %d +X %d\n" % (height, width))
    for row in rows:
        px = [_rgbe(*p) for p in row]
        out += bytes([2, 2, width >> 8, width & 255])
        for c in range(4):
            out += _rle([p[c] for p in px])
    return bytes(out)

"""Writes assets/cup.ply: the open surface the main demo reconstructs.

A cup without a lid: a surface of revolution around +y made of a flat bottom, a rounded bottom
edge (a quarter circle) and a flared wall whose rim height waves three times around the axis.
One connected surface, disk topology (one boundary loop: the rim), no thickness, wound so normals
point out of the cup (down under the bottom, away from the axis on the wall). Fits in
[-0.4, 0.4]^3 so it sits well inside the [-0.5, 0.5]^3 tet grid.

    python scripts/make_demo_asset.py [--out assets/cup.ply] [--segments 128]
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

Y_BOTTOM, Y_RIM, RIM_WAVE = -0.27, 0.25, 0.035
R_BOTTOM, R_RIM, FILLET = 0.21, 0.31, 0.06


def cup(segments=128, spacing=0.01):
    """(V, 3) float32 vertices and (F, 3) int64 faces of the cup."""
    theta = 2 * math.pi * np.arange(segments) / segments
    # profile (r, y) for s in [0, 1] on the wall: bottom disk, fillet, wall
    flat = R_BOTTOM - FILLET
    n_flat = max(2, round(flat / spacing))
    n_arc = max(2, round(0.5 * math.pi * FILLET / spacing))
    rings = []  # (r(theta), y(theta)) per ring, ring 0 is the pole
    for i in range(1, n_flat + 1):
        r = flat * i / n_flat
        rings.append((np.full(segments, r), np.full(segments, Y_BOTTOM)))
    for i in range(1, n_arc + 1):
        a = 0.5 * math.pi * i / n_arc
        rings.append((np.full(segments, flat + FILLET * math.sin(a)),
                      np.full(segments, Y_BOTTOM + FILLET * (1 - math.cos(a)))))
    y0 = Y_BOTTOM + FILLET
    y_top = Y_RIM + RIM_WAVE * np.sin(3 * theta)
    n_wall = max(2, round((Y_RIM - y0) / spacing))
    for i in range(1, n_wall + 1):
        y = y0 + (y_top - y0) * i / n_wall
        r = R_BOTTOM + (R_RIM - R_BOTTOM) * (y - y0) / (Y_RIM + RIM_WAVE - y0)
        rings.append((r, y))
    verts = [np.array([[0.0, Y_BOTTOM, 0.0]])]
    for r, y in rings:
        verts.append(np.stack([r * np.cos(theta), y, -r * np.sin(theta)], 1))
    verts = np.concatenate(verts).astype(np.float32)

    j = np.arange(segments)
    jn = (j + 1) % segments
    faces = [np.stack([np.zeros(segments, np.int64), 1 + jn, 1 + j], 1)]  # pole fan
    for k in range(len(rings) - 1):
        a, b = 1 + k * segments, 1 + (k + 1) * segments
        faces.append(np.stack([a + j, a + jn, b + jn], 1))
        faces.append(np.stack([a + j, b + jn, b + j], 1))
    faces = np.concatenate(faces).astype(np.int64)
    # outward: the bottom's normals must point down (-y)
    v = verts.astype(np.float64)
    n0 = np.cross(v[faces[0, 1]] - v[faces[0, 0]], v[faces[0, 2]] - v[faces[0, 0]])
    if n0[1] > 0:
        faces = faces[:, [0, 2, 1]]
    return verts, faces


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join("assets", "cup.ply"))
    ap.add_argument("--segments", type=int, default=128)
    args = ap.parse_args(argv)
    from gshell.io import write_ply

    verts, faces = cup(args.segments)
    write_ply(args.out, verts, faces)
    print("wrote %s: %d vertices, %d faces" % (args.out, len(verts), len(faces)))


if __name__ == "__main__":
    main()

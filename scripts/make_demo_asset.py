"""Writes assets/cup.ply: the open surface the main demo reconstructs (or, with --shape tube, a
second open test surface: a bent tube with two boundary loops; with --shape torus, a closed one).

A cup without a lid: a surface of revolution around +y made of a flat bottom, a rounded bottom
edge (a quarter circle) and a flared wall whose rim height waves three times around the axis.
One connected surface, disk topology (one boundary loop: the rim), no thickness, wound so normals
point out of the cup (down under the bottom, away from the axis on the wall). Fits in
[-0.4, 0.4]^3 so it sits well inside the [-0.5, 0.5]^3 tet grid.

A tube without ends: a circular section of radius 0.12 swept along a 140-degree arc of radius
0.26 (a macaroni), one component, genus 0, two boundary loops, wound so normals point away from
its axis. Most of its inside is seen by no camera of a sphere around it, which is what it tests:
a watertight first stage closes it into a thick-walled tube whose inner wall must be cut away.

A torus: tube radius 0.1 around a circle of radius 0.3 in the xy plane, watertight, genus 1,
normals outward.

    python scripts/make_demo_asset.py [--shape cup|tube|torus] [--out assets/cup.ply]
                                      [--segments 128]
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


def tube(segments=64, rings=120, radius=0.12, bend=0.26, arc_deg=140.0):
    """(V, 3) float32 vertices and (F, 3) int64 faces of the bent tube (centred at the origin)."""
    half = math.radians(arc_deg) / 2
    phi = np.linspace(-half, half, rings)[:, None]                  # along the arc
    th = 2 * math.pi * np.arange(segments)[None] / segments         # around the section
    shift = bend * (1 + math.cos(half)) / 2 + radius * (1 - math.cos(half)) / 2
    x = (bend + radius * np.cos(th)) * np.cos(phi) - shift
    y = (bend + radius * np.cos(th)) * np.sin(phi)
    z = radius * np.sin(th) + 0 * phi
    verts = np.stack([x, y, z], -1).reshape(-1, 3).astype(np.float32)
    i = np.arange(rings - 1)[:, None] * segments
    j = np.arange(segments)[None]
    jn = (j + 1) % segments
    a, b, c, d = i + j, i + jn, i + segments + jn, i + segments + j
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                            np.stack([a, d, c], -1).reshape(-1, 3)]).astype(np.int64)
    # outward: the first face's normal points away from the arc (its ring centre)
    v = verts.astype(np.float64)
    f0 = faces[0]
    n0 = np.cross(v[f0[1]] - v[f0[0]], v[f0[2]] - v[f0[0]])
    axis = np.array([bend * math.cos(-half) - shift, bend * math.sin(-half), 0.0])
    if np.dot(n0, v[f0].mean(0) - axis) < 0:
        faces = faces[:, [0, 2, 1]]
    return verts, faces


def torus(segments=48, rings=96, radius=0.1, center_radius=0.3):
    """(V, 3) float32 vertices and (F, 3) int64 faces of a closed torus around +z."""
    u = 2 * math.pi * np.arange(rings)[:, None] / rings             # around the z axis
    v = 2 * math.pi * np.arange(segments)[None] / segments          # around the section
    ring = center_radius + radius * np.cos(v)
    verts = np.stack([ring * np.cos(u), ring * np.sin(u), radius * np.sin(v) + 0 * u], -1)
    verts = verts.reshape(-1, 3).astype(np.float32)
    i = np.arange(rings)[:, None]
    j = np.arange(segments)[None]

    def at(a, b):
        return (a % rings) * segments + b % segments

    a, b, c, d = at(i, j), at(i, j + 1), at(i + 1, j + 1), at(i + 1, j)
    # d/du x d/dv points outward, so each quad (a, b, c, d) is split as (a, c, b), (a, d, c)
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                            np.stack([a, d, c], -1).reshape(-1, 3)]).astype(np.int64)
    return verts, faces


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="cup", choices=("cup", "tube", "torus"))
    ap.add_argument("--out", default=None, help="default: assets/cup.ply, or out/SHAPE.ply")
    ap.add_argument("--segments", type=int, default=None,
                    help="around the axis or section (cup 128, tube 64, torus 48)")
    args = ap.parse_args(argv)
    from gshell.io import write_ply

    if args.out is None:
        args.out = os.path.join("assets", "cup.ply") if args.shape == "cup" else os.path.join(
            "out", args.shape + ".ply")
    if args.shape == "cup":
        verts, faces = cup(args.segments or 128)
    elif args.shape == "tube":
        verts, faces = tube(args.segments or 64)
    else:
        verts, faces = torus(args.segments or 48)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_ply(args.out, verts, faces)
    print("wrote %s: %d vertices, %d faces" % (args.out, len(verts), len(faces)))


if __name__ == "__main__":
    main()

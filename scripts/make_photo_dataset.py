"""Renders a photographic demo dataset (NeRF-synthetic layout) with Blender's Cycles path tracer.

Two stages in one file. Run it with plain Python (numpy only):

    python scripts/make_photo_dataset.py --out assets/photo_skirt [--shape skirt|leaf|closed]
        [--views 40] [--res 256] [--samples 256] [--seed 0] [--test-every 5]
        [--distance 1.8] [--blender blender]

The driver (plain Python) builds the mesh, its UVs, a procedural albedo texture (512^2 PNG), a
procedural lat-long HDR environment and the cameras, then runs

    blender -b --factory-startup --python scripts/make_photo_dataset.py -- --render WORK/scene.json

which (inside Blender, no numpy needed) builds the scene, renders every view and writes the
transforms; the driver then writes the ground truth and a README into --out.

Shapes (all centred on the origin, Z up, inside [-0.42, 0.42]^3, a single zero-thickness sheet):
  skirt   a flared skirt: a tube with a waist opening (r 0.14) and a wavy hem (r ~0.36) with
          eight soft folds growing towards the hem; genus 0, 2 boundary loops, normals outward.
  leaf    a curled leaf: a disk-like sheet with a pointed tip, a midrib crease and a gentle
          twist; 1 boundary loop.
  closed  a bumpy ellipsoid (seven smooth bumps); watertight, genus 0, normals outward.

Material: Principled BSDF, base colour from the texture through the UVs, roughness 0.5,
metallic 0, specular 0.5; the sheet is single-sided geometry that Cycles shades from both sides.

Lighting: only the World, an environment texture (env_gt.hdr, 256x128 lat-long, linear): a
blue-to-white gradient sky, a dim brownish ground and a soft warm sun (Gaussian lobe, sigma 5
degrees, elevation 35 degrees), scaled so the brightest cosine-weighted irradiance over all
normals is pi (a white Lambertian surface facing the sun reads 1.0). No lamps. Blender's
equirectangular convention (checked by rendering the world through a panoramic camera): pixel
column c, row r (row 0 at the top) of a W x H map is the direction with azimuth
phi = pi - 2 pi (c + 0.5) / W (phi = atan2(y, x)) and elevation 0.5 pi - pi (r + 0.5) / H.

Cameras: a Fibonacci spiral on the sphere of radius --distance restricted to z >= -0.5 * radius
(nothing from straight below), looking at the origin with up +Z, camera_angle_x 0.6911 (as
NeRF-synthetic). Every --test-every'th view (offset 2) goes to the test split, the others to
train. transform_matrix is Blender's camera-to-world (camera looks down its -Z, +Y up).

Output (--out): transforms_train.json, transforms_test.json, train/r_i.png, test/r_i.png (8-bit
RGBA, straight alpha, film transparent, view transform Standard: sRGB of linear radiance),
mesh_gt.ply (binary, geometry only, world coordinates), albedo.png (the texture), env_gt.hdr,
env_gt.json (lighting parameters and the map convention), README.md (origin and timings).
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

try:
    import bpy  # inside Blender (whose Python may lack numpy)
except ImportError:
    bpy = None
try:
    import numpy as np
except ImportError:
    np = None

CAMERA_ANGLE_X = 0.6911112070083618
TEX_RES = 512
ENV_W, ENV_H = 256, 128
SUN_AZIMUTH_DEG, SUN_ELEVATION_DEG, SUN_SIGMA_DEG = 30.0, 35.0, 5.0
MATERIAL = {"roughness": 0.5, "metallic": 0.0, "specular": 0.5}


# ----------------------------------------------------------------------------------------------
# driver stage (plain Python + numpy)
# ----------------------------------------------------------------------------------------------

def _grid_faces(rings, segments):
    """Triangles of a (rings x segments) vertex grid periodic in the segment index, and the
    (F, 3, 2) corner indices (ring, column) with column segments standing for the seam copy."""
    i, j = np.meshgrid(np.arange(rings - 1), np.arange(segments), indexing="ij")
    i, j = i.ravel(), j.ravel()
    a, b, c, d = (i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1)
    corners = []
    for tri in ((a, b, c), (c, b, d)):
        corners.append(np.stack([np.stack(p, -1) for p in tri], 1))
    return np.concatenate(corners)  # (F, 3, 2) of (ring, column)


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def skirt_surface(rings=56, segments=128):
    """(rings, segments+1, 3) points of the skirt at its (t, u) grid, t = 0 at the waist."""
    t = np.linspace(0.0, 1.0, rings)[:, None]
    u = np.linspace(0.0, 1.0, segments + 1)[None, :]
    th = 2 * math.pi * u
    r0 = 0.14 + 0.22 * (1 - (1 - t) ** 1.6)  # flare, steeper below the waist
    folds = np.sin(8 * th + 0.7 * np.sin(3 * th) + 1.2 * t)  # eight irregular folds
    r = r0 * (1 + 0.075 * t ** 1.3 * folds)
    z = 0.33 - 0.66 * t - 0.025 * t ** 2 * np.sin(3 * th + 0.5) - 0.012 * t ** 2 * folds
    x = r * np.cos(th) + 0.02 * t ** 2  # a slight sway
    y = r * np.sin(th)
    return np.stack(np.broadcast_arrays(x, y, z), -1), r0


def make_skirt(rings=56, segments=128):
    pts, _ = skirt_surface(rings, segments)
    verts = pts[:, :segments].reshape(-1, 3)
    corners = _grid_faces(rings, segments)
    faces = corners[..., 0] * segments + corners[..., 1] % segments
    # UV: u around (1 at the seam copy), v = 1 at the waist, 0 at the hem
    uv = np.stack([corners[..., 1] / segments, 1 - corners[..., 0] / (rings - 1)], -1)
    return verts, faces, uv


def make_leaf(rings=40, segments=128):
    """A disk-topology leaf: a polar grid (centre vertex + rings) inside an outline that narrows
    to a tip at +x, cupped across the midrib, curled along it and slightly twisted."""
    a, b = 0.40, 0.19
    s = np.linspace(0.0, 1.0, rings + 1)[1:, None]
    th = 2 * math.pi * np.arange(segments)[None, :] / segments
    x = s * a * np.cos(th)
    y = s * b * np.sin(th) * (1 - 0.3 * np.cos(th))
    z = 0.12 * y ** 2 / b - 0.10 * (x / a) ** 2 + 0.05 * (x / a) * (y / b)
    verts = np.concatenate([[[0.0, 0.0, 0.0]], np.stack([x, y, z], -1).reshape(-1, 3)])
    corners = _grid_faces(rings, segments)
    faces = 1 + corners[..., 0] * segments + corners[..., 1] % segments
    j = np.arange(segments)
    fan = np.stack([np.zeros(segments, int), 1 + j, 1 + (j + 1) % segments], 1)
    faces = np.concatenate([fan, faces])
    # planar UV: u along the leaf, v across it, the midrib at v = 0.5
    vuv = np.stack([(verts[:, 0] + a) / (2 * a), 0.5 + verts[:, 1] / (2 * a)], -1)
    return verts, faces, vuv[faces]


def closed_radius(d):
    """Radius of the bumpy ellipsoid along unit directions d (..., 3)."""
    rng = np.random.default_rng(7)
    cs = rng.normal(size=(7, 3))
    cs /= np.linalg.norm(cs, axis=1, keepdims=True)
    amps = rng.uniform(0.06, 0.11, size=7)
    bump = sum(a * np.exp((d @ c - 1) / 0.35 ** 2) for a, c in zip(amps, cs))
    ell = 1.0 / np.sqrt((d[..., 0] / 0.35) ** 2 + (d[..., 1] / 0.31) ** 2 + (d[..., 2] / 0.28) ** 2)
    return ell * (1 + bump)


def make_closed(rings=64, segments=128):
    phi = np.linspace(0.0, math.pi, rings + 1)[1:-1, None]  # interior rings
    th = 2 * math.pi * np.arange(segments)[None, :] / segments
    d = np.stack(np.broadcast_arrays(np.sin(phi) * np.cos(th), np.sin(phi) * np.sin(th),
                                     np.cos(phi)), -1)
    ring_pts = (d * closed_radius(d)[..., None]).reshape(-1, 3)
    poles = np.array([[0, 0, 1.0], [0, 0, -1.0]])
    pole_pts = poles * closed_radius(poles)[:, None]
    verts = np.concatenate([pole_pts[:1], ring_pts, pole_pts[1:]])
    n_in = rings - 1
    south = 1 + n_in * segments
    corners = _grid_faces(n_in, segments)
    faces = 1 + corners[..., 0] * segments + corners[..., 1] % segments
    uv = np.stack([corners[..., 1] / segments, 1 - (corners[..., 0] + 1) / rings], -1)
    j = np.arange(segments)
    top = np.stack([np.zeros(segments, int), 1 + j, 1 + (j + 1) % segments], 1)
    top_uv = np.stack([np.stack([(j + 0.5) / segments, np.ones(segments)], -1),
                       np.stack([j / segments, np.full(segments, 1 - 1 / rings)], -1),
                       np.stack([(j + 1) / segments, np.full(segments, 1 - 1 / rings)], -1)], 1)
    last = 1 + (n_in - 1) * segments
    bot = np.stack([last + j, np.full(segments, south), last + (j + 1) % segments], 1)
    bot_uv = np.stack([np.stack([j / segments, np.full(segments, 1 / rings)], -1),
                       np.stack([(j + 0.5) / segments, np.zeros(segments)], -1),
                       np.stack([(j + 1) / segments, np.full(segments, 1 / rings)], -1)], 1)
    faces = np.concatenate([top, faces, bot])
    uv = np.concatenate([top_uv, uv, bot_uv])
    return verts, faces, uv


def _flowers(u, v, rows, per_row, radius_uv_v, aspect):
    """Mask (0..1) and centre mask of five-petal flowers on rows periodic in u. aspect (per pixel)
    converts u-distances into v-distances so the flowers are round on the surface."""
    petal = np.zeros_like(u)
    centre = np.zeros_like(u)
    for k, vr in enumerate(rows):
        off = 0.5 * (k % 2) / per_row
        du = (u - off) * per_row
        du = (du - np.round(du)) / per_row * aspect  # periodic, in v units
        dv = v - vr
        rr = np.sqrt(du ** 2 + dv ** 2)
        a = np.arctan2(dv, du) + 0.6 * k
        edge = radius_uv_v * (0.7 + 0.3 * np.cos(5 * a))
        px = 1.5 / TEX_RES
        petal = np.maximum(petal, _smoothstep(edge + px, edge - px, rr))
        centre = np.maximum(centre, _smoothstep(0.3 * radius_uv_v + px,
                                                0.3 * radius_uv_v - px, rr))
    return petal, centre


def _mix(base, color, w):
    return base * (1 - w[..., None]) + np.asarray(color) * w[..., None]


def make_texture(shape):
    """(TEX_RES, TEX_RES, 3) sRGB albedo in [0, 1]; row 0 is the top of the image (v = 1)."""
    n = TEX_RES
    u = ((np.arange(n) + 0.5) / n)[None, :].repeat(n, 0)
    v = (1 - (np.arange(n) + 0.5) / n)[:, None].repeat(n, 1)
    px = 1.5 / n
    if shape == "skirt":
        _, r0 = skirt_surface(rings=n, segments=1)  # t = 0 (waist) first, like row 0 (v = 1)
        circ = 2 * math.pi * r0  # (n, 1) circumference per texture row
        aspect = circ / 0.66  # u units -> v units (the skirt is 0.66 long)
        img = np.broadcast_to(np.array([0.87, 0.81, 0.67]), (n, n, 3)).copy()
        stripe = _smoothstep(0.72, 0.82, 0.5 + 0.5 * np.cos(2 * math.pi * 16 * u))
        img = _mix(img, [0.38, 0.48, 0.68], 0.8 * stripe)
        petal, centre = _flowers(u, v, rows=(0.27, 0.45, 0.63, 0.80), per_row=9,
                                 radius_uv_v=0.065, aspect=aspect)
        img = _mix(img, [0.80, 0.33, 0.26], petal)
        img = _mix(img, [0.96, 0.82, 0.32], centre)
        hem = _smoothstep(0.12 + px, 0.12 - px, v)
        img = _mix(img, [0.55, 0.17, 0.16], hem)
        line = _smoothstep(0.012 + px, 0.012 - px, np.abs(v - 0.06))
        img = _mix(img, [0.90, 0.84, 0.62], line)
        waist = _smoothstep(0.93 - px, 0.93 + px, v)
        img = _mix(img, [0.18, 0.28, 0.30], waist)
    elif shape == "leaf":
        img = np.broadcast_to(np.array([0.33, 0.52, 0.20]), (n, n, 3)).copy()
        vein = _smoothstep(0.015, 0.0, np.abs(v - 0.5) - 0.002)
        side = _smoothstep(0.04, 0.0, np.abs(np.sin(math.pi * (7 * u + 3 * np.abs(v - 0.5)))))
        side = side * _smoothstep(0.01, 0.03, np.abs(v - 0.5))
        img = _mix(img, [0.72, 0.78, 0.38], np.maximum(vein, 0.7 * side))
        spots = 0.5 + 0.5 * np.sin(37 * u) * np.sin(29 * v + 1.0)
        img = _mix(img, [0.62, 0.45, 0.18], 0.5 * _smoothstep(0.85, 0.95, spots))
    else:  # closed: a pattern of the direction, so the poles of the UV sphere are seamless
        th, ph = 2 * math.pi * u, math.pi * (1 - v)
        d = np.stack([np.sin(ph) * np.cos(th), np.sin(ph) * np.sin(th), np.cos(ph)], -1)
        w = 0.5 + 0.5 * np.sin(3.0 * (d @ np.array([0.6, -0.5, 0.62])))
        img = _mix(np.broadcast_to(np.array([0.30, 0.58, 0.58]), (n, n, 3)).copy(),
                   [0.86, 0.76, 0.55], w)
        m = 48
        k = np.arange(m) + 0.5
        cz = 1 - 2 * k / m
        ca = math.pi * (1 + 5 ** 0.5) * k
        cs = np.stack([np.sqrt(1 - cz ** 2) * np.cos(ca), np.sqrt(1 - cz ** 2) * np.sin(ca), cz], 1)
        ang = np.arccos(np.clip(d @ cs.T, -1, 1)).min(-1)
        aw = 2.0 * math.pi / n
        img = _mix(img, [0.25, 0.16, 0.22], _smoothstep(0.17 + aw, 0.17 - aw, ang))
        img = _mix(img, [0.92, 0.42, 0.34], _smoothstep(0.13 + aw, 0.13 - aw, ang))
        band = _smoothstep(0.035 + aw, 0.035 - aw, np.abs(d[..., 2] - 0.15))
        img = _mix(img, [0.95, 0.92, 0.85], band)
    return np.clip(img, 0.0, 1.0)


def env_directions(w=ENV_W, h=ENV_H):
    """Unit directions (h, w, 3) of the lat-long map pixels and their solid angles (h, w)."""
    c = (np.arange(w) + 0.5) / w
    r = (np.arange(h) + 0.5) / h
    az = math.pi - 2 * math.pi * c
    el = 0.5 * math.pi - math.pi * r
    az, el = np.meshgrid(az, el)
    d = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1)
    dw = np.cos(el) * (2 * math.pi / w) * (math.pi / h)
    return d, dw


def make_environment():
    d, dw = env_directions()
    z = d[..., 2]
    up = np.clip(z, 0, 1) ** 0.5
    sky = _mix(np.broadcast_to(np.array([0.95, 0.98, 1.0]), d.shape), [0.30, 0.50, 0.95], up)
    ground = np.array([0.32, 0.28, 0.24]) * (0.8 + 0.2 * np.exp(z / 0.1))[..., None]
    blend = _smoothstep(-0.03, 0.03, z)[..., None]
    env = ground * (1 - blend) + sky * blend
    az, el = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
    sun_dir = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    ang = np.arccos(np.clip(d @ sun_dir, -1, 1))
    sig = math.radians(SUN_SIGMA_DEG)
    sun_peak = 90.0
    env = env + np.array([1.0, 0.9, 0.75]) * sun_peak * np.exp(-0.5 * (ang / sig) ** 2)[..., None]
    # normalise: brightest cosine-weighted irradiance over normals is pi
    k = np.arange(2000) + 0.5
    nz = 1 - 2 * k / 2000
    na = math.pi * (1 + 5 ** 0.5) * k
    nr = np.sqrt(1 - nz ** 2)
    normals = np.stack([nr * np.cos(na), nr * np.sin(na), nz], 1)
    cosw = np.clip(normals @ d.reshape(-1, 3).T, 0, None) * dw.reshape(1, -1)
    irr = cosw @ env.reshape(-1, 3)  # (normals, 3)
    scale = math.pi / irr.max()
    env = env * scale
    params = {
        "kind": "procedural lat-long environment (the World's only light; no lamps)",
        "file": "env_gt.hdr", "width": ENV_W, "height": ENV_H, "units": "linear radiance",
        "convention": "Blender equirectangular: column c, row r (row 0 top) of a WxH map is the "
                      "direction with azimuth phi = pi - 2*pi*(c+0.5)/W (phi = atan2(y, x)), "
                      "elevation 0.5*pi - pi*(r+0.5)/H; world Z up",
        "sky": "zenith [0.30,0.50,0.95] to horizon [0.95,0.98,1.0], blend sqrt(z)",
        "ground": "[0.32,0.28,0.24] below the horizon",
        "sun": {"azimuth_deg": SUN_AZIMUTH_DEG, "elevation_deg": SUN_ELEVATION_DEG,
                "direction": sun_dir.round(6).tolist(), "gaussian_sigma_deg": SUN_SIGMA_DEG,
                "color": [1.0, 0.9, 0.75], "peak_before_scale": sun_peak},
        "scale": float(scale),
        "max_irradiance_over_pi": 1.0,
        "mean_radiance": (env * dw[..., None]).sum((0, 1)).tolist(),
    }
    params["mean_radiance"] = [x / (4 * math.pi) for x in params["mean_radiance"]]
    return env.astype(np.float32), params


def write_hdr(path, img):
    """Radiance RGBE, flat scanlines, row 0 at the top."""
    h, w, _ = img.shape
    m = img.max(-1)
    mant, ex = np.frexp(m)
    scale = np.where(m > 1e-32, mant * 256.0 / np.maximum(m, 1e-32), 0.0)
    rgbe = np.zeros((h, w, 4), np.uint8)
    rgbe[..., :3] = np.clip(np.floor(img * scale[..., None]), 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(m > 1e-32, ex + 128, 0).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n")
        f.write(("-Y %d +X %d\n" % (h, w)).encode())
        f.write(rgbe.tobytes())


def write_png(path, img8):
    """8-bit RGB(A) PNG from an (H, W, C) uint8 array, no dependencies but zlib."""
    h, w, c = img8.shape
    raw = b"".join(b"\x00" + img8[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    color_type = {3: 2, 4: 6}[c]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def write_ply(path, verts, faces):
    verts = np.ascontiguousarray(verts, "<f4")
    rec = np.zeros(len(faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    rec["n"] = 3
    rec["i"] = faces
    with open(path, "wb") as f:
        f.write(("ply\nformat binary_little_endian 1.0\ncomment made by "
                 "scripts/make_photo_dataset.py\nelement vertex %d\nproperty float x\n"
                 "property float y\nproperty float z\nelement face %d\n"
                 "property list uchar int vertex_indices\nend_header\n"
                 % (len(verts), len(faces))).encode())
        f.write(verts.tobytes())
        f.write(rec.tobytes())


def boundary_loops(faces):
    """Number of boundary loops (edges used by one face) of a triangle mesh."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, 1)
    uniq, cnt = np.unique(key, axis=0, return_counts=True)
    bnd = uniq[cnt == 1]
    if len(bnd) == 0:
        return 0
    parent = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in bnd:
        parent[find(int(a))] = find(int(b))
    return len({find(int(a)) for a in bnd[:, 0]})


def cameras(n, distance, test_every):
    """(name, split, c2w) on a Fibonacci spiral over the cap z >= -0.5 of the sphere."""
    out, counts = [], {"train": 0, "test": 0}
    for i in range(n):
        z = 1 - 1.5 * (i + 0.5) / n
        a = math.pi * (3 - 5 ** 0.5) * i
        s = math.sqrt(max(0.0, 1 - z * z))
        eye = distance * np.array([s * math.cos(a), s * math.sin(a), z])
        back = eye / np.linalg.norm(eye)  # camera +Z points away from the target
        right = np.cross([0.0, 0.0, 1.0], back)
        right /= np.linalg.norm(right)
        up = np.cross(back, right)
        c2w = np.eye(4)
        c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, back, eye
        split = "test" if test_every and i % test_every == 2 else "train"
        out.append({"split": split, "name": "r_%d" % counts[split], "c2w": c2w.tolist()})
        counts[split] += 1
    return out


def driver(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", choices=["skirt", "leaf", "closed"], default="skirt")
    ap.add_argument("--views", type=int, default=40)
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-every", type=int, default=5)
    ap.add_argument("--distance", type=float, default=1.8)
    ap.add_argument("--blender", default="blender")
    args = ap.parse_args(argv)

    verts, faces, uv = {"skirt": make_skirt, "leaf": make_leaf, "closed": make_closed}[args.shape]()
    lo, hi = verts.min(0), verts.max(0)
    verts = verts - 0.5 * (lo + hi)  # bbox centred on the origin (the cameras' target)
    assert np.abs(verts).max() <= 0.42, np.abs(verts).max()
    loops = boundary_loops(faces)
    tex = make_texture(args.shape)
    env, env_params = make_environment()
    cams = cameras(args.views, args.distance, args.test_every)

    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="photo_dataset_")
    try:
        np.ascontiguousarray(verts, "<f4").tofile(os.path.join(work, "verts.bin"))
        np.ascontiguousarray(faces, "<i4").tofile(os.path.join(work, "faces.bin"))
        np.ascontiguousarray(uv, "<f4").tofile(os.path.join(work, "uv.bin"))
        write_png(os.path.join(args.out, "albedo.png"), np.round(tex * 255).astype(np.uint8))
        write_hdr(os.path.join(args.out, "env_gt.hdr"), env)
        with open(os.path.join(args.out, "env_gt.json"), "w") as f:
            json.dump(env_params, f, indent=1)
        write_ply(os.path.join(args.out, "mesh_gt.ply"), verts, faces)
        scene = {
            "out": os.path.abspath(args.out), "work": work,
            "texture": os.path.abspath(os.path.join(args.out, "albedo.png")),
            "env": os.path.abspath(os.path.join(args.out, "env_gt.hdr")),
            "n_verts": int(len(verts)), "n_faces": int(len(faces)),
            "res": args.res, "samples": args.samples, "seed": args.seed,
            "camera_angle_x": CAMERA_ANGLE_X, "cameras": cams, "material": MATERIAL,
            "env_size": [ENV_W, ENV_H],
        }
        with open(os.path.join(work, "scene.json"), "w") as f:
            json.dump(scene, f)
        version = subprocess.run([args.blender, "--version"], capture_output=True,
                                 text=True).stdout.splitlines()[0].strip()
        log = os.path.join(work, "blender.log")
        t0 = time.time()
        with open(log, "w") as f:
            rc = subprocess.run([args.blender, "-b", "--factory-startup", "--python",
                                 os.path.abspath(__file__), "--", "--render",
                                 os.path.join(work, "scene.json")], stdout=f,
                                stderr=subprocess.STDOUT).returncode
        wall = time.time() - t0
        if rc != 0 or not os.path.exists(os.path.join(work, "stats.json")):
            sys.stdout.write(open(log).read()[-4000:])
            raise SystemExit("blender failed (rc %d)" % rc)
        with open(os.path.join(work, "stats.json")) as f:
            stats = json.load(f)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cmd = "python scripts/make_photo_dataset.py " + " ".join(argv)
    n_train = sum(c["split"] == "train" for c in cams)
    readme = f"""# Photographic demo dataset: {args.shape}

Rendered with Blender's Cycles path tracer by `scripts/make_photo_dataset.py` (see its docstring
for the shape, texture, lighting and camera definitions):

    {cmd}

- Blender: {version}, Cycles on CPU, {args.samples} samples per pixel, seed {args.seed}, no
  denoiser, pixel filter Blackman-Harris 1.5 px, view transform Standard (PNG = sRGB of linear
  radiance), film transparent (8-bit RGBA, straight alpha), no dithering.
- Render time: {stats['render_s']:.0f} s for {len(cams)} views at {args.res}x{args.res}
  ({stats['render_s'] / len(cams):.1f} s per view; {wall:.0f} s wall including Blender start-up).
- Layout: NeRF-synthetic. `transforms_train.json` ({n_train} views), `transforms_test.json`
  ({len(cams) - n_train} views, distinct positions), `camera_angle_x` {CAMERA_ANGLE_X:.6f},
  `file_path` without extension, `transform_matrix` = camera-to-world in Blender's world (Z up;
  the camera looks down its -Z with +Y up), cameras at distance {args.distance} on a Fibonacci
  spiral over z >= -0.5 * distance, looking at the origin.
- `mesh_gt.ply`: the rendered mesh (binary PLY, geometry only) in the same world coordinates;
  {len(verts)} vertices, {len(faces)} triangles, {loops} boundary loop(s), a single sheet
  (zero thickness). `albedo.png`: its sRGB albedo texture (mapped through UVs that the PLY
  does not carry).
- Material: Principled BSDF, roughness {MATERIAL['roughness']}, metallic {MATERIAL['metallic']},
  specular {MATERIAL['specular']}; both sides of the sheet use it.
- Lighting: only the World, the lat-long environment `env_gt.hdr` ({ENV_W}x{ENV_H}, linear):
  gradient sky, dim ground, a soft sun (Gaussian, sigma {SUN_SIGMA_DEG:.0f} deg, azimuth
  {SUN_AZIMUTH_DEG:.0f} deg, elevation {SUN_ELEVATION_DEG:.0f} deg); parameters and the pixel to
  direction convention in `env_gt.json`. Checked by rendering the world through an
  equirectangular camera: relative mean abs difference to `env_gt.hdr` {stats['env_check']:.4f}.
"""
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(readme)
    print(json.dumps({"out": args.out, "shape": args.shape, "boundary_loops": loops,
                      "verts": len(verts), "faces": len(faces), "render_s": stats["render_s"],
                      "wall_s": wall, "env_check": stats["env_check"], "blender": version}))


# ----------------------------------------------------------------------------------------------
# Blender stage (bpy, no numpy)
# ----------------------------------------------------------------------------------------------

def _read_floats(path, code):
    from array import array
    a = array(code)
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a


def _set_panorama(cam_data):
    cam_data.type = "PANO"
    for owner in (cam_data, getattr(cam_data, "cycles", None)):
        if owner is not None and hasattr(owner, "panorama_type"):
            owner.panorama_type = "EQUIRECTANGULAR"


def blender_stage(scene_path):
    from mathutils import Matrix
    with open(scene_path) as f:
        cfg = json.load(f)
    work, out = cfg["work"], cfg["out"]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene

    # mesh
    verts = _read_floats(os.path.join(work, "verts.bin"), "f")
    faces = _read_floats(os.path.join(work, "faces.bin"), "i")
    uvs = _read_floats(os.path.join(work, "uv.bin"), "f")
    nv, nf = cfg["n_verts"], cfg["n_faces"]
    me = bpy.data.meshes.new("gt")
    me.vertices.add(nv)
    me.vertices.foreach_set("co", verts)
    me.loops.add(3 * nf)
    me.loops.foreach_set("vertex_index", faces)
    me.polygons.add(nf)
    me.polygons.foreach_set("loop_start", list(range(0, 3 * nf, 3)))
    try:
        me.polygons.foreach_set("loop_total", [3] * nf)
    except (AttributeError, TypeError, RuntimeError):
        pass
    uv_layer = me.uv_layers.new(name="UVMap")
    uv_layer.data.foreach_set("uv", uvs)
    me.update(calc_edges=True)
    me.polygons.foreach_set("use_smooth", [True] * nf)
    assert len(me.vertices) == nv and len(me.polygons) == nf
    obj = bpy.data.objects.new("gt", me)
    scene.collection.objects.link(obj)

    # material
    mat = bpy.data.materials.new("albedo")
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    tex = nt.nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(cfg["texture"])
    tex.image.colorspace_settings.name = "sRGB"
    tex.interpolation = "Linear"
    tex.extension = "REPEAT"
    uvn = nt.nodes.new("ShaderNodeUVMap")
    uvn.uv_map = "UVMap"
    nt.links.new(uvn.outputs["UV"], tex.inputs["Vector"])
    nt.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = cfg["material"]["roughness"]
    bsdf.inputs["Metallic"].default_value = cfg["material"]["metallic"]
    bsdf.inputs["Specular"].default_value = cfg["material"]["specular"]
    mat.use_backface_culling = False
    me.materials.append(mat)

    # world
    world = bpy.data.worlds.new("env")
    scene.world = world
    world.use_nodes = True
    wt = world.node_tree
    bg = wt.nodes["Background"]
    env = wt.nodes.new("ShaderNodeTexEnvironment")
    env.image = bpy.data.images.load(cfg["env"])
    env.image.colorspace_settings.name = "Linear"
    env.interpolation = "Linear"
    env.projection = "EQUIRECTANGULAR"
    wt.links.new(env.outputs["Color"], bg.inputs["Color"])
    bg.inputs["Strength"].default_value = 1.0
    world.cycles.sampling_method = "MANUAL"
    world.cycles.sample_map_resolution = 1024

    # render settings
    scene.render.engine = "CYCLES"
    cy = scene.cycles
    cy.device = "CPU"
    cy.samples = cfg["samples"]
    cy.use_adaptive_sampling = False
    cy.use_denoising = False
    cy.seed = cfg["seed"]
    cy.use_animated_seed = False
    cy.max_bounces = 6
    cy.diffuse_bounces = 4
    cy.glossy_bounces = 4
    cy.transmission_bounces = 0
    cy.transparent_max_bounces = 4
    cy.caustics_reflective = False
    cy.caustics_refractive = False
    cy.sample_clamp_direct = 0.0
    cy.sample_clamp_indirect = 10.0
    cy.pixel_filter_type = "BLACKMAN_HARRIS"
    cy.filter_width = 1.5
    r = scene.render
    r.resolution_x = r.resolution_y = cfg["res"]
    r.resolution_percentage = 100
    r.film_transparent = True
    r.dither_intensity = 0.0
    r.use_persistent_data = True
    r.threads_mode = "AUTO"
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = "RGBA"
    r.image_settings.color_depth = "8"
    r.image_settings.compression = 100
    scene.display_settings.display_device = "sRGB"
    vs = scene.view_settings
    vs.view_transform = "Standard"
    vs.look = "None"
    vs.exposure = 0.0
    vs.gamma = 1.0
    vs.use_curve_mapping = False

    # camera
    cam_data = bpy.data.cameras.new("cam")
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.angle_x = cfg["camera_angle_x"]
    cam_data.clip_start = 0.05
    cam_data.clip_end = 100.0
    cam = bpy.data.objects.new("cam", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam

    frames = {"train": [], "test": []}
    t0 = time.time()
    for c in cfg["cameras"]:
        cam.matrix_world = Matrix(c["c2w"])
        bpy.context.view_layer.update()
        d = os.path.join(out, c["split"])
        os.makedirs(d, exist_ok=True)
        r.filepath = os.path.join(d, c["name"] + ".png")
        t1 = time.time()
        bpy.ops.render.render(write_still=True)
        print("PHOTO_DATASET rendered %s/%s in %.1f s" % (c["split"], c["name"], time.time() - t1),
              flush=True)
        frames[c["split"]].append({
            "file_path": "./%s/%s" % (c["split"], c["name"]), "rotation": 0.0,
            "transform_matrix": [list(row) for row in cam.matrix_world]})
    render_s = time.time() - t0
    for split, fr in frames.items():
        with open(os.path.join(out, "transforms_%s.json" % split), "w") as f:
            json.dump({"camera_angle_x": cam_data.angle_x, "frames": fr}, f, indent=1)

    # check the environment convention: render the world alone through an equirectangular camera
    obj.hide_render = True
    r.use_persistent_data = False
    r.film_transparent = False
    vs.view_transform = "Raw" if "Raw" in [i.identifier for i in
                                           vs.bl_rna.properties["view_transform"].enum_items] \
        else "Standard"
    _set_panorama(cam_data)
    # turned so the image's centre column looks along world +X with Z up, like the map's centre
    # column (a wrong turn or convention shows as a large difference)
    from mathutils import Euler
    cam.matrix_world = Euler((math.pi / 2, 0.0, -math.pi / 2), "XYZ").to_matrix().to_4x4()
    w, h = cfg["env_size"]
    r.resolution_x, r.resolution_y = w, h
    cy.samples = 16
    cy.pixel_filter_type = "BOX"
    cy.filter_width = 0.01
    r.image_settings.file_format = "HDR"
    r.image_settings.color_mode = "RGB"
    pano_path = os.path.join(work, "pano.hdr")
    r.filepath = pano_path
    bpy.ops.render.render(write_still=True)
    a = bpy.data.images.load(pano_path)
    b = env.image
    pa, pb = list(a.pixels), list(b.pixels)
    num = sum(abs(x - y) for i, (x, y) in enumerate(zip(pa, pb)) if i % 4 != 3)
    den = sum(abs(y) for i, y in enumerate(pb) if i % 4 != 3)
    env_check = num / den
    print("PHOTO_DATASET env check %.4f" % env_check, flush=True)
    with open(os.path.join(work, "stats.json"), "w") as f:
        json.dump({"render_s": render_s, "env_check": env_check}, f)


if __name__ == "__main__":
    if bpy is not None:
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
        ap = argparse.ArgumentParser()
        ap.add_argument("--render", required=True)
        blender_stage(ap.parse_args(argv).render)
    else:
        driver(sys.argv[1:])

"""A collection of garment-like open surfaces that needs no download, and user folders of meshes.

Each garment is described as a closed solid by a smooth signed distance function (smooth unions of
tapered capsules and ellipsoids, plus low-amplitude sinusoidal wrinkles), sampled on gshell's
regular tet grid, and its openings are cut with an mSDF as in G-Shell ("Ghost on the Shell", Liu et
al., ICLR 2024, https://arxiv.org/abs/2310.15168): each opening k is a plane across the end of a
tube, and ``msdf = min_k d_k`` where ``d_k`` is the signed distance to plane k (positive on the kept
side) inside a cylinder around that tube end and ``+1`` elsewhere. :func:`gshell.gshell_extract`
then gives an open mesh with one vertex per cut edge; components under 2% of the faces are
dropped, and a draw that is not an oriented edge-manifold mesh with exactly ``KINDS[kind]``
boundary loops is redrawn from the next sub-seed (at most ``_MAX_TRIES`` times).

Splits are fixed by a rule on the index: shape ``i`` of a collection is in the test split when
``i % 5 == 4`` (20%), so they never change with ``n``.
"""
import math
import os

import numpy as np

#: Garment kind -> number of boundary loops of its open surface.
KINDS = {
    "hood": 1,          # face opening
    "hood_neck": 2,     # face opening, neck opening
    "skirt": 2,         # waist, hem
    "trousers": 3,      # waist, two leg openings
    "top": 4,           # sleeveless: neck, waist, two armholes
    "shirt": 4,         # with sleeves: neck, waist, two cuffs
    "jumpsuit": 5,      # neck, two cuffs, two leg openings
}

_KIND_ORDER = tuple(KINDS)
_MAX_TRIES = 8
_MIN_RES = 16
_MAX_RES = 256
_FILL = 0.86          # the garment's largest extent, as a fraction of the grid box
_MESH_EXT = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf", ".vtk", ".vtu", ".msh")


# ----------------------------------------------------------------------------- validation
def _int_arg(name, value, lo=None, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("Expected %s to be an int but got %s" % (name, type(value).__name__))
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = "in [%s, %s]" % (lo, hi) if hi is not None else ">= %s" % lo
        raise ValueError("Expected %s to be an int %s but got %d" % (name, rng, value))
    return value


def _kind_arg(kind):
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError("Expected kind to be one of %s but got %r" % (sorted(KINDS), kind))
    return kind


# ----------------------------------------------------------------------------- primitives
def _smin(a, b, k):
    """Polynomial smooth minimum with blending radius k."""
    import torch

    h = torch.clamp(k - (a - b).abs(), min=0.0) / k
    return torch.minimum(a, b) - h * h * k * 0.25


def _tube(p, a, b, ra, rb, depth=1.0):
    """Tapered capsule from a (radius ra) to b (radius rb); ``depth`` < 1 flattens it along z."""
    import torch

    s = p.new_tensor([1.0, 1.0, 1.0 / depth])
    q = p * s
    a = p.new_tensor(a) * s
    b = p.new_tensor(b) * s
    ab = b - a
    t = torch.clamp(((q - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    d = (q - (a + t[:, None] * ab)).norm(dim=-1) - (ra + t * (rb - ra))
    return d * min(1.0, depth)


def _ellipsoid(p, c, r):
    """Approximate SDF of an axis-aligned ellipsoid (centre c, radii r)."""
    r = p.new_tensor(r)
    q = (p - p.new_tensor(c)) / r
    return (q.norm(dim=-1) - 1.0) * float(r.min())


class _Garment:
    """Primitives (tubes, ellipsoids) and openings of one garment in canonical coordinates."""

    def __init__(self):
        self.tubes = []       # (a, b, ra, rb, depth)
        self.ellipsoids = []  # (c, r)
        self.openings = []    # (c, n, radius, t_max)

    def tube(self, a, b, ra, rb, depth=1.0, open_end=False, e=0.03):
        a, b = np.asarray(a, float), np.asarray(b, float)
        self.tubes.append((a, b, ra, rb, depth))
        if open_end:  # a plane across the tube, e before its end b, normal pointing out
            n = (b - a) / np.linalg.norm(b - a)
            self.openings.append((b - e * n, n, rb, e + rb))

    def bounds(self):
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        ends = {}
        for c, n, radius, t_max in self.openings:  # an open end reaches only as far as its cut ring
            end = c + (t_max - radius) * n  # the tube's end point b (t_max = e + rb)
            ends[tuple(np.round(end, 9))] = (c, radius * np.sqrt(np.clip(1 - n * n, 0, 1)))
        for a, b, ra, rb, _ in self.tubes:
            for p, r in ((a, ra), (b, rb)):
                ring = ends.get(tuple(np.round(p, 9)))
                if ring is not None:
                    p, r = ring
                lo, hi = np.minimum(lo, p - r), np.maximum(hi, p + r)
        for c, r in self.ellipsoids:
            lo, hi = np.minimum(lo, c - r), np.maximum(hi, c + r)
        return lo, hi


def _fields(g, grid_pts, spacing, wrinkles, blend):
    """SDF and mSDF of garment ``g`` at grid points (grid coordinates), and the scale used."""
    import torch

    lo, hi = g.bounds()
    scale = _FILL / float((hi - lo).max())
    centre = (lo + hi) / 2
    p = grid_pts.double() / scale + grid_pts.new_tensor(centre, dtype=torch.float64)
    d = None
    for a, b, ra, rb, depth in g.tubes:
        di = _tube(p, a, b, ra, rb, depth)
        d = di if d is None else _smin(d, di, blend)
    for c, r in g.ellipsoids:
        di = _ellipsoid(p, c, r)
        d = di if d is None else _smin(d, di, blend)
    for amp, k, phase in wrinkles:
        d = d + amp * torch.sin(p @ p.new_tensor(k) + phase)
    h = spacing / scale  # grid spacing in canonical units
    m = 2.5 * h
    msdf = torch.ones_like(d)
    for c, n, radius, t_max in g.openings:
        c, n = p.new_tensor(c), p.new_tensor(n)
        rel = p - c
        t = rel @ n
        radial = (rel - t[:, None] * n).norm(dim=-1)
        inside = (t > -0.1) & (t < t_max + m) & (radial < 1.35 * radius + m)
        msdf = torch.where(inside, torch.minimum(msdf, -t), msdf)
    return (d * scale).float(), (msdf * scale).float(), scale, centre


# ----------------------------------------------------------------------------- garment kinds
def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _torso(g, rng, params, bottom_open):
    yw, ys = -_u(rng, 0.25, 0.4), _u(rng, 0.05, 0.12)
    rw, rc, depth = _u(rng, 0.13, 0.19), _u(rng, 0.15, 0.2), _u(rng, 0.65, 0.8)
    flare = _u(rng, 1.0, 1.35) if bottom_open else 1.0
    g.tube((0, ys, 0), (0, yw, 0), rc, rw * flare, depth=depth, open_end=bottom_open)
    rn = _u(rng, 0.06, 0.085)
    g.tube((0, ys, 0), (0, ys + rc + _u(rng, 0.07, 0.1), 0), rn, rn * _u(rng, 0.95, 1.1), open_end=True)
    params.update(waist_y=yw, shoulder_y=ys, waist_radius=rw * flare, chest_radius=rc, depth=depth,
                  neck_radius=rn)
    return yw, ys, rw, rc


def _build(kind, rng):
    g, params = _Garment(), {}
    if kind in ("hood", "hood_neck"):
        r = np.array([_u(rng, 0.17, 0.22), _u(rng, 0.21, 0.27), _u(rng, 0.19, 0.24)])
        c = np.zeros(3)
        g.ellipsoids.append((c, r))
        zf = _u(rng, 0.3, 0.6) * r[2]
        # the face opening: everything in front of z = zf (the cap lies within the ellipsoid's outline)
        g.openings.append((np.array([0.0, 0.0, zf]), np.array([0.0, 0.0, 1.0]),
                           float(max(r[0], r[1])) / 1.3, float(r[2] - zf)))
        params.update(radii=r.tolist(), face_z=zf)
        if kind == "hood_neck":
            rn = _u(rng, 0.08, 0.1)
            zb = -_u(rng, 0.05, 0.08)
            g.tube((0, -0.5 * r[1], zb), (0, -r[1] - _u(rng, 0.1, 0.16), zb), rn, rn * _u(rng, 1.0, 1.2),
                   open_end=True)
            params.update(neck_radius=rn)
    elif kind == "skirt":
        rw, length = _u(rng, 0.12, 0.18), _u(rng, 0.35, 0.8)
        flare = _u(rng, 1.0, 2.0)
        top, bottom = np.array([0, 0.5 * length, 0.0]), np.array([0, -0.5 * length, 0.0])
        # two tubes (waist upwards, body downwards) so both ends are open
        g.tube(top - [0, 0.05, 0], top + [0, 0.05, 0], rw, rw, depth=_u(rng, 0.75, 0.95), open_end=True)
        g.tube(top - [0, 0.05, 0], bottom, rw, rw * flare, open_end=True)
        params.update(waist_radius=rw, length=length, flare=flare)
    elif kind in ("trousers", "jumpsuit"):
        rw, yh = _u(rng, 0.14, 0.19), 0.0
        legs, spread = _u(rng, 0.35, 0.7), _u(rng, 0.02, 0.1)
        rt, ra = _u(rng, 0.075, 0.095), _u(rng, 0.05, 0.075)
        for s in (-1, 1):
            xa = s * 0.5 * rw
            g.tube((xa, yh, 0), (xa + s * spread, yh - legs, 0), rt, ra, open_end=True)
        params.update(hip_radius=rw, leg_length=legs, leg_spread=spread, thigh_radius=rt, ankle_radius=ra)
        if kind == "trousers":
            g.tube((0, yh - 0.02, 0), (0, yh + _u(rng, 0.1, 0.2), 0), rw, rw * _u(rng, 0.9, 1.05),
                   depth=_u(rng, 0.7, 0.85), open_end=True)
        else:
            ys = _u(rng, 0.3, 0.45)
            rc, depth = _u(rng, 0.15, 0.2), _u(rng, 0.65, 0.8)
            g.tube((0, yh, 0), (0, ys, 0), rw, rc, depth=depth)
            rn = _u(rng, 0.06, 0.085)
            g.tube((0, ys, 0), (0, ys + rc + _u(rng, 0.07, 0.1), 0), rn, rn, open_end=True)
            _arms(g, rng, params, ys, rc, sleeves=True)
            params.update(shoulder_y=ys, chest_radius=rc, depth=depth, neck_radius=rn)
    elif kind in ("top", "shirt"):
        yw, ys, rw, rc = _torso(g, rng, params, bottom_open=True)
        _arms(g, rng, params, ys, rc, sleeves=kind == "shirt")
    return g, params


def _arms(g, rng, params, ys, rc, sleeves):
    ya = ys - _u(rng, 0.0, 0.04)
    if sleeves:
        length, angle = _u(rng, 0.15, 0.4), math.radians(_u(rng, 15, 50))
        r0, r1 = _u(rng, 0.065, 0.085), _u(rng, 0.045, 0.07)
    else:
        length, angle = rc * 0.5 + _u(rng, 0.07, 0.1), 0.0
        r0 = r1 = _u(rng, 0.065, 0.085)
    for s in (-1, 1):
        a = np.array([s * 0.5 * rc, ya, 0.0])
        off = 0.5 * rc + length if sleeves else length
        b = a + np.array([s * off * math.cos(angle), -off * math.sin(angle), 0.0])
        g.tube(a, b, r0, r1, open_end=True)
    params.update(sleeve_length=length if sleeves else 0.0, sleeve_angle_deg=math.degrees(angle),
                  armhole_radius=r0, cuff_radius=r1)


# ----------------------------------------------------------------------------- public API
_GRIDS = {}


def _grid(res):
    from gshell.tetgrid import TetGrid

    if res not in _GRIDS:
        if len(_GRIDS) > 2:
            _GRIDS.clear()
        _GRIDS[res] = TetGrid.regular(res)
    return _GRIDS[res]


def _clean(verts, faces):
    """Drops components under 2% of the faces and unused vertices; NumPy arrays in and out."""
    from gshell import topology

    nv = verts.shape[0]
    if faces.shape[0] == 0:
        return verts[:0], faces
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    labels = topology.connected_components(nv, e[:, 0], e[:, 1])
    flab = labels[faces[:, 0]]
    counts = np.bincount(flab)
    keep = counts[flab] >= 0.02 * faces.shape[0]
    faces = faces[keep]
    used = np.zeros(nv, bool)
    used[faces.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    return verts[used], remap[faces]


def _valid(verts, faces, loops):
    from gshell import topology

    if faces.shape[0] < 20:
        return False
    t = topology.topology(faces, verts.shape[0])
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    return (t["edge_manifold"] and t["oriented"] and t["nonmanifold_vertices"] == 0
            and t["boundary_loops"] == loops and t["components"] == 1
            and t["unreferenced_vertices"] == 0 and bool((area > 0).all())
            and bool((np.abs(verts) <= 0.5).all()))


def make_garment(kind, seed, res=64):
    """One garment-like open surface of a kind, drawn from a seed.

    Lengths, radii, flare, opening sizes and positions, and low-amplitude wrinkles are drawn from
    ``numpy.random.default_rng([seed, kind index, try])``; a draw that does not give an oriented,
    edge-manifold, connected mesh with ``KINDS[kind]`` boundary loops is redrawn with the next try.

    Args:
        kind: a key of :data:`KINDS`.
        seed: int >= 0.
        res: cubes per axis of the regular tet grid (16..256); the mesh lies in the grid box,
            within [-0.45, 0.45]^3.
    Returns:
        verts: (V, 3) float32 NumPy array. faces: (F, 3) int64 NumPy array, wound outward, no
        unused vertices. info: dict with ``kind``, ``loops`` (int), ``seed``, ``try`` (int),
        ``res`` and ``params`` (the drawn parameters, canonical units, plus ``scale``).
    Raises:
        ValueError: unknown kind, seed < 0, res out of range; RuntimeError if no try of
            ``_MAX_TRIES`` is valid.

    Example:
        >>> v, f, info = make_garment("shirt", seed=3, res=48)
        >>> info["loops"]
        4
    """
    import torch

    from gshell.ops.gshell_extract import gshell_extract

    kind = _kind_arg(kind)
    seed = _int_arg("seed", seed, lo=0)
    res = _int_arg("res", res, lo=_MIN_RES, hi=_MAX_RES)
    grid = _grid(res)
    loops = KINDS[kind]
    for attempt in range(_MAX_TRIES):
        rng = np.random.default_rng([seed, _KIND_ORDER.index(kind), attempt])
        g, params = _build(kind, rng)
        wrinkles = []
        for _ in range(int(rng.integers(2, 5))):
            k = rng.normal(size=3)
            k = k / np.linalg.norm(k) * _u(rng, 10.0, 25.0)
            wrinkles.append((_u(rng, 0.002, 0.008), k, _u(rng, 0, 2 * math.pi)))
        blend = _u(rng, 0.02, 0.05)
        sdf, msdf, scale, centre = _fields(g, grid.vertices, 1.0 / res, wrinkles, blend)
        with torch.no_grad():
            out = gshell_extract(grid.vertices, sdf, msdf, grid)
        v, f = _clean(out.verts.numpy().astype(np.float32), out.faces.numpy().astype(np.int64))
        if _valid(v, f, loops):
            params.update(scale=scale, centre=centre.tolist(), blend=blend,
                          wrinkles=[(a, k.tolist(), ph) for a, k, ph in wrinkles])
            info = {"kind": kind, "loops": loops, "seed": seed, "try": attempt, "res": res,
                    "params": params}
            return np.ascontiguousarray(v), np.ascontiguousarray(f), info
    raise RuntimeError("Expected a valid %s with %d boundary loops from seed %d at res %d, but none of %d "
                       "tries gave one" % (kind, loops, seed, res, _MAX_TRIES))


def _kinds_arg(kinds):
    if kinds is None:
        return list(_KIND_ORDER)
    if isinstance(kinds, str):
        kinds = [kinds]
    kinds = list(kinds)
    if not kinds:
        raise ValueError("Expected kinds to be None or a non-empty list of %s but got []" % sorted(KINDS))
    for k in kinds:
        if not isinstance(k, str) or k not in KINDS:
            raise ValueError("Expected kinds to hold only %s but got %r" % (sorted(KINDS), k))
    return kinds


def iter_garments(n, seed=0, kinds=None, res=64):
    """Iterates over ``n`` garments: shape ``i`` has kind ``kinds[i % len(kinds)]`` and seed
    ``seed * 1_000_003 + i``, so shape ``i`` is the same for every ``n``.

    Args:
        n: number of shapes (>= 1).
        seed: int >= 0, the collection's seed.
        kinds: None (all of :data:`KINDS`, in its order) or a list of kind names.
        res: grid resolution (see :func:`make_garment`).
    Yields:
        (index, verts (V, 3) float32, faces (F, 3) int64, info dict), with ``info["split"]`` set
        to ``"test"`` or ``"train"`` (see :func:`is_test`).
    """
    n = _int_arg("n", n, lo=1)
    seed = _int_arg("seed", seed, lo=0)
    kinds = _kinds_arg(kinds)
    res = _int_arg("res", res, lo=_MIN_RES, hi=_MAX_RES)
    for i in range(n):
        v, f, info = make_garment(kinds[i % len(kinds)], seed * 1_000_003 + i, res)
        info["index"] = i
        info["split"] = "test" if is_test(i) else "train"
        yield i, v, f, info


def is_test(index):
    """The fixed split rule: shape ``index`` is held out (test) when ``index % 5 == 4``."""
    return _int_arg("index", index, lo=0) % 5 == 4


def split(n_total):
    """The fixed train/test split of a collection of ``n_total`` shapes (20% test, see
    :func:`is_test`); it never changes, and the split of a prefix is a prefix of the split.

    Args:
        n_total: int >= 1.
    Returns:
        train: (N_train,) int64 NumPy array of indices, test: (N_test,) int64 NumPy array,
        disjoint, together ``0 .. n_total - 1``, both ascending.
    """
    n_total = _int_arg("n_total", n_total, lo=1)
    idx = np.arange(n_total, dtype=np.int64)
    test = idx % 5 == 4
    return idx[~test], idx[test]


def load_folder(path, box=0.9):
    """Reads every mesh of a folder (not recursive) and normalises each into the grid box.

    Each mesh is translated so its bounding box is centred at the origin and scaled uniformly so
    its largest extent is ``box``: it lies in [-box/2, box/2]^3. Files are tried in name order;
    those whose extension is not a mesh format (``.txt``, ``.png``, ...) and those the reader
    rejects are skipped, and their names (with why) are given in one ``UserWarning`` (use
    :func:`load_folder_report` to get them as a list). Hidden files and sub-folders are ignored.

    Args:
        path: str or os.PathLike, a folder.
        box: float in (0, 1], the side of the normalised box.
    Returns:
        list of (stem: str, verts: (V, 3) float32 CPU tensor, faces: (F, 3) int64 CPU tensor,
        to_world: (4, 4) float64 NumPy array), in file-name order; ``to_world @ [v, 1]`` maps a
        normalised vertex back to the file's coordinates.
    Raises:
        FileNotFoundError: ``path`` does not exist or is not a folder.
        ValueError: the folder holds no files, or none of its files is a readable mesh (the
            message names the folder and each skipped file with why); two meshes with the same
            stem; a mesh whose vertices are all at one point; ``box`` out of range.

    Example:
        >>> for stem, v, f, to_world in load_folder("garments/"):
        ...     print(stem, v.shape, f.shape)
    """
    meshes, skipped = load_folder_report(path, box)
    if skipped:
        import warnings

        warnings.warn("load_folder(%r) skipped %d file(s): %s" % (
            os.fspath(path), len(skipped), "; ".join("%s (%s)" % s for s in skipped)), UserWarning,
            stacklevel=2)
    return meshes


def load_folder_report(path, box=0.9):
    """:func:`load_folder` without the warning: returns (meshes, skipped), where skipped is a list
    of (file name, reason) for the files that were not read."""
    import torch

    from gshell import io

    if isinstance(box, bool) or not isinstance(box, (int, float, np.floating, np.integer)) or \
            not (0 < float(box) <= 1) or not math.isfinite(float(box)):
        raise ValueError("Expected box to be a number in (0, 1] but got %r" % (box,))
    box = float(box)
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError("Expected a folder of meshes at %r but it does not exist" % p)
    if not os.path.isdir(p):
        raise FileNotFoundError("Expected a folder of meshes at %r but it is not a folder" % p)
    names = sorted(n for n in os.listdir(p) if os.path.isfile(os.path.join(p, n)) and not n.startswith("."))
    if not names:
        raise ValueError("Expected mesh files in folder %r but it is empty" % p)
    meshes, skipped, stems = [], [], {}
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext.lower() not in _MESH_EXT:
            skipped.append((name, "not a mesh extension"))
            continue
        try:
            v, f = io.load_mesh(os.path.join(p, name))
        except (ValueError, ImportError, OSError) as e:
            skipped.append((name, str(e).splitlines()[0] if str(e) else type(e).__name__))
            continue
        if stem in stems:
            raise ValueError("Expected distinct mesh stems in %r but %r and %r share the stem %r" % (
                p, stems[stem], name, stem))
        stems[stem] = name
        vd = v.double()
        lo, hi = vd.min(0).values, vd.max(0).values
        extent = float((hi - lo).max())
        if not extent > 0:
            raise ValueError("Expected a mesh with non-zero extent but %r has all vertices at one point"
                             % os.path.join(p, name))
        centre = (lo + hi) / 2
        s = box / extent
        vn = ((vd - centre) * s).float()
        to_world = np.eye(4)
        to_world[:3, :3] *= 1.0 / s
        to_world[:3, 3] = centre.numpy()
        meshes.append((stem, vn.contiguous(), f.to(torch.int64).contiguous(), to_world))
    if not meshes:
        raise ValueError("Expected at least one readable mesh in folder %r but got none; skipped: %s" % (
            p, "; ".join("%s (%s)" % s for s in skipped)))
    return meshes, skipped


def _garment_item(item):
    kind, seed, res = item
    v, f, info = make_garment(kind, seed, res)
    return v, f, info


def _write_garment(path, result):
    import json

    from gshell import io as gio
    from gshell._atomic import make_folder, write_bytes

    v, f, info = result
    folder, name = os.path.split(path)
    params = os.path.join(os.path.dirname(folder), "params")
    make_folder(params)
    write_bytes(os.path.join(params, name[:-4] + ".json"), [json.dumps(info, indent=1).encode()])
    gio.save_mesh(path, v, f)  # last: its existence marks the shape done


def write_collection(out, n, seed=0, kinds=None, res=64, workers=0, address=None, progress=True):
    """Writes the first ``n`` garments of :func:`iter_garments` as meshes, split by :func:`is_test`:
    ``out/train/IIII_KIND.ply`` and ``out/test/IIII_KIND.ply`` (the drawn parameters in
    ``out/params/IIII_KIND.json``, so the two mesh folders hold only meshes), on
    :func:`gshell.parallel.map_items` (a rerun skips the shapes written; the files are the same
    for any ``workers``).

    Args:
        out: output folder (created). n, seed, kinds, res: see :func:`iter_garments`.
        workers, address: see :func:`gshell.parallel.map_items`.
    Returns:
        dict ``{"train": Summary, "test": Summary}``.
    """
    from gshell._atomic import make_folder
    from gshell.parallel import map_items

    n = _int_arg("n", n, lo=1)
    seed = _int_arg("seed", seed, lo=0)
    kinds = _kinds_arg(kinds)
    res = _int_arg("res", res, lo=_MIN_RES, hi=_MAX_RES)
    make_folder(out)
    result = {}
    for part in ("train", "test"):
        idx = [i for i in range(n) if is_test(i) == (part == "test")]
        items = [(kinds[i % len(kinds)], seed * 1_000_003 + i, res) for i in idx]
        names = ["%04d_%s.ply" % (i, kinds[i % len(kinds)]) for i in idx]
        if not items:
            continue
        result[part] = map_items(_garment_item, items, out_dir=os.path.join(os.fspath(out), part), names=names,
                                 write=_write_garment, workers=workers, address=address,
                                 desc="garments/%s" % part, progress=progress)
    return result

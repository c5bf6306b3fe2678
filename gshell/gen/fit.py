"""Fitting a G-Shell to a mesh: an open (or closed) triangle mesh -> a canonical grid tensor.

G-MeshDiffusion fits each mesh of its collection by multiview reconstruction. gshell fits against
the mesh itself, in two stages:

1. **Closed-form start.** The mesh is oriented (consistently, then so that it faces away from its
   centroid: a canonical choice, so equal shapes start equal). Near the surface (within 3 cells)
   the SDF is the distance to dense surface samples, signed by their normals; further away only
   its sign matters, and it is the side of the generalised winding number ``w = 1/2``
   (Jacobson et al. 2013; far-field dipoles per occupied grid cube, as in Barill et al. 2018), so
   the watertight template is the surface closed by smooth lids across its openings. The mSDF is
   the distance to the mesh's boundary where the nearest surface point lies well inside it, and
   near the boundary the signed distance across the surface's own continuation (``-b . (x - q)``
   for the nearest boundary point ``q`` with outward conormal ``b``), capped by ``2.5 h - d(x)``
   so that everything away from the surface is cut. A closed mesh gets only the cap.
2. **Optimisation** (Adam, cosine-decayed) of SDF, mSDF and deformation through
   :func:`gshell.gshell_extract`: squared Chamfer between points sampled on the extracted open mesh
   and on the target, both ways; squared Chamfer between the cut vertices and the target's
   boundary (so loops close where the mesh's do); hinge terms on the template's mSDF (positive on
   the target surface inside its boundary, negative off it and beyond it). DMTet's sign-change
   regulariser is not used: on thin sheets it opens holes (measured: a cup went from 1 boundary
   loop to 5 with it at weight 0.01, and stayed at 1 without).

The result is canonicalised (:func:`gshell.gen.tensor.canonicalise`), and the fit is measured on
the mesh extracted back from the tensor, so the numbers describe what is stored.
"""
import dataclasses
import math
import time

import numpy as np
import torch

from gshell import _checks
from gshell.gen import tensor as gt

_BAND = 3.0       # cells: the SDF is a distance within this band, a sign outside
_CAP = 2.5        # cells: mSDF <= _CAP h - d(x)
_MARGIN = 0.5     # cells: the mesh must keep this far from the grid box's faces


@dataclasses.dataclass
class FitResult:
    """Output of :func:`fit_mesh`.

    Attributes:
        tensor: (6, res+1, res+1, res+1) float32 canonical grid tensor.
        verts: (V, 3) float32 tensor, the mesh extracted back from ``tensor`` (grid coordinates).
        faces: (F, 3) int64 tensor.
        metrics: dict: ``chamfer`` (absolute), ``chamfer_rel`` (fraction of the target's bounding
            box diagonal), ``fscore`` (at 1% of it), ``normal_consistency``,
            ``boundary_loops_pred``, ``boundary_loops_gt``, ``loops_equal``, ``init_chamfer_rel``
            (the closed-form start), ``steps``, ``seconds``.
    """
    tensor: torch.Tensor
    verts: torch.Tensor
    faces: torch.Tensor
    metrics: dict


# ----------------------------------------------------------------------------- mesh preparation
def _check_mesh(verts, faces):
    v = verts.detach().cpu().double().numpy() if isinstance(verts, torch.Tensor) else np.asarray(verts, np.float64)
    f = faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 3:
        raise ValueError("Expected verts of shape (V, 3) with V >= 3 but got shape %s" % (tuple(v.shape),))
    if not np.isfinite(v).all():
        raise ValueError("Expected finite verts but got NaN/Inf")
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError("Expected faces of shape (F, 3), F >= 1, with an integer dtype but got shape %s dtype %s"
                         % (tuple(f.shape), f.dtype))
    if f.min() < 0 or f.max() >= v.shape[0]:
        raise ValueError("Expected faces to index verts in [0, %d) but got indices in [%d, %d]"
                         % (v.shape[0], f.min(), f.max()))
    v, f = _canonical_order(v, f.astype(np.int64))
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    if not np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() > 0:
        raise ValueError("Expected a mesh with positive area but every face is degenerate")
    return v, f


def _canonical_order(v, f):
    """The same mesh with vertices in lexicographic order of their coordinates (duplicates
    merged) and faces sorted, each starting at its smallest vertex (winding kept): the fit then
    does not depend on how the file numbers its vertices and faces. Faces that repeat a vertex
    are dropped; faces of zero area are kept (dropping them would open holes)."""
    uv, inv = np.unique(v, axis=0, return_inverse=True)
    f = inv.reshape(-1)[f]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
    if f.shape[0] == 0:
        raise ValueError("Expected a mesh with positive area but every face is degenerate")
    r = f.argmin(1)
    f = np.stack([f[np.arange(len(f)), (r + k) % 3] for k in range(3)], 1)
    f = f[np.lexsort((f[:, 2], f[:, 1], f[:, 0]))]
    f = np.unique(f, axis=0)  # a face listed twice counts once
    used = np.unique(f)
    remap = np.full(uv.shape[0], -1, np.int64)
    remap[used] = np.arange(used.size)
    return uv[used], remap[f]


def orient(verts, faces):
    """Winds the faces of each connected component consistently (breadth-first across manifold
    edges) and then so that the component faces away from its centroid (sum over faces of
    ``area * n . (c_face - c)`` >= 0).

    Args:
        verts: (V, 3) float64 array. faces: (F, 3) int64 array.
    Returns:
        (F, 3) int64 array, the faces re-wound (same faces, same order).
    """
    from collections import deque

    f = faces.copy()
    nf = f.shape[0]
    e = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    key = e[:, 0] * (verts.shape[0] + 1) + e[:, 1]
    order = np.argsort(key, kind="stable")
    ks = key[order]
    # pairs of faces sharing an edge used by exactly two faces
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    counts = np.diff(np.r_[starts, ks.size])
    two = starts[counts == 2]
    fa, fb = order[two] // 3, order[two + 1] // 3
    adj = [[] for _ in range(nf)]
    for x, y, k in zip(fa.tolist(), fb.tolist(), ks[two].tolist()):
        adj[x].append((y, k))
        adj[y].append((x, k))

    def directed(i, k):  # +1 if face i traverses the edge with key k from its lower to higher vertex
        nv1 = verts.shape[0] + 1
        lo, hi = divmod(k, nv1)
        fi = f[i]
        for j in range(3):
            if fi[j] == lo and fi[(j + 1) % 3] == hi:
                return 1
        return -1

    seen = np.zeros(nf, bool)
    comp = np.full(nf, -1, np.int64)
    ncomp = 0
    for s in range(nf):
        if seen[s]:
            continue
        seen[s] = True
        comp[s] = ncomp
        q = deque([s])
        while q:
            i = q.popleft()
            for j, k in adj[i]:
                if seen[j]:
                    continue
                seen[j] = True
                comp[j] = ncomp
                if directed(i, k) == directed(j, k):  # same direction: j is wound against i
                    f[j] = f[j][[0, 2, 1]]
                q.append(j)
        ncomp += 1
    a, b, c = verts[f[:, 0]], verts[f[:, 1]], verts[f[:, 2]]
    cross = np.cross(b - a, c - a)
    cen = (a + b + c) / 3
    area = 0.5 * np.linalg.norm(cross, axis=1)
    for ci in range(ncomp):
        sel = comp == ci
        centre = (cen[sel] * area[sel, None]).sum(0) / max(area[sel].sum(), 1e-300)
        if (cross[sel] * (cen[sel] - centre)).sum() < 0:
            f[sel] = f[sel][:, [0, 2, 1]]
    return f


def _boundary(verts, faces):
    """Boundary edges (B, 2) and, per edge, the outward conormal (B, 3) in the face's plane."""
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    key = np.sort(e, 1)
    k = key[:, 0] * (verts.shape[0] + 1) + key[:, 1]
    uniq, inv, cnt = np.unique(k, return_inverse=True, return_counts=True)
    once = cnt[inv] == 1
    be = e[once]
    face = np.flatnonzero(once) // 3
    if be.shape[0] == 0:
        return be, np.zeros((0, 3))
    tri = faces[face]
    opp = tri.sum(1) - be.sum(1)  # the face's third vertex
    p0, p1, po = verts[be[:, 0]], verts[be[:, 1]], verts[opp]
    n = np.cross(verts[tri[:, 1]] - verts[tri[:, 0]], verts[tri[:, 2]] - verts[tri[:, 0]])
    b = np.cross(p1 - p0, n)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    flip = ((po - p0) * b).sum(1) > 0  # the conormal must point away from the face
    b[flip] = -b[flip]
    return be, b


def _boundary_samples(verts, be, conormal, spacing):
    if be.shape[0] == 0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    p0, p1 = verts[be[:, 0]], verts[be[:, 1]]
    length = np.linalg.norm(p1 - p0, axis=1)
    k = np.maximum(1, np.ceil(length / spacing).astype(np.int64))
    idx = np.repeat(np.arange(be.shape[0]), k)
    t = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 0.5) / np.repeat(k, k)
    pts = p0[idx] + (p1 - p0)[idx] * t[:, None]
    return pts, conormal[idx]


def _winding_far(x, verts, faces, res):
    """Generalised winding number at points ``x`` far from the surface, from one dipole per
    occupied grid cube (area vector and area-weighted centre of the faces in it)."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    av = 0.5 * np.cross(b - a, c - a)
    area = np.linalg.norm(av, axis=1)
    cen = (a + b + c) / 3
    nc = max(1, res // 2)  # dipoles per cube of two cells: the points are >= 3 cells away
    cell = np.clip(np.floor((cen + 0.5) * nc).astype(np.int64), 0, nc - 1)
    cid = (cell[:, 0] * nc + cell[:, 1]) * nc + cell[:, 2]
    uniq, inv = np.unique(cid, return_inverse=True)
    A = np.zeros((uniq.size, 3))
    np.add.at(A, inv, av)
    w = np.bincount(inv, weights=area, minlength=uniq.size)
    P = np.stack([np.bincount(inv, weights=area * cen[:, i], minlength=uniq.size) for i in range(3)], 1)
    P /= np.maximum(w, 1e-300)[:, None]
    xt = torch.from_numpy(x)
    At, Pt = torch.from_numpy(A), torch.from_numpy(P)
    out = torch.empty(x.shape[0], dtype=torch.float64)
    step = max(1, 2_000_000 // max(1, uniq.size))
    for s in range(0, x.shape[0], step):
        r = Pt[None] - xt[s:s + step, None]
        r2 = (r * r).sum(-1)
        out[s:s + step] = (torch.einsum("pcd,cd->pc", r, At) / (r2 * r2.sqrt()).clamp_min(1e-36)).sum(1)
    return (out / (4 * math.pi)).numpy()


def initial_fields(verts, faces, res, n_points=100000, seed=0):
    """The closed-form start of :func:`fit_mesh` (see the module docstring).

    Args:
        verts: (V, 3) float64 array, in the grid box. faces: (F, 3) int64 array, oriented
            (:func:`orient`).
        res: grid resolution.
        n_points: surface samples.
    Returns:
        sdf (N,), msdf (N,) float64 arrays on the grid's vertices, and a dict of the samples used
        (``points``, ``normals``, ``boundary``: (B, 3) boundary samples).
    """
    from scipy.spatial import cKDTree

    from gshell.metrics import sample_surface

    h = 1.0 / res
    x = gt.grid(res).vertices.double().numpy()
    pts, nrm, _ = sample_surface(verts, faces, n_points, seed=seed)
    tree = cKDTree(pts)
    dist, idx = tree.query(x, k=4, distance_upper_bound=_BAND * h)  # misses: inf, index n_points
    far = ~np.isfinite(dist[:, 0])
    d = np.where(far, _BAND * h, dist[:, 0])
    near = ~far
    dn, jn = dist[near], idx[near]
    ok = np.isfinite(dn)
    jn = np.where(ok, jn, 0)
    wgt = np.where(ok, 1.0 / (np.where(ok, dn, 1.0) + 1e-3 * h), 0.0)
    side = (wgt * ((x[near, None] - pts[jn]) * nrm[jn]).sum(-1)).sum(1)
    sign = np.ones(x.shape[0])
    sign[near] = np.where(side > 0, 1.0, -1.0)
    if far.any():
        w = _winding_far(x[far], verts, faces, res)
        sign[far] = np.where(w < 0.5, 1.0, -1.0)
    sdf = sign * d
    cap = _CAP * h - d
    be, conormal = _boundary(verts, faces)
    bpts, bnrm = _boundary_samples(verts, be, conormal, h / 8)
    if bpts.shape[0]:
        btree = cKDTree(bpts)
        msdf = np.minimum(_boundary_side(x, pts[np.where(far, 0, idx[:, 0])], btree, bpts, bnrm, h), cap)
    else:
        btree = None
        msdf = cap
    return sdf, msdf, {"points": pts, "normals": nrm, "boundary": bpts, "conormals": bnrm, "tree": tree,
                       "btree": btree}


def _boundary_side(x, p, btree, bpts, bnrm, h):
    """Signed distance of points ``x`` to the target's boundary across the surface: for a point
    whose nearest surface point ``p`` lies more than two cells inside the boundary, that
    distance (positive, up to 3 h); near the boundary, ``-b . (x - q)`` for the nearest boundary point
    ``q`` and its outward conormal ``b`` (the half-space test is only valid there: applied far
    away it cuts a garment's hips by the plane of a cuff)."""
    dp, _ = btree.query(p, distance_upper_bound=2 * h)
    inside = ~np.isfinite(dp)
    out = np.empty(x.shape[0])
    if inside.any():  # only values up to the cap (2.5 h) matter: farther is reported as 3 h
        out[inside] = np.minimum(btree.query(p[inside], distance_upper_bound=3 * h)[0], 3 * h)
    near = ~inside
    if near.any():
        _, j = btree.query(x[near])
        out[near] = -((x[near] - bpts[j]) * bnrm[j]).sum(1)
    return out


# ----------------------------------------------------------------------------- optimisation
def _sample_on(verts, faces, n, gen):
    """n area-uniform points on a mesh, differentiable in ``verts``."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    area = torch.linalg.cross(b - a, c - a).norm(dim=1).detach()
    idx = torch.multinomial(area + 1e-20, n, replacement=True, generator=gen)
    r1 = torch.rand(n, generator=gen, dtype=verts.dtype)
    r2 = torch.rand(n, generator=gen, dtype=verts.dtype)
    s = r1.sqrt()
    return ((1 - s)[:, None] * a[idx] + (s * (1 - r2))[:, None] * b[idx] + (s * r2)[:, None] * c[idx])


def _nn_sq(src, dst_np, tree=None):
    """Squared distance of each row of ``src`` (differentiable) to its nearest row of ``dst_np``."""
    from scipy.spatial import cKDTree

    tree = tree if tree is not None else cKDTree(dst_np)
    _, j = tree.query(src.detach().double().numpy())
    return ((src - torch.from_numpy(dst_np[j]).to(src.dtype)) ** 2).sum(1)


def fit_mesh(verts, faces, res=32, steps=150, seed=0, lr=0.02, n_points=8000, min_component=0.005,
             progress=False):
    """Fits a G-Shell on ``TetGrid.regular(res)`` to a triangle mesh (see the module docstring).

    Args:
        verts: (V, 3) float tensor or array, inside the grid box: every vertex within
            [-0.5 + 0.5/res, 0.5 - 0.5/res]^3 (normalise first, e.g. with
            :func:`gshell.gen.load_folder`).
        faces: (F, 3) int tensor or array; degenerate faces are ignored, the winding is repaired.
        res: cubes per axis (8..128).
        steps: optimisation steps (0: the closed-form start only).
        seed: sampling seed (same input and seed, same tensor).
        lr: Adam learning rate, in the tensor's units (fields / (2 h), deformation / bound).
        n_points: points sampled per step on each surface.
        min_component: the returned mesh (and the metrics) leave out connected components with
            fewer than this fraction of the faces (slivers the grid makes where parts of the
            target come within a cell of each other); 0 keeps them all.
        progress: show a tqdm bar.
    Returns:
        FitResult.
    Raises:
        ValueError: a malformed mesh, a mesh outside the box, arguments out of range.

    Example:
        >>> from gshell.gen import make_garment
        >>> v, f, _ = make_garment("skirt", seed=0)
        >>> r = fit_mesh(v, f, res=32)
        >>> r.metrics["chamfer_rel"] < 0.01, r.metrics["loops_equal"]
        (True, True)
    """
    from scipy.spatial import cKDTree

    from gshell.metrics import compare_meshes
    from gshell.ops.gshell_extract import gshell_extract
    from gshell.parallel import progress_bar

    res = _checks.integer("res", res, lo=8, hi=128)
    steps = _checks.integer("steps", steps, lo=0)
    seed = _checks.integer("seed", seed, lo=0)
    lr = _checks.real("lr", lr, lo=0.0, lo_open=True)
    n_points = _checks.integer("n_points", n_points, lo=100)
    min_component = _checks.real("min_component", min_component, lo=0.0, hi=0.5)
    v, f = _check_mesh(verts, faces)
    h = 1.0 / res
    lim = 0.5 - _MARGIN * h
    if np.abs(v[np.unique(f)]).max() > lim + 1e-9:
        raise ValueError("Expected the mesh inside [-%.4f, %.4f]^3 (the grid box less half a cell at res %d) but its "
                         "vertices reach %.4f; normalise it first (gshell.gen.load_folder does)"
                         % (lim, lim, res, np.abs(v[np.unique(f)]).max()))
    t0 = time.perf_counter()
    v, f = _canonical_order(v, orient(v, f))  # the order again: it depended on the input's winding
    sdf0, msdf0, samples = initial_fields(v, f, res, seed=seed)
    g = gt.grid(res)
    s = gt.field_scale(res)
    md = gt.max_deform(res)
    u = torch.tensor(np.clip(sdf0 / s, -1, 1), dtype=torch.float32)
    u = torch.where(u == 0, torch.full_like(u, -1e-4), u)
    m = torch.tensor(np.clip(msdf0 / s, -1, 1), dtype=torch.float32)
    init_tensor = gt.encode(u * s, m * s, None, res)
    iv, ifc = gt.extract(init_tensor, min_component=0.0)
    init_rel = (compare_meshes(iv, ifc, v, f, n=5000, seed=seed)["chamfer_rel"]
                if ifc.shape[0] else float("inf"))

    pts, tree = samples["points"], samples["tree"]
    bpts, bnrm, btree = samples["boundary"], samples["conormals"], samples["btree"]
    u = u.requires_grad_(True)
    m = m.requires_grad_(True)
    raw = torch.zeros(g.num_vertices, 3, requires_grad=True)
    opt = torch.optim.Adam([u, m, raw], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / max(steps, 1))))
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    bar = progress_bar(steps, "fit", enabled=progress and steps > 0, unit="step")
    for _ in range(steps):
        verts_g = g.vertices + md * torch.tanh(raw)
        out = gshell_extract(verts_g, u * s, m * s, g)
        if out.faces.shape[0] == 0:
            raise RuntimeError("Expected the fit to keep a surface but the extracted mesh became empty")
        x = _sample_on(out.verts, out.faces, n_points, gen)
        loss_acc = _nn_sq(x, pts, tree).mean()
        gsel = pts[rng.integers(0, pts.shape[0], n_points)]
        xd = x.detach().double().numpy()
        _, j = cKDTree(xd).query(gsel)
        loss_comp = ((x[torch.from_numpy(j)] - torch.from_numpy(gsel).float()) ** 2).sum(1).mean()
        loss = (loss_acc + loss_comp) / h ** 2
        cut = out.verts[out.num_kept:]
        tv = out.watertight_verts.detach().double().numpy()
        dt, jt = tree.query(tv, distance_upper_bound=1.5 * h)  # misses are inf: off the surface
        if btree is not None:
            if cut.shape[0]:
                # cut vertices near the target's boundary are pulled onto it (holes elsewhere are
                # closed by the hinge below, not dragged towards a distant boundary)
                dc, jc = btree.query(cut.detach().double().numpy(), distance_upper_bound=1.5 * h)
                near = torch.from_numpy(np.isfinite(dc))
                if bool(near.any()):
                    q = torch.from_numpy(bpts[np.where(np.isfinite(dc), jc, 0)]).float()
                    loss = loss + (((cut - q) ** 2).sum(1) * near).sum() / int(near.sum()) / h ** 2
                _, jb = cKDTree(cut.detach().double().numpy()).query(bpts)
                lb = ((cut[torch.from_numpy(jb)] - torch.from_numpy(bpts).float()) ** 2).sum(1).mean()
                loss = loss + lb / h ** 2
            else:  # a closed result where the target has a boundary: open it where it should be
                loss = loss + torch.relu(out.watertight_msdf + 0.5 * h).mean() / h
            # signed distance to the boundary across the surface's continuation (as the start)
            sd = np.full(tv.shape[0], np.inf)  # only needed on the surface
            ok = np.isfinite(dt)
            if ok.any():
                sd[ok] = _boundary_side(tv[ok], pts[jt[ok]], btree, bpts, bnrm, h)
        else:
            sd = np.full(tv.shape[0], np.inf)
        # template mSDF: positive on the target inside its boundary, negative off it or beyond it;
        # each set's violations are averaged over its violators, so a small hole weighs fully
        wm = out.watertight_msdf
        on = torch.from_numpy((dt < 0.5 * h) & (sd > 0.5 * h))
        off = torch.from_numpy((dt > 1.0 * h) | ((dt < 1.5 * h) & (sd < -0.5 * h)))
        v_on = torch.relu(0.5 * h - wm) * on
        v_off = torch.relu(wm + 0.5 * h) * off
        loss = loss + (v_on.sum() / max(1, int((v_on > 0).sum())) + v_off.sum() / max(1, int((v_off > 0).sum()))) / h
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            u.clamp_(-1.0, 1.0)
            m.clamp_(-1.0, 1.0)
            u.masked_fill_(u == 0, -1e-4)
        bar.set_postfix(loss="%.3g" % float(loss.detach()), refresh=False)
        bar.update(1)
    bar.close()
    with torch.no_grad():
        tensor = gt.encode(u.detach() * s, m.detach() * s, md * torch.tanh(raw.detach()), res)
    ov, of = gt.extract(tensor, min_component=min_component)
    if of.shape[0] == 0:
        raise RuntimeError("Expected the fitted G-Shell to keep a surface but it extracted an empty mesh")
    met = compare_meshes(ov, of, v, f, n=20000, seed=seed)
    out = {k: met[k] for k in ("chamfer", "chamfer_rel", "fscore", "normal_consistency",
                               "boundary_loops_pred", "boundary_loops_gt")}
    out.update(loops_equal=met["boundary_loops_pred"] == met["boundary_loops_gt"], init_chamfer_rel=init_rel,
               steps=steps, res=res, seconds=time.perf_counter() - t0)
    return FitResult(tensor=tensor, verts=ov, faces=of, metrics=out)


# ----------------------------------------------------------------------------- collections
def _fit_item(item):
    stem, v, f, to_world, res, steps, seed = item
    r = fit_mesh(v, f, res=res, steps=steps, seed=seed)
    wv, wf = gt.to_numpy_mesh(r.verts, r.faces, to_world)
    meta = dict(r.metrics, stem=stem, to_world=np.asarray(to_world).tolist())
    # the world-coordinate Chamfer is the grid one scaled back (uniform scale)
    scale = float(np.cbrt(abs(np.linalg.det(np.asarray(to_world)[:3, :3]))))
    meta["chamfer_world"] = meta["chamfer"] * scale
    return {"tensor": r.tensor, "verts": wv, "faces": wf, "meta": meta}


def _write_fit(path, result):
    import json

    from gshell import io as gio
    from gshell._atomic import write_atomic, write_bytes

    stem = path[:-3]
    gio.save_mesh(stem + ".ply", result["verts"], result["faces"])
    write_bytes(stem + ".json", [json.dumps(result["meta"], indent=1).encode()])
    write_atomic(path, lambda tmp: torch.save(result["tensor"], tmp))  # last: it marks the item done


def fit_folder(folder, out, res=32, steps=150, seed=0, workers=0, address=None, force=False, progress=True):
    """Fits every mesh of a folder (see :func:`fit_mesh`), on :func:`gshell.parallel.map_items`.

    Each mesh is normalised into the grid box (:func:`gshell.gen.load_folder`, box 0.9, or
    ``1 - 1.5 / res`` when smaller) and
    written, for its file stem ``STEM``, as ``out/STEM.pt`` (the (6, res+1, res+1, res+1) float32
    grid tensor, ``torch.load`` gives it), ``out/STEM.ply`` (the mesh extracted back from that
    tensor, in the input file's coordinates) and ``out/STEM.json`` (the fit's metrics and the
    ``to_world`` transform). Every mesh is fitted with the same ``seed``, so equal meshes give
    equal tensors. A rerun skips the stems whose ``.pt`` exists (``force`` redoes them).

    Args:
        folder: a folder of meshes (non-mesh files are skipped with a warning).
        out: output folder (created).
        res, steps, seed: see :func:`fit_mesh`.
        workers, address: see :func:`gshell.parallel.map_items` (0: in this process).
        force: refit the stems already done.
        progress: a progress bar.
    Returns:
        (summary, metrics): the :class:`gshell.parallel.Summary`, and a list of the metrics dicts
        of every mesh written (done now or before), in name order.
    """
    import json
    import os
    import warnings

    from gshell.gen.collection import load_folder_report
    from gshell.parallel import map_items

    res = _checks.integer("res", res, lo=8, hi=128)
    steps = _checks.integer("steps", steps, lo=0)
    seed = _checks.integer("seed", seed, lo=0)
    meshes, skipped = load_folder_report(folder, box=min(0.9, 1.0 - 1.5 / res))  # half a cell and more free
    if skipped:
        warnings.warn("fit_folder(%r) skipped %d file(s): %s" % (
            os.fspath(folder), len(skipped), "; ".join("%s (%s)" % s for s in skipped)), UserWarning, stacklevel=2)
    items = [(stem, v.numpy(), f.numpy(), T, res, steps, seed) for stem, v, f, T in meshes]
    names = ["%s.pt" % stem for stem, *_ in meshes]
    summary = map_items(_fit_item, items, out_dir=out, names=names, write=_write_fit, skip_existing=not force,
                        workers=workers, address=address, desc="fit", progress=progress)
    metrics = []
    for n in names:
        p = os.path.join(os.fspath(out), n[:-3] + ".json")
        if os.path.exists(p):
            with open(p) as fh:
                metrics.append(json.load(fh))
    return summary, metrics

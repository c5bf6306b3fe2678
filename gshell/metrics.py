"""Surface reconstruction metrics: Chamfer distance, F-score, normal consistency, boundary loops,
watertightness.

Distances are measured between points sampled uniformly on one surface (by area) and the exact
closest point on the other surface (point-to-triangle, not point-to-sample), so they do not
depend on how densely the reference is sampled. Computation is in float64 NumPy with SciPy's
k-d tree; inputs may be torch tensors on any device or NumPy arrays.

Generation metrics (:func:`point_cloud_chamfer`, :func:`chamfer_matrix`, :func:`mmd`,
:func:`coverage`, :func:`one_nna`, :func:`generation_metrics`) compare a set of generated shapes
with a set of reference shapes through the Chamfer distances between point clouds sampled on
them, as the generation literature does (Achlioptas et al. 2018, "Learning Representations and
Generative Models for 3D Point Clouds"; Yang et al. 2019, "PointFlow").

Image metrics (:func:`psnr`, :func:`ssim`) compare rendered and target images as torch tensors, on
their device, differentiably.
"""
import numpy as np
import torch

from gshell import _checks, topology

# samples per surface: more would not fit in memory (each costs about 200 bytes on the way)
_MAX_SAMPLES = 10 ** 8

__all__ = ["sample_surface", "point_mesh_distance", "chamfer_distance", "f_score",
           "normal_consistency", "compare_meshes", "is_watertight", "boundary_loops",
           "edge_manifold", "psnr", "ssim", "point_cloud_chamfer", "chamfer_matrix", "mmd",
           "coverage", "one_nna", "generation_metrics"]


def _mesh(name, verts, faces):
    """(V,3) float64 and (F,3) int64 NumPy arrays of a non-empty, finite triangle mesh."""
    v = verts.detach().cpu().double().numpy() if hasattr(verts, "detach") else np.asarray(verts, np.float64)
    f = faces.detach().cpu().numpy() if hasattr(faces, "detach") else np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError("Expected %s verts of shape (V, 3) but got shape %s" % (name, tuple(v.shape)))
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError("Expected %s faces of shape (F, 3) with an integer dtype but got shape %s "
                         "dtype %s" % (name, tuple(f.shape), f.dtype))
    if f.shape[0] == 0:
        raise ValueError("Expected %s to have at least one face but got an empty mesh" % name)
    if f.min() < 0 or f.max() >= v.shape[0]:
        raise ValueError("Expected %s faces to index vertices in [0, %d) but got indices in [%d, %d]"
                         % (name, v.shape[0], f.min(), f.max()))
    if not np.isfinite(v).all():
        raise ValueError("Expected finite %s verts but got NaN/Inf" % name)
    return v, f.astype(np.int64)


def _face_geometry(v, f):
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    n = np.cross(b - a, c - a)
    area2 = np.linalg.norm(n, axis=1)
    return a, b, c, n / np.maximum(area2, 1e-300)[:, None], 0.5 * area2


def sample_surface(verts, faces, n, seed=0):
    """Samples points uniformly (by area) on a triangle mesh.

    Args:
        verts: (V, 3) float tensor or array. faces: (F, 3) int tensor or array.
        n: number of points. seed: int, for the sampling.
    Returns:
        points (n, 3) float64 array, normals (n, 3) float64 array (face normals, by winding),
        face index (n,) int64 array.
    """
    n = _checks.integer("n", n, lo=0, hi=_MAX_SAMPLES)
    v, f = _mesh("mesh", verts, faces)
    a, b, c, normals, area = _face_geometry(v, f)
    total = area.sum()
    if not total > 0:
        raise ValueError("Expected a mesh with positive area but got area %g" % total)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(f), size=int(n), p=area / total)
    r1, r2 = rng.random(int(n)), rng.random(int(n))
    s = np.sqrt(r1)
    pts = (1 - s)[:, None] * a[idx] + (s * (1 - r2))[:, None] * b[idx] + (s * r2)[:, None] * c[idx]
    return pts, normals[idx], idx


def _closest_on_triangles(p, a, b, c):
    """Closest points on triangles (a, b, c) to points p, all (K, 3), by Voronoi regions
    (Ericson, Real-Time Collision Detection, 5.1.5), vectorized."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    bp = p - b
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    cp = p - c
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v_in = vb / denom
        w_in = vc / denom
        out = a + ab * v_in[:, None] + ac * w_in[:, None]  # interior
        # edge bc
        w_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        m = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
        out = np.where(m[:, None], b + (c - b) * w_bc[:, None], out)
        # edge ac
        w_ac = d2 / (d2 - d6)
        m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
        out = np.where(m[:, None], a + ac * w_ac[:, None], out)
        # edge ab
        v_ab = d1 / (d1 - d3)
        m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
        out = np.where(m[:, None], a + ab * v_ab[:, None], out)
    # vertex regions last: they take precedence
    out = np.where(((d6 >= 0) & (d5 <= d6))[:, None], c, out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[:, None], b, out)
    out = np.where(((d1 <= 0) & (d2 <= 0))[:, None], a, out)
    # degenerate triangles (denom == 0 and no region matched): fall back to the nearest vertex
    bad = ~np.isfinite(out).all(1)
    if bad.any():
        cand = np.stack([a[bad], b[bad], c[bad]], 1)
        k = np.linalg.norm(cand - p[bad, None], axis=2).argmin(1)
        out[bad] = cand[np.arange(len(k)), k]
    return out


def point_mesh_distance(points, verts, faces, k=24, chunk=32768):
    """Distance from each point to a triangle mesh, and the closest face.

    Candidate faces are the ``k`` faces whose centroids are nearest to the point; the exact
    point-triangle distance is taken over them (exact unless the closest face's centroid is not
    among them, which needs a face much longer than its neighbours; the result is then an upper
    bound).

    Args:
        points: (P, 3) float array or tensor. verts: (V, 3). faces: (F, 3).
        k: candidate faces per point by centroid.
    Returns:
        dist (P,) float64 array, face (P,) int64 array.
    """
    from scipy.spatial import cKDTree

    k = _checks.integer("k", k, lo=1)
    chunk = _checks.integer("chunk", chunk, lo=1)
    v, f = _mesh("mesh", verts, faces)
    p = points.detach().cpu().double().numpy() if hasattr(points, "detach") else np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError("Expected points of shape (P, 3) but got shape %s" % (tuple(p.shape),))
    cent = v[f].mean(1)
    k = int(min(k, len(f)))
    ctree = cKDTree(cent)
    dist = np.empty(len(p))
    face = np.empty(len(p), np.int64)
    for s in range(0, len(p), chunk):
        q = p[s:s + chunk]
        _, cand = ctree.query(q, k=k)
        cand = cand.reshape(len(q), -1)
        tri = f[cand]  # (Q, K, 3)
        qq = np.repeat(q, cand.shape[1], 0)
        cp = _closest_on_triangles(qq, v[tri[..., 0]].reshape(-1, 3), v[tri[..., 1]].reshape(-1, 3),
                                   v[tri[..., 2]].reshape(-1, 3))
        d = np.linalg.norm(cp - qq, axis=1).reshape(len(q), -1)
        j = d.argmin(1)
        dist[s:s + chunk] = d[np.arange(len(q)), j]
        face[s:s + chunk] = cand[np.arange(len(q)), j]
    return dist, face


def _directed(pred, gt, n, seed):
    pts_p, nrm_p, _ = sample_surface(*pred, n, seed=seed)
    pts_g, nrm_g, _ = sample_surface(*gt, n, seed=seed + 1)
    d_pg, f_pg = point_mesh_distance(pts_p, *gt)
    d_gp, f_gp = point_mesh_distance(pts_g, *pred)
    return pts_p, nrm_p, pts_g, nrm_g, d_pg, f_pg, d_gp, f_gp


def compare_meshes(pred_verts, pred_faces, gt_verts, gt_faces, n=100000, threshold=0.01,
                   relative=True, seed=0):
    """All surface metrics of a reconstruction against a reference, from one sampling.

    Args:
        pred_verts, pred_faces: the reconstruction, (V, 3) float and (F, 3) int.
        gt_verts, gt_faces: the reference.
        n: points sampled on each surface.
        threshold: F-score distance threshold; a fraction of the reference's bounding-box
            diagonal when ``relative`` (default 1%), else an absolute length.
        seed: sampling seed.
    Returns:
        dict with ``chamfer`` (0.5 (mean d(pred->gt) + mean d(gt->pred)), absolute),
        ``chamfer_rel`` (chamfer / bbox diagonal of gt), ``accuracy`` (mean d(pred->gt)),
        ``completeness`` (mean d(gt->pred)), ``precision``, ``recall``, ``fscore`` at the
        threshold, ``normal_consistency`` (mean |cos| of normals at closest points, both ways),
        ``diag`` (gt bbox diagonal), ``threshold`` (absolute), ``boundary_loops_pred``,
        ``boundary_loops_gt``, ``watertight_pred``, ``watertight_gt``.
    """
    n = _checks.integer("n", n, lo=1, hi=_MAX_SAMPLES)
    threshold = _checks.real("threshold", threshold, lo=0, lo_open=True)
    pred = _mesh("pred", pred_verts, pred_faces)
    gt = _mesh("gt", gt_verts, gt_faces)
    diag = float(np.linalg.norm(np.ptp(gt[0][np.unique(gt[1])], 0)))
    thr = float(threshold) * diag if relative else float(threshold)
    pts_p, nrm_p, pts_g, nrm_g, d_pg, f_pg, d_gp, f_gp = _directed(pred, gt, n, seed)
    fn_p = _face_geometry(*pred)[3]
    fn_g = _face_geometry(*gt)[3]
    nc = 0.5 * (np.abs((nrm_p * fn_g[f_pg]).sum(1)).mean() + np.abs((nrm_g * fn_p[f_gp]).sum(1)).mean())
    precision = float((d_pg < thr).mean())
    recall = float((d_gp < thr).mean())
    fs = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    chamfer = 0.5 * (d_pg.mean() + d_gp.mean())
    return {
        "chamfer": float(chamfer), "chamfer_rel": float(chamfer / diag), "accuracy": float(d_pg.mean()),
        "completeness": float(d_gp.mean()), "precision": precision, "recall": recall, "fscore": fs,
        "normal_consistency": float(nc), "diag": diag, "threshold": thr,
        "boundary_loops_pred": boundary_loops(pred[1]), "boundary_loops_gt": boundary_loops(gt[1]),
        "watertight_pred": is_watertight(pred[1]), "watertight_gt": is_watertight(gt[1]),
    }


def chamfer_distance(pred_verts, pred_faces, gt_verts, gt_faces, n=100000, seed=0):
    """Symmetric Chamfer distance 0.5 (mean d(pred->gt) + mean d(gt->pred)), unsquared, with
    exact point-to-surface distances from ``n`` area-uniform samples on each mesh.

    Returns:
        float, in the meshes' units.
    """
    n = _checks.integer("n", n, lo=1, hi=_MAX_SAMPLES)
    pred = _mesh("pred", pred_verts, pred_faces)
    gt = _mesh("gt", gt_verts, gt_faces)
    out = _directed(pred, gt, n, seed)
    return float(0.5 * (out[4].mean() + out[6].mean()))


def f_score(pred_verts, pred_faces, gt_verts, gt_faces, threshold, n=100000, seed=0):
    """F-score at an absolute distance ``threshold``: harmonic mean of precision (fraction of
    pred samples within it of gt) and recall (fraction of gt samples within it of pred).

    Returns:
        float in [0, 1].
    """
    m = compare_meshes(pred_verts, pred_faces, gt_verts, gt_faces, n=n, threshold=threshold,
                       relative=False, seed=seed)
    return m["fscore"]


def normal_consistency(pred_verts, pred_faces, gt_verts, gt_faces, n=100000, seed=0):
    """Mean absolute cosine between the normal at a sample and the normal of the closest face on
    the other mesh, averaged over both directions (1 = identical orientation fields).

    Returns:
        float in [0, 1].
    """
    m = compare_meshes(pred_verts, pred_faces, gt_verts, gt_faces, n=n, seed=seed)
    return m["normal_consistency"]


def is_watertight(faces):
    """True when every edge is shared by exactly two faces (and there is at least one face).

    Args:
        faces: (F, 3) integer tensor or array.
    """
    counts = topology.edge_face_counts(faces)[1]
    return bool(len(counts) > 0 and (counts == 2).all())


def edge_manifold(faces):
    """True when no edge is shared by more than two faces.

    Args:
        faces: (F, 3) integer tensor or array.
    """
    counts = topology.edge_face_counts(faces)[1]
    return bool((counts <= 2).all())


def boundary_loops(faces):
    """Number of boundary loops (connected components of edges used by one face).

    Args:
        faces: (F, 3) integer tensor or array.
    """
    return topology.boundary_loops(faces)


# ------------------------------------------------------------------------ generation metrics
def _cloud(name, x):
    """(N, 3) float64 NumPy array of a non-empty, finite point cloud."""
    a = x.detach().cpu().double().numpy() if hasattr(x, "detach") else np.asarray(x, np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] == 0:
        raise ValueError("Expected %s of shape (N, 3) with N >= 1 but got shape %s"
                         % (name, tuple(a.shape)))
    if not np.isfinite(a).all():
        raise ValueError("Expected %s to be finite but it has NaN or Inf" % name)
    return a


def point_cloud_chamfer(x, y):
    """The Chamfer distance of two point clouds, with squared distances (the convention of
    PointFlow and of MeshDiffusion's evaluation):
    ``mean_x min_y |x - y|^2 + mean_y min_x |x - y|^2``.

    Args:
        x: (N, 3) float tensor or array. y: (M, 3) float tensor or array.
    Returns:
        float (0 for equal clouds, symmetric).
    """
    from scipy.spatial import cKDTree

    a, b = _cloud("x", x), _cloud("y", y)
    dab = cKDTree(b).query(a)[0]
    dba = cKDTree(a).query(b)[0]
    return float(np.mean(dab ** 2) + np.mean(dba ** 2))


def chamfer_matrix(clouds_a, clouds_b=None):
    """Pairwise :func:`point_cloud_chamfer` between two lists of point clouds.

    Args:
        clouds_a: list of A (N_i, 3) clouds. clouds_b: list of B clouds, or None for
            ``clouds_a`` itself (then the matrix is symmetric with a zero diagonal and each pair
            is computed once).
    Returns:
        (A, B) float64 array.
    """
    from scipy.spatial import cKDTree

    if not isinstance(clouds_a, (list, tuple)) or not clouds_a:
        raise ValueError("Expected clouds_a to be a non-empty list of (N, 3) point clouds")
    same = clouds_b is None
    if not same and (not isinstance(clouds_b, (list, tuple)) or not clouds_b):
        raise ValueError("Expected clouds_b to be None or a non-empty list of (N, 3) point clouds")
    A = [_cloud("clouds_a[%d]" % i, c) for i, c in enumerate(clouds_a)]
    B = A if same else [_cloud("clouds_b[%d]" % i, c) for i, c in enumerate(clouds_b)]
    ta = [cKDTree(c) for c in A]
    tb = ta if same else [cKDTree(c) for c in B]
    out = np.zeros((len(A), len(B)))
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            if same and j <= i:
                continue
            d = np.mean(tb[j].query(a)[0] ** 2) + np.mean(ta[i].query(b)[0] ** 2)
            out[i, j] = d
            if same:
                out[j, i] = d
    return out


def _distance_matrix(name, d, rows=None, cols=None):
    d = np.asarray(d, np.float64)
    if d.ndim != 2 or d.shape[0] == 0 or d.shape[1] == 0:
        raise ValueError("Expected %s to be a non-empty 2-D distance matrix but got shape %s"
                         % (name, d.shape))
    if (rows is not None and d.shape[0] != rows) or (cols is not None and d.shape[1] != cols):
        raise ValueError("Expected %s of shape (%s, %s) but got %s" % (name, rows, cols, d.shape))
    if not np.isfinite(d).all() or (d < 0).any():
        raise ValueError("Expected %s to hold finite distances >= 0" % name)
    return d


def mmd(d_gen_ref):
    """Minimum matching distance: for each reference shape the distance to its closest generated
    shape, averaged over the references (lower is better: the references are matched well).

    Args:
        d_gen_ref: (G, R) distances between generated (rows) and reference (columns) shapes.
    Returns:
        float.
    """
    d = _distance_matrix("d_gen_ref", d_gen_ref)
    return float(d.min(0).mean())


def coverage(d_gen_ref):
    """Coverage: the fraction of reference shapes that are the nearest reference of at least one
    generated shape (higher is better: the samples spread over the references).

    Args:
        d_gen_ref: (G, R) distances between generated (rows) and reference (columns) shapes.
    Returns:
        float in [0, 1].
    """
    d = _distance_matrix("d_gen_ref", d_gen_ref)
    return float(len(np.unique(d.argmin(1))) / d.shape[1])


def one_nna(d_gen_gen, d_ref_ref, d_gen_ref):
    """1-nearest-neighbour accuracy: the leave-one-out accuracy of the 1-NN classifier that tells
    generated from reference shapes in their union. 0.5 is ideal (the two sets are
    indistinguishable); 1 means every shape's nearest neighbour is from its own set. A shape as
    close to the other set as to its own counts as misclassified (so two identical sets give 0).

    Args:
        d_gen_gen: (G, G), d_ref_ref: (R, R), d_gen_ref: (G, R) distances.
    Returns:
        float in [0, 1].
    """
    gg, rr = _distance_matrix("d_gen_gen", d_gen_gen), _distance_matrix("d_ref_ref", d_ref_ref)
    G, R = gg.shape[0], rr.shape[0]
    gg, rr = _distance_matrix("d_gen_gen", gg, G, G), _distance_matrix("d_ref_ref", rr, R, R)
    gr = _distance_matrix("d_gen_ref", d_gen_ref, G, R)
    if G + R < 3:
        raise ValueError("Expected at least 3 shapes in all for 1-NNA but got %d" % (G + R))
    full = np.block([[gg, gr], [gr.T, rr]])
    np.fill_diagonal(full, np.inf)
    label = np.r_[np.zeros(G, bool), np.ones(R, bool)]
    correct = 0
    for i in range(G + R):
        same = full[i][label == label[i]].min()
        other = full[i][label != label[i]].min() if (label != label[i]).any() else np.inf
        correct += bool(same < other)
    return float(correct / (G + R))


def generation_metrics(generated, reference, n_points=2048, seed=0):
    """MMD, COV and 1-NNA (Chamfer) between generated and reference meshes.

    Each mesh is sampled with :func:`sample_surface` (``n_points`` points, seeded by
    ``seed`` and its index), the clouds are compared with :func:`point_cloud_chamfer`.

    Args:
        generated: list of (verts (V, 3), faces (F, 3)) meshes. reference: the same.
        n_points: int >= 1, points per mesh. seed: int.
    Returns:
        dict: ``mmd``, ``cov``, ``1nna`` (floats), ``n_generated``, ``n_reference``, ``n_points``.
    """
    n_points = _checks.integer("n_points", n_points, lo=1, hi=_MAX_SAMPLES)
    for name, meshes in (("generated", generated), ("reference", reference)):
        if not isinstance(meshes, (list, tuple)) or not meshes:
            raise ValueError("Expected %s to be a non-empty list of (verts, faces) meshes" % name)
    gen = [sample_surface(v, f, n_points, seed=[seed, 0, i])[0] for i, (v, f) in enumerate(generated)]
    ref = [sample_surface(v, f, n_points, seed=[seed, 1, i])[0] for i, (v, f) in enumerate(reference)]
    d_gr = chamfer_matrix(gen, ref)
    return {"mmd": mmd(d_gr), "cov": coverage(d_gr),
            "1nna": one_nna(chamfer_matrix(gen), chamfer_matrix(ref), d_gr),
            "n_generated": len(gen), "n_reference": len(ref), "n_points": n_points}


# ----------------------------------------------------------------------------- image metrics
def _image_pair(pred, target):
    """Checks two float images (H, W, C) or (N, H, W, C) of one shape, dtype and device; returns
    them as (N, H, W, C) and whether a batch was given."""
    _checks.tensor("pred", pred, dtypes=_checks.FLOATS)
    _checks.tensor("target", target, dtypes=_checks.FLOATS, device=pred.device)
    if pred.dim() not in (3, 4) or min(pred.shape) < 1:
        raise ValueError("Expected pred of shape (H, W, C) or (N, H, W, C) but got %s" % _checks._desc(pred))
    if target.shape != pred.shape:
        raise ValueError("Expected target of pred's shape %s but got %s" % (tuple(pred.shape), _checks._desc(target)))
    if target.dtype != pred.dtype:
        raise TypeError("Expected target of pred's dtype %s but got %s" % (pred.dtype, _checks._desc(target)))
    _checks.finite("pred", pred)
    _checks.finite("target", target)
    batched = pred.dim() == 4
    return (pred, target, batched) if batched else (pred[None], target[None], batched)


def psnr(pred, target, mask=None, max_value=1.0):
    """Peak signal-to-noise ratio, 10 log10(max_value^2 / MSE), per image.

    The mean squared error is taken over all pixels and channels of an image, or over the pixels
    where ``mask`` is set; identical images give ``inf``. The definition of scikit-image's
    ``peak_signal_noise_ratio(target, pred, data_range=max_value)``. Differentiable with respect to
    ``pred`` and ``target``.

    Args:
        pred: (H, W, C) or (N, H, W, C) float32|float64 tensor, finite, on any device.
        target: tensor of pred's shape, dtype and device.
        mask: None, or (H, W) / (N, H, W) (also with a trailing 1) bool or float tensor on pred's
            device: pixel weights (a float mask weights the squared errors); every image must
            keep a positive weight.
        max_value: positive float, the peak value (data range) of the images.
    Returns:
        float tensor in pred's dtype: shape () for one image, (N,) for a batch (in dB).
    Raises:
        TypeError, ValueError: mismatched shapes, dtypes or devices, NaN/Inf, a negative or empty
            mask, max_value <= 0.

    Example:
        >>> psnr(render, views.rgb[0], mask=views.mask[0] > 0.5)
    """
    x, y, batched = _image_pair(pred, target)
    max_value = _checks.real("max_value", max_value, lo=0, lo_open=True)
    err = (x - y).pow(2)
    n, h, w, c = x.shape
    if mask is None:
        mse = err.mean(dim=(1, 2, 3))
    else:
        _checks.tensor("mask", mask, device=pred.device)
        m = mask
        if m.dim() == pred.dim() and m.shape[-1] == 1:
            m = m[..., 0]
        if m.shape != pred.shape[:-1]:
            raise ValueError("Expected mask of shape %s (pred's pixels) but got %s"
                             % (tuple(pred.shape[:-1]), _checks._desc(mask)))
        if m.dtype != torch.bool and not m.is_floating_point():
            raise TypeError("Expected mask of dtype bool or float but got %s" % _checks._desc(mask))
        m = m.to(x.dtype).reshape(n, h, w)
        _checks.finite("mask", m)
        if bool((m < 0).any()):
            raise ValueError("Expected mask >= 0 but got negative weights")
        total = m.sum(dim=(1, 2))
        if not bool((total > 0).all()):
            raise ValueError("Expected mask to select pixels in every image but %d image(s) have none"
                             % int((total <= 0).sum()))
        mse = (err * m[..., None]).sum(dim=(1, 2, 3)) / (total * c)
    out = 10 * torch.log10(max_value ** 2 / mse)
    return out if batched else out[0]


def _gaussian_window(sigma, radius, dtype, device):
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def ssim(pred, target, data_range=1.0, win_size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity (Wang et al. 2004, https://doi.org/10.1109/TIP.2003.819861), per image,
    averaged over channels.

    Local means, variances and covariance come from a Gaussian window (``sigma`` 1.5, 11 x 11,
    population statistics); the SSIM map is averaged over the pixels where the whole window lies
    inside the image (a border of ``win_size // 2`` pixels is left out). This is scikit-image's
    ``structural_similarity(target, pred, data_range=data_range, channel_axis=-1,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``. Differentiable.

    Args:
        pred: (H, W, C) or (N, H, W, C) float32|float64 tensor, finite, H and W >= ``win_size``.
        target: tensor of pred's shape, dtype and device.
        data_range: positive float, the range of the image values (1 for images in [0, 1]).
        win_size: odd int >= 3, the window's width (the Gaussian is truncated to it).
        sigma: positive float, the Gaussian's standard deviation in pixels.
        k1, k2: positive floats, the stabilising constants C1 = (k1 L)^2, C2 = (k2 L)^2.
    Returns:
        float tensor in pred's dtype: shape () for one image, (N,) for a batch; 1 for identical
        images.
    Raises:
        TypeError, ValueError: mismatched shapes, dtypes or devices, NaN/Inf, images smaller than
            the window, bad parameters.
    """
    import torch.nn.functional as F

    x, y, batched = _image_pair(pred, target)
    data_range = _checks.real("data_range", data_range, lo=0, lo_open=True)
    win_size = _checks.integer("win_size", win_size, lo=3)
    if win_size % 2 == 0:
        raise ValueError("Expected an odd win_size but got %d" % win_size)
    sigma = _checks.real("sigma", sigma, lo=0, lo_open=True)
    k1 = _checks.real("k1", k1, lo=0, lo_open=True)
    k2 = _checks.real("k2", k2, lo=0, lo_open=True)
    n, h, w, c = x.shape
    if h < win_size or w < win_size:
        raise ValueError("Expected images of at least %d x %d pixels (the SSIM window) but got %s"
                         % (win_size, win_size, _checks._desc(pred)))
    g = _gaussian_window(sigma, win_size // 2, x.dtype, x.device)
    # all five statistics of all channels in one separable 'valid' convolution: the border that
    # scikit-image crops is exactly where the window would leave the image
    xc = x.permute(0, 3, 1, 2).reshape(n * c, 1, h, w)
    yc = y.permute(0, 3, 1, 2).reshape(n * c, 1, h, w)
    stack = torch.cat([xc, yc, xc * xc, yc * yc, xc * yc], 1)          # (N C, 5, H, W)
    stack = F.conv2d(stack, g.view(1, 1, -1, 1).expand(5, 1, -1, 1), groups=5)
    ux, uy, uxx, uyy, uxy = F.conv2d(stack, g.view(1, 1, 1, -1).expand(5, 1, 1, -1), groups=5).unbind(1)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    out = s.reshape(n, c, -1).mean(dim=(1, 2))
    return out if batched else out[0]

"""Evaluation of generated open meshes, as in the generation literature (PointFlow, MeshDiffusion):
validity, then MMD, COV and 1-NNA (Chamfer) against a reference set, with two baselines computed
the same way: a Gaussian in the PCA space of the training tensors, and the training shapes
themselves (the ceiling a model that memorises its data would reach).

Every mesh is normalised (bounding box centred at the origin, largest extent 1) before its points
are sampled, so the numbers do not depend on the coordinates each set was written in.
"""
import numpy as np
import torch

from gshell import _checks


def is_valid_open_mesh(verts, faces, min_faces=20):
    """True for a usable open mesh: at least ``min_faces`` faces, edge-manifold, vertex-manifold,
    consistently oriented, no unused vertex, at least one boundary loop, finite.

    Args:
        verts: (V, 3) float tensor or array. faces: (F, 3) int tensor or array.
    """
    from gshell import topology

    v = verts.detach().cpu().numpy() if isinstance(verts, torch.Tensor) else np.asarray(verts)
    f = faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else np.asarray(faces)
    if f.ndim != 2 or f.shape[0] < min_faces or v.ndim != 2 or not np.isfinite(v).all():
        return False
    t = topology.topology(f, v.shape[0])
    return bool(t["edge_manifold"] and t["nonmanifold_vertices"] == 0 and t["oriented"]
                and t["unreferenced_vertices"] == 0 and t["boundary_loops"] >= 1)


def normalise(verts):
    """(V, 3) float64 array: ``verts`` with its bounding box centred at 0 and largest extent 1."""
    v = verts.detach().cpu().double().numpy() if isinstance(verts, torch.Tensor) else np.asarray(verts, np.float64)
    lo, hi = v.min(0), v.max(0)
    ext = float((hi - lo).max())
    return (v - (lo + hi) / 2) / (ext if ext > 0 else 1.0)


def _meshes(name, meshes):
    if not isinstance(meshes, (list, tuple)) or not meshes:
        raise ValueError("Expected %s to be a non-empty list of (verts, faces) meshes" % name)
    return list(meshes)


def score(generated, reference, n_points=2048, seed=0):
    """Validity and MMD / COV / 1-NNA of generated meshes against reference meshes.

    Args:
        generated: list of (verts (V, 3), faces (F, 3)) meshes (empty ones allowed: they count as
            invalid and are left out of the distances).
        reference: list of non-empty meshes.
        n_points: points per mesh. seed: sampling seed.
    Returns:
        dict: ``n``, ``valid`` (fraction of valid open meshes, :func:`is_valid_open_mesh`),
        ``connected`` (fraction valid and in one piece),
        ``mmd``, ``cov``, ``1nna`` (see :func:`gshell.metrics.generation_metrics`; Chamfer with
        squared distances, on normalised meshes), ``n_scored`` (the non-empty ones).
    """
    from gshell.metrics import generation_metrics

    generated = _meshes("generated", generated)
    reference = _meshes("reference", reference)
    n_points = _checks.integer("n_points", n_points, lo=16)
    from gshell import topology

    valid = [is_valid_open_mesh(v, f) for v, f in generated]
    one = [ok and topology.topology(np.asarray(f), len(v))["components"] == 1 for ok, (v, f) in zip(valid, generated)]
    scored = [(normalise(v), f) for v, f in generated if len(f) > 0]
    ref = [(normalise(v), f) for v, f in reference]
    out = {"n": len(generated), "valid": float(np.mean(valid)), "connected": float(np.mean(one)),
           "n_scored": len(scored)}
    if not scored:
        out.update(mmd=float("nan"), cov=0.0, **{"1nna": 1.0})
        return out
    m = generation_metrics(scored, ref, n_points=n_points, seed=seed)
    out.update(mmd=m["mmd"], cov=m["cov"], **{"1nna": m["1nna"]})
    return out


def evaluate(samples, reference, train_tensors=None, n_points=2048, seed=0, pca_components=None):
    """:func:`score` of ``samples`` and, with ``train_tensors``, of the two baselines.

    Args:
        samples: list of generated meshes. reference: list of meshes (the held-out split).
        train_tensors: None or (N, 6, R, R, R) float tensor, the training set's grid tensors.
            The baselines then are: ``pca``, as many samples as ``samples`` from a Gaussian in
            their PCA space (:class:`gshell.gen.baseline.PCAGaussian`, ``pca_components``
            components, default its own), extracted like the model's; ``train``, as many training
            shapes as ``samples`` (evenly spaced in the set, all of them if fewer), extracted from
            their tensors.
        n_points, seed: see :func:`score`.
    Returns:
        dict of rows ``{"samples": score, "pca": score, "train": score}`` (the baselines only
        with ``train_tensors``).
    """
    from gshell.gen.tensor import extract

    rows = {"samples": score(samples, reference, n_points, seed)}
    if train_tensors is None:
        return rows
    from gshell.gen.baseline import PCAGaussian

    n = len(samples)
    pca = PCAGaussian().fit(train_tensors, n_components=pca_components, seed=seed)
    drawn = pca.sample(n, generator=torch.Generator().manual_seed(seed))
    rows["pca"] = score([extract(t) for t in drawn], reference, n_points, seed)
    k = train_tensors.shape[0]
    idx = np.unique(np.linspace(0, k - 1, min(n, k)).round().astype(np.int64))
    rows["train"] = score([extract(train_tensors[i]) for i in idx], reference, n_points, seed)
    return rows


def format_table(rows):
    """The rows of :func:`evaluate` as a Markdown table (MMD x 1e3)."""
    lines = ["| set | n | valid open meshes | of them in one piece | MMD (CD, x1e3) ↓ | COV ↑ | 1-NNA (→ 50%) |",
             "|---|---|---|---|---|---|---|"]
    names = {"samples": "samples (model)", "pca": "PCA-Gaussian baseline", "train": "training set (ceiling)"}
    for key, r in rows.items():
        lines.append("| %s | %d | %.1f%% | %.1f%% | %.3f | %.1f%% | %.1f%% |" % (
            names.get(key, key), r["n"], 100 * r["valid"], 100 * r["connected"], 1e3 * r["mmd"], 100 * r["cov"],
            100 * r["1nna"]))
    return "\n".join(lines)

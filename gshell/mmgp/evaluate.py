"""Error and uncertainty metrics of field and scalar predictions on meshes (PLAID-style).

Definitions (n test samples, reference y, prediction p):
- field RRMSE: sqrt( (1/n) sum_i ||p_i - y_i||_2^2 / (N_i ||y_i||_inf^2) ), norms over all nodes
  and components of sample i (the PLAID benchmark's definition);
- scalar RRMSE: sqrt( (1/n) sum_i (p_i - y_i)^2 / y_i^2 );
- Q^2: 1 - sum (p - y)^2 / sum (y - mean(y))^2, pooled over samples (and nodes, components);
- coverage: fraction of reference values inside the predicted [q025, q975] interval.
"""
import numpy as np

__all__ = ["field_rrmse", "scalar_rrmse", "q2", "coverage", "evaluate"]


def field_rrmse(preds, refs):
    """RRMSE of a field over samples: lists of (N_i,) or (N_i, c) arrays."""
    if len(preds) != len(refs) or not refs:
        raise ValueError("Expected as many predictions as references (at least one) but got %d and %d"
                         % (len(preds), len(refs)))
    terms = []
    for p, y in zip(preds, refs):
        p, y = np.asarray(p, np.float64), np.asarray(y, np.float64)
        if p.shape != y.shape:
            raise ValueError("Expected a prediction of shape %s but got %s" % (y.shape, p.shape))
        scale = np.abs(y).max()
        terms.append(((p - y) ** 2).sum() / (y.shape[0] * max(scale, 1e-300) ** 2))
    return float(np.sqrt(np.mean(terms)))


def scalar_rrmse(preds, refs):
    """RRMSE of a scalar over samples: (n,) arrays."""
    p, y = np.asarray(preds, np.float64).ravel(), np.asarray(refs, np.float64).ravel()
    return float(np.sqrt(np.mean((p - y) ** 2 / np.maximum(y ** 2, 1e-300))))


def q2(preds, refs):
    """Coefficient of determination pooled over all entries (lists or arrays)."""
    p = np.concatenate([np.asarray(a, np.float64).ravel() for a in preds])
    y = np.concatenate([np.asarray(a, np.float64).ravel() for a in refs])
    return float(1.0 - ((p - y) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-300))


def coverage(lo, hi, refs):
    """Fraction of reference entries inside [lo, hi] (lists or arrays)."""
    lo = np.concatenate([np.asarray(a, np.float64).ravel() for a in lo])
    hi = np.concatenate([np.asarray(a, np.float64).ravel() for a in hi])
    y = np.concatenate([np.asarray(a, np.float64).ravel() for a in refs])
    return float(((y >= lo) & (y <= hi)).mean())


def evaluate(predictions, samples, components=False):
    """All metrics of MMGP-style predictions against samples of :mod:`gshell.mmgp.dataset`.

    Args:
        predictions: list of dicts ``{name: {"mean", "var", "q025", "q975"}}`` (one per sample;
            "q025"/"q975" optional).
        samples: list of dicts with ``"fields"`` and ``"scalars_out"``.
        components: also score each component ``k`` of a vector field alone, as ``"name[k]"``
            (PLAID's fields are scalar: e.g. Tensile2d scores U1 and U2 separately, each over
            its own max |ref|, which is stricter than the vector score for a small component).
    Returns:
        dict name -> {"rrmse", "q2", "coverage" (or None)}.
    """
    out = {}
    names = [("fields", k) for k in samples[0]["fields"]] + [("scalars_out", k) for k in samples[0]["scalars_out"]]
    for kind, name in names:
        refs = [s[kind][name] for s in samples]
        means = [p[name]["mean"] for p in predictions]
        rr = field_rrmse(means, refs) if kind == "fields" else scalar_rrmse(means, refs)
        cov = None
        if all("q025" in p[name] for p in predictions):
            cov = coverage([p[name]["q025"] for p in predictions], [p[name]["q975"] for p in predictions], refs)
        out[name] = {"rrmse": rr, "q2": q2(means, refs), "coverage": cov}
        c = np.asarray(refs[0]).shape[1] if kind == "fields" and np.ndim(refs[0]) == 2 else 0
        for j in range(c if components else 0):
            rj = [np.asarray(r)[:, j] for r in refs]
            mj = [np.asarray(m)[:, j] for m in means]
            cj = None
            if cov is not None:
                cj = coverage([np.asarray(p[name]["q025"])[:, j] for p in predictions],
                              [np.asarray(p[name]["q975"])[:, j] for p in predictions], rj)
            out["%s[%d]" % (name, j)] = {"rrmse": field_rrmse(mj, rj), "q2": q2(mj, rj),
                                         "coverage": cj}
    return out

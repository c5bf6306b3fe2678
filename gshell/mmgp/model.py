"""MMGP: mesh morphing Gaussian-process regression of fields and scalars on meshes of varying
connectivity.

Casenave, Staber, Roynard, "MMGP: a Mesh Morphing Gaussian Process-based machine learning method
for regression of physical problems under nonparametrized geometrical variability", NeurIPS 2023,
https://arxiv.org/abs/2306.12342.

Pipeline (2D meshes, each with its own connectivity):

1. Each mesh is morphed onto the unit disk with a Floater map (``morph.floater_map``),
   optionally with its boundary corners pinned at common angles (``landmarks="corners"``).
2. The common mesh is training mesh ``common_index``: its disk positions and its triangles.
3. Each mesh's physical coordinates and fields are carried onto the common mesh's nodes with the
   P1 interpolation ``T_i = transfer_matrix(disk_i, tri_i, disk_common)`` (``T_i @ points_i``,
   ``T_i @ f_i``).
4. Snapshot POD (``pod.POD``) of the carried coordinates, in the inner product of the P1 mass
   matrix of the common mesh in its *physical* coordinates (``kron(M, I_2)``, node-major dofs
   ``node * c + comp``), gives the geometry coefficients; GP inputs are
   ``[geometry coefficients, scalars_in]``.
5. Per output field: POD of the carried field (same mass matrix, per component), and one
   ``GaussianProcess`` for its coefficients (hyperparameters shared across the coefficients, and
   one common output scale so that the leading modes dominate the likelihood).
   Per output scalar: one GP. With several candidate numbers of geometry modes, the one with
   the smallest leave-one-out error on the training set is kept.
6. Prediction decodes linearly and carries the field back to the new mesh with
   ``T_back = transfer_matrix(disk_common, tri_common, disk_i)``.

Uncertainty, GP part: the GP gives each coefficient ``z_j`` an independent Gaussian with variance
``v_j`` (with the nugget: the GP's noise variance stands for its misfit). Each coefficient and
scalar has its own variance scale, calibrated on the training set (``calibration``): by default by
5-fold cross-validation with the hyperparameters refitted on each fold
(``GaussianProcess(column_variance="cv")``: the mean squared held-out z-score is 1), or by the
closed-form leave-one-out (``"loo"``, no refit: cheaper, but optimistic when the
hyperparameters over-fit, as the many length scales of 250 points in 20-odd inputs do).
The field on the new mesh is ``T_back (mean + sum_j z_j mode_j)``, linear in z, so the GP's
per-node variance is ``v_gp = sum_j v_j (T_back mode_j)^2``.

Uncertainty, every error source (``predict(intervals="full")``, the default). The GP's variance
does not see the POD truncation nor the transfers to and from the common mesh, which dominate
where the GP is sure (hexagons fitted on 250 samples: GP-only intervals covered 40% of held-out
nodes). ``fit`` estimates them on the training set only, by ``cv_folds``-fold cross-validation:

1. each training field ``f_i`` (on its own mesh) is carried to the common mesh, projected on a
   POD fitted without its fold (the truncation a new sample sees), and carried back:
   ``e_i = f_i - T_back_i (mean' + P'(T_i f_i - mean'))`` is its truncation plus round-trip error,
   per node of mesh i;
2. ``e_i^2`` is carried onto the common mesh (``T_i e_i^2``) and averaged over the samples: a
   per-node, per-component variance ``s`` on the common mesh, either as it is ("absolute") or
   relative to each sample's mean square predicted field ("relative", errors that scale with
   the load), whichever gives the smaller held-out Gaussian negative log-likelihood;
3. one scale ``lam >= 0`` makes the pooled coverage of ``|r_i| <= 1.96 sqrt(v_gp,i + lam s_i)``
   95% on the training samples, where ``r_i = e_i + T_back_i sum_j (z_ij - z^cv_ij) mode_j`` (the
   GP part from the GP's own held-out predictions ``z^cv``, ``GaussianProcess.heldout_predictions``)
   and ``s_i`` is ``s`` without sample i, carried to mesh i.

The predicted variance at a node of a new mesh is ``v_gp + lam T_back s`` (times the predicted
mean square field in the relative mode), never below the GP's; the quantiles are
``mean -/+ 1.96 sqrt(var)``. A scalar's GP has the nugget floor, among ``scalar_noise_floors``,
whose CV predictions have the smallest negative log-likelihood. Its variance is the GP's times one scale from its held-out
z-scores (the GP's cross-validation, pooled with ``cv_repeats - 1`` more with other folds): the
``ceil(0.95 (n + 1))``-th smallest of n squares, over 1.96^2 (the conformal rank: a new z-score
falls below it with probability >= 95% when the scores are exchangeable; the same fraction of
the pooled scores). The means are those of the GP either way. ``intervals="gp"`` gives
the GP-only intervals (field quantiles then from ``n_samples`` seeded coefficient draws).

The morphing and transfer functions are reached through the module-level hooks ``_morph``,
``_transfer`` and ``_mass``, which import ``gshell.mmgp.morph`` / ``gshell.mmgp.transfer`` lazily
(tests may replace them).
"""
import json
import os
import sys

import numpy as np
import scipy.sparse as sp

from gshell._atomic import save_npz

from .gp import GaussianProcess
from .pod import POD

_Z975 = 1.959963984540054
_FORMAT = "gshell.mmgp.MMGP/1"


# ------------------------------------------------------------------------------------------------
# hooks (lazy imports of the morphing and transfer modules)
def _morph(points, triangles, weights, landmarks=None):
    """Floater map of a disk-like mesh: returns (N, 2) float64 positions in the unit disk.
    ``landmarks``: None or {boundary vertex: angle} (see ``morph.floater_map``)."""
    from . import morph
    return np.asarray(morph.floater_map(points, triangles, weights=weights, landmarks=landmarks),
                      dtype=np.float64)


def _corners(points, triangles, min_turn):
    """Boundary corners in loop order and their normalised arc-length positions."""
    from . import morph
    c = morph.boundary_corners(points, triangles, min_turn=min_turn)
    return c, morph.corner_arc_fractions(points, triangles, c)


def _transfer(src_points, src_triangles, tgt_points):
    """P1 interpolation matrix, scipy.sparse (Nt, Ns), from a source mesh to target points."""
    from . import transfer
    return sp.csr_matrix(transfer.transfer_matrix(src_points, src_triangles, tgt_points))


def _mass(points, triangles):
    """P1 mass matrix, scipy.sparse (N, N)."""
    from . import transfer
    return sp.csr_matrix(transfer.mass_matrix(points, triangles))


# ------------------------------------------------------------------------------------------------
# checks
def _check_meshes(meshes):
    if not isinstance(meshes, (list, tuple)) or len(meshes) == 0:
        raise TypeError("Expected meshes to be a non-empty list of (points, triangles) but got %s"
                        % (type(meshes).__name__ if not isinstance(meshes, (list, tuple))
                           else "an empty list"))
    out = []
    for i, m in enumerate(meshes):
        if not isinstance(m, (list, tuple)) or len(m) != 2:
            raise TypeError("Expected meshes[%d] to be a (points, triangles) pair but got %s"
                            % (i, type(m).__name__))
        p = np.asarray(m[0], dtype=np.float64)
        t = np.asarray(m[1])
        if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 3:
            raise ValueError("Expected meshes[%d] points of shape (N, 2), N >= 3, but got shape %s"
                             % (i, p.shape))
        if not np.all(np.isfinite(p)):
            raise ValueError("Expected meshes[%d] points to be finite but they hold NaN/Inf" % i)
        if (t.ndim != 2 or t.shape[1] != 3 or t.shape[0] < 1
                or not np.issubdtype(t.dtype, np.integer)):
            raise ValueError("Expected meshes[%d] triangles of shape (M, 3) and an integer dtype "
                             "but got shape %s, dtype %s" % (i, t.shape, t.dtype))
        if t.min() < 0 or t.max() >= p.shape[0]:
            raise ValueError("Expected meshes[%d] triangles indexing [0, %d) but got values in "
                             "[%d, %d]" % (i, p.shape[0], t.min(), t.max()))
        a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
        area = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]).sum()
        if not area > 0:
            raise ValueError("Expected meshes[%d] to have triangles of positive area but their total "
                             "area is %g (all points on one line or at one point)" % (i, area))
        out.append((p, t.astype(np.int64)))
    return out


def _check_scalars_in(scalars_in, n, p=None):
    """(n, p) float64 input scalars; None means p = 0 and a 1-D array of length n means p = 1."""
    want = "(%d, %s)" % (n, "p" if p is None else p)
    if scalars_in is None:
        S = np.zeros((n, 0))
    else:
        S = np.asarray(scalars_in, dtype=np.float64)
        if S.ndim == 1 and S.shape[0] == n and p in (None, 1):
            S = S[:, None]
    if S.ndim != 2 or S.shape[0] != n or (p is not None and S.shape[1] != p):
        raise ValueError("Expected scalars_in of shape %s but got %s" % (
            want, "None" if scalars_in is None else "shape %s" % (np.shape(scalars_in),)))
    if not np.all(np.isfinite(S)):
        raise ValueError("Expected scalars_in to be finite but it holds NaN/Inf values")
    return S


def _apply_T(T, flat, c):
    """Applies a node matrix T (A x B) per component to node-major flat fields (..., B*c)."""
    lead = flat.shape[:-1]
    B = T.shape[1]
    F = flat.reshape(-1, B, c)                                   # (L, B, c)
    F = np.moveaxis(F, 1, 0).reshape(B, -1)                      # (B, L*c)
    G = np.asarray(T @ F).reshape(T.shape[0], -1, c)             # (A, L, c)
    return np.moveaxis(G, 0, 1).reshape(lead + (T.shape[0] * c,))


def _row_quantiles(R, qs):
    """Per-row quantiles of R (D, S) float64, C-contiguous, **sorted in place**: equal to
    ``np.quantile(R, qs, axis=1)`` (linear interpolation between the order statistics ``l`` and
    ``l + 1``, ``l = floor(q (S - 1))``).

    NumPy's in-place row sort (SIMD) is 2-3 times faster than ``np.partition`` at the four
    neighbouring order statistics of two quantiles, and nothing is copied.

    Returns:
        list of (D,) float64, one per quantile.
    """
    S = R.shape[1]
    R.sort(axis=1)
    out = []
    for q in qs:
        v = q * (S - 1)
        lo = int(np.floor(v))
        hi = min(lo + 1, S - 1)
        out.append(R[:, lo] + (v - lo) * (R[:, hi] - R[:, lo]))
    return out


def _coverage_scale(r, v0, v1, q=0.95, floor=0.0, rank=None):
    """The smallest ``lam`` such that a fraction ``q`` of the entries satisfy
    ``r^2 <= z^2 (v0 + lam v1)`` (``z`` the 97.5% normal quantile): the variance scale that makes
    the pooled coverage of the 95% interval ``q``.

    Args:
        r, v0, v1: (L,) float64 residuals, fixed variances and scaled variances (v1 >= 0).
        q: float, the target coverage.
        floor: None or float, the smallest scale returned (None: no floor, but > 0).
        rank: None, or int in [1, L]: the scale that covers exactly the ``rank`` entries of
            smallest need (the ``rank``-th order statistic; overrides ``q``).

    Returns:
        float.
    """
    need = r * r / _Z975 ** 2 - v0
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(need <= 0, 0.0, np.where(v1 > 0, need / v1, np.inf))
    if not lam.size:
        out = 0.0
    elif rank is not None:
        out = float(np.sort(lam)[min(max(int(rank), 1), lam.size) - 1])
    else:
        out = float(np.quantile(lam, q, method="higher"))
    if not np.isfinite(out):
        out = float(np.max(lam[np.isfinite(lam)], initial=1.0))
    if floor is None:
        return max(out, 1e-12)
    return max(out, floor)


def _scalar_gp(inputs, y, floors, restarts, seed, calibration, cv_folds):
    """The GP of one output scalar: one fit per nugget floor (``noise_bounds[0]``) in ``floors``
    and, with ``calibration="cv"``, the one whose held-out predictions have the smallest mean
    Gaussian negative log-likelihood (with "loo", the first floor only). A corner stress of
    samples meshed one by one carries mesh noise that an interpolating GP (nugget at 1e-8) fits
    exactly, and its fold models then miss by 5 standard deviations; a smooth scalar keeps the
    interpolating GP.

    Args:
        inputs: (n, p) float64. y: (n,) float64. floors: non-empty list of floats in (0, 1).
    Returns:
        (GaussianProcess, its CV NLL (0.0 with "loo")).
    """
    best = None
    for floor in (floors if calibration == "cv" else floors[:1]):
        gp = GaussianProcess(n_restarts=restarts, seed=seed, column_variance=calibration,
                             cv_folds=cv_folds, noise_bounds=(floor, 1.0)).fit(inputs, y[:, None])
        nll = 0.0
        if calibration == "cv":
            m, v = gp.heldout_predictions()
            v = np.maximum(v[:, 0], 1e-300)
            nll = float(np.mean(0.5 * np.log(v) + 0.5 * (y - m[:, 0]) ** 2 / v))
        if best is None or nll < best[1]:
            best = (gp, nll)
    return best


class MMGP:
    """Mesh morphing Gaussian-process regression (see the module docstring for the method).

    Args:
        n_modes_geometry: int, the number of POD modes of the morphed coordinates (GP inputs),
            or a list of candidates: ``fit`` fits the field GPs for each (one optimiser start)
            and keeps the one with the smallest mean relative leave-one-out error on the training
            set (the squared M-norm of the closed-form LOO errors of the POD coefficients over
            the field's POD energy; without fields, the scalars' LOO SSE over SST). The choice is
            ``n_modes_geometry_``; ``loo_error`` is the final fit's criterion (fields and
            scalars).
        n_modes_fields: int or None; None keeps the modes by ``fields_tol``.
        fields_tol: float, relative unexplained POD energy allowed when ``n_modes_fields`` is None.
        weights: "mean_value" or "uniform", the Floater-map weights.
        common_index: int, the training mesh used as the common mesh.
        n_restarts: int, optimiser runs per GP.
        seed: int, seeds the GP restarts and the prediction draws.
        landmarks: None (the boundary goes onto the circle by arc length from the default start
            vertex of ``morph.boundary_loop``) or "corners": the boundary corners
            (``morph.boundary_corners``, turning by more than ``corner_turn`` degrees, the first
            nearest the lower-left of the bounding box) are pinned on the circle at angles
            ``2 pi f_k``, ``f_k`` the training-mean normalised arc length from the first corner to
            corner k. The same physical corner then sits at the same disk position on every
            mesh. Every mesh must have the same number of corners.
        corner_turn: float, degrees, the corner threshold for ``landmarks="corners"``.
        calibration: "cv" or "loo", how each output's variance scale is calibrated on the
            training set (see the module docstring); the geometry-mode choice always uses the
            closed-form LOO errors.
        cv_folds: int >= 2, the folds of the cross-validations on the training set: the GPs'
            variance scales (``calibration="cv"``) and the error model of the intervals (see the
            module docstring).
        cv_repeats: int >= 1, how many cross-validations (each with its own seeded folds) the
            calibration of each scalar's interval pools (with ``calibration="cv"``): it rests on
            n held-out z-scores, and the draw of the folds alone moves it by up to 40% at
            n = 250; each repeat costs ``cv_folds`` GP fits per scalar.
        scalar_noise_floors: float or list of floats in (0, 1), the nugget floors (standardised
            units) tried for each output scalar's GP; with ``calibration="cv"`` the one with the
            smallest CV negative log-likelihood is kept (a scalar with mesh noise, e.g. a corner
            stress, gets a nugget instead of interpolating; see ``_scalar_gp``).

    Field intervals: the GP's coefficient variance misses the error of the kept POD modes on a
    new sample (truncation) and of the transfers to and from the common mesh, which dominate
    where the GP is sure. ``fit`` estimates them on the training set only: each training field is
    projected on a POD fitted without its fold and carried back to its own mesh; the squared
    residual (with the GP's held-out coefficient error) gives a per-common-node variance
    (absolute, or relative to the predicted field's mean square, whichever has the smaller CV
    negative log-likelihood), scaled so that the CV coverage of the 95% interval is 95%. The
    scalars' GP variance gets one scale per output from the conformal rank of the CV z-scores.
    ``predict(..., intervals="full")`` (the default) adds these; ``intervals="gp"`` leaves them
    out.

    Attributes:
        info: dict of JSON-serialisable metadata (empty at first), saved and loaded with the
            model: e.g. how the input scalars were built (``gshell mmgp fit`` records
            ``{"inputs": "scaled"}`` there so that ``predict`` builds them the same way).
        field_extra: dict field -> (Nc * c,) float64, after ``fit``: the calibrated per-node
            variance of the truncation and transfer errors on the common mesh (node-major,
            already times ``lam``; relative to the mean square predicted field when
            ``field_extra_mode[field] == "relative"``).
        field_extra_mode: dict field -> "absolute" or "relative".
        scalar_scale: dict scalar -> float, the CV coverage scale of each scalar's variance.
        error_cv_: dict output -> dict of the training-set diagnostics of the calibration
            (``scale``, the CV coverage with and without the error model, ...); not saved.

    Example:
        >>> model = MMGP(n_modes_geometry=8, seed=0)
        >>> model.fit(meshes, scalars_in, {"u": fields}, {"lift": lift})
        >>> out = model.predict(new_meshes, new_scalars)
        >>> out[0]["u"]["mean"].shape, out[0]["lift"]["q975"]
    """

    def __init__(self, n_modes_geometry=(8, 12, 16, 20, 24, 32), n_modes_fields=None,
                 fields_tol=1e-4, weights="mean_value", common_index=0, n_restarts=3, seed=0,
                 landmarks=None, corner_turn=50.0, calibration="cv", cv_folds=5, cv_repeats=4,
                 scalar_noise_floors=(1e-8, 1e-3)):
        floors = (list(scalar_noise_floors) if isinstance(scalar_noise_floors, (list, tuple))
                  else [scalar_noise_floors])
        if not floors or any(isinstance(f, bool) or not isinstance(f, (int, float, np.floating))
                             or not (0.0 < float(f) < 1.0) for f in floors):
            raise ValueError("Expected scalar_noise_floors to be a float in (0, 1) or a non-empty "
                             "list of them but got %r" % (scalar_noise_floors,))
        self.scalar_noise_floors = [float(f) for f in floors]
        if landmarks not in (None, "corners"):
            raise ValueError('Expected landmarks to be None or "corners" but got %r' % (landmarks,))
        if calibration not in ("loo", "cv"):
            raise ValueError('Expected calibration to be "loo" or "cv" but got %r' % (calibration,))
        self.calibration = calibration
        if isinstance(cv_folds, bool) or not isinstance(cv_folds, (int, np.integer)) \
                or cv_folds < 2:
            raise ValueError("Expected cv_folds to be an int >= 2 but got %r" % (cv_folds,))
        self.cv_folds = int(cv_folds)
        if isinstance(cv_repeats, bool) or not isinstance(cv_repeats, (int, np.integer)) \
                or cv_repeats < 1:
            raise ValueError("Expected cv_repeats to be an int >= 1 but got %r" % (cv_repeats,))
        self.cv_repeats = int(cv_repeats)
        if not (0.0 < float(corner_turn) < 180.0):
            raise ValueError("Expected corner_turn in (0, 180) degrees but got %r" % (corner_turn,))
        if weights not in ("mean_value", "uniform"):
            raise ValueError('Expected weights to be "mean_value" or "uniform" but got %r'
                             % (weights,))
        cands = (list(n_modes_geometry) if isinstance(n_modes_geometry, (list, tuple))
                 else [n_modes_geometry])
        if not cands or any(isinstance(k, bool) or int(k) != k or k < 1 for k in cands):
            raise ValueError("Expected n_modes_geometry to be an int >= 1 or a non-empty list of "
                             "them but got %r" % (n_modes_geometry,))
        if n_modes_fields is not None and (int(n_modes_fields) != n_modes_fields
                                           or n_modes_fields < 1):
            raise ValueError("Expected n_modes_fields to be an int >= 1 or None but got %r"
                             % (n_modes_fields,))
        if not (0.0 <= fields_tol < 1.0):
            raise ValueError("Expected fields_tol in [0, 1) but got %r" % (fields_tol,))
        if int(n_restarts) != n_restarts or n_restarts < 1:
            raise ValueError("Expected n_restarts to be an int >= 1 but got %r" % (n_restarts,))
        self.n_modes_geometry = (int(n_modes_geometry) if not isinstance(n_modes_geometry,
                                                                         (list, tuple))
                                 else [int(k) for k in n_modes_geometry])
        self.n_modes_fields = None if n_modes_fields is None else int(n_modes_fields)
        self.fields_tol = float(fields_tol)
        self.weights = weights
        self.common_index = int(common_index)
        self.n_restarts = int(n_restarts)
        self.seed = int(seed)
        self.landmarks = landmarks
        self.corner_turn = float(corner_turn)
        self.corner_angles = None
        self.info = {}
        self._fitted = False

    def _config(self):
        return {"n_modes_geometry": self.n_modes_geometry, "n_modes_fields": self.n_modes_fields,
                "fields_tol": self.fields_tol, "weights": self.weights,
                "common_index": self.common_index, "n_restarts": self.n_restarts,
                "seed": self.seed, "landmarks": self.landmarks, "corner_turn": self.corner_turn,
                "calibration": self.calibration, "cv_folds": self.cv_folds,
                "cv_repeats": self.cv_repeats, "scalar_noise_floors": self.scalar_noise_floors}

    def _geometry_candidates(self):
        v = self.n_modes_geometry
        return [v] if isinstance(v, int) else list(v)

    def _disk(self, p, t, k, corners=None):
        """The disk positions of one mesh (meshes[k]), with the corner landmarks if configured
        (``corners``: its boundary corners when already found)."""
        if self.landmarks is None:
            return _morph(p, t, self.weights)
        c = corners
        if c is None:
            from . import morph
            c = morph.boundary_corners(p, t, min_turn=self.corner_turn)
        if len(c) != len(self.corner_angles):
            raise ValueError("Expected %d boundary corners on meshes[%d] (as on the training "
                             "meshes) but got %d" % (len(self.corner_angles), k, len(c)))
        lm = {int(v): float(a) for v, a in zip(c, self.corner_angles)}
        return _morph(p, t, self.weights, landmarks=lm)

    # --------------------------------------------------------------------------------------------
    def fit(self, meshes, scalars_in, fields_out, scalars_out, progress=False):
        """Fits the POD bases and the Gaussian processes.

        Args:
            meshes: list of n pairs (points (N_i, 2) float, triangles (M_i, 3) int), disk-like
                meshes, each with its own connectivity.
            scalars_in: (n, p) float input scalars, p may be 0 (or None).
            fields_out: dict name -> list of n arrays (N_i,) or (N_i, c) float, nodal fields.
            scalars_out: dict name -> (n,) float output scalars.
            progress: print progress on stderr.

        Returns:
            self.
        """
        meshes = _check_meshes(meshes)
        n = len(meshes)
        if not (-n <= self.common_index < n):
            raise ValueError("Expected common_index in [0, %d) but got %d" % (n, self.common_index))
        ci = self.common_index % n
        S = _check_scalars_in(scalars_in, n)
        fields_out = {} if fields_out is None else fields_out
        scalars_out = {} if scalars_out is None else scalars_out
        if not isinstance(fields_out, dict) or not isinstance(scalars_out, dict):
            raise TypeError("Expected fields_out and scalars_out to be dicts but got %s and %s"
                            % (type(fields_out).__name__, type(scalars_out).__name__))
        if not fields_out and not scalars_out:
            raise ValueError("Expected at least one output field or scalar but got none")
        fields, fshape = {}, {}
        for name, lst in fields_out.items():
            if not isinstance(lst, (list, tuple)) or len(lst) != n:
                got = ("%d arrays" % len(lst) if isinstance(lst, (list, tuple))
                       else type(lst).__name__)
                raise ValueError("Expected fields_out[%r] to be a list of %d arrays but got %s"
                                 % (name, n, got))
            arrs = []
            for i, f in enumerate(lst):
                f = np.asarray(f, dtype=np.float64)
                N = meshes[i][0].shape[0]
                if f.ndim not in (1, 2) or f.shape[0] != N:
                    raise ValueError("Expected fields_out[%r][%d] of shape (%d,) or (%d, c) but "
                                     "got shape %s" % (name, i, N, N, f.shape))
                if not np.all(np.isfinite(f)):
                    raise ValueError("Expected fields_out[%r][%d] to be finite" % (name, i))
                arrs.append(f.reshape(N, -1))
                if i == 0:
                    fshape[name] = (f.ndim, arrs[0].shape[1])
                elif (f.ndim, arrs[-1].shape[1]) != fshape[name]:
                    raise ValueError("Expected fields_out[%r][%d] with the shape pattern of item 0 "
                                     "but got shape %s" % (name, i, f.shape))
            fields[name] = arrs
        souts = {}
        for name, y in scalars_out.items():
            y = np.asarray(y, dtype=np.float64).reshape(-1)
            if y.shape != (n,) or not np.all(np.isfinite(y)):
                raise ValueError("Expected scalars_out[%r] to be finite of shape (%d,) but got "
                                 "shape %s" % (name, n, np.shape(scalars_out[name])))
            souts[name] = y

        say = (lambda *a: print("mmgp:", *a, file=sys.stderr)) if progress else (lambda *a: None)
        if self.landmarks == "corners":
            found = [_corners(p, t, self.corner_turn) for p, t in meshes]
            counts = [len(c) for c, _ in found]
            if len(set(counts)) != 1 or counts[0] == 0:
                raise ValueError("Expected the same number (>= 1) of boundary corners on every mesh "
                                 "for landmarks='corners' but got counts %s"
                                 % sorted(set(counts)))
            self.corner_angles = 2.0 * np.pi * np.mean([f for _, f in found], axis=0)
        disks = []
        for k, (p, t) in enumerate(meshes):
            d = self._disk(p, t, k, corners=found[k][0] if self.landmarks else None)
            if d.shape != p.shape:
                raise ValueError("Expected the morph of meshes[%d] to have shape %s but got %s"
                                 % (k, p.shape, d.shape))
            disks.append(d)
        say("morphed %d meshes" % n)
        self.common_disk = disks[ci]
        self.common_triangles = meshes[ci][1]
        self.common_points = meshes[ci][0]
        self.mass = _mass(self.common_points, self.common_triangles)
        Nc = self.common_disk.shape[0]
        Ts = [sp.csr_matrix(_transfer(disks[k], meshes[k][1], self.common_disk)) for k in range(n)]
        for k, T in enumerate(Ts):
            if T.shape != (Nc, meshes[k][0].shape[0]):
                raise ValueError("Expected the transfer matrix of meshes[%d] of shape %s but got %s"
                                 % (k, (Nc, meshes[k][0].shape[0]), T.shape))
        coords = np.stack([np.asarray(Ts[k] @ meshes[k][0]).reshape(-1) for k in range(n)])
        candidates = sorted(set(self._geometry_candidates()))
        gpod = POD().fit(coords, M=self.mass, n_modes=max(candidates))
        Zg_all = gpod.transform(coords)
        candidates = sorted(set(min(k, Zg_all.shape[1]) for k in candidates))
        self.n_scalars_in = S.shape[1]
        Fs = {name: np.stack([np.asarray(Ts[k] @ arrs[k]).reshape(-1) for k in range(n)])
              for name, arrs in fields.items()}
        pods = {}
        for name, F in Fs.items():
            if self.n_modes_fields is None:
                pods[name] = POD().fit(F, M=self.mass, tol=self.fields_tol)
            else:
                pods[name] = POD().fit(F, M=self.mass, n_modes=self.n_modes_fields)

        def inputs_for(kg):
            x = np.hstack([Zg_all[:, :kg], S])
            return np.zeros((n, 1)) if x.shape[1] == 0 else x

        def fit_all(inputs, restarts, with_scalars, calibration="loo"):
            """GPs of the fields (and scalars) and the mean relative LOO error."""
            fgps, sgps, errs = {}, {}, []
            for j, name in enumerate(Fs):
                pod, gp = pods[name], None
                if pod.n_modes:
                    gp = GaussianProcess(n_restarts=restarts, seed=self.seed + 1 + j,
                                         y_scaling="shared", column_variance=calibration,
                                         cv_folds=self.cv_folds)
                    gp.fit(inputs, pod.transform(Fs[name]))
                    # M-orthonormal modes: the squared LOO coefficient error is the squared
                    # M-norm of the field error (within the kept modes).
                    errs.append((gp.loo_residuals() ** 2).sum() / max(pod.energy_all.sum(), 1e-300))
                fgps[name] = gp
            for j, (name, y) in enumerate(souts.items() if with_scalars else ()):
                gp = sgps[name] = _scalar_gp(inputs, y, self.scalar_noise_floors, restarts,
                                             self.seed + 1001 + j, calibration, self.cv_folds)[0]
                errs.append((gp.loo_residuals() ** 2).sum() / max(((y - y.mean()) ** 2).sum(),
                                                                   1e-300))
            return fgps, sgps, float(np.mean(errs)) if errs else 0.0

        # Choice of the geometry modes: GPs from the first (deterministic) start only, scored on
        # the fields (on the scalars when there are no fields); then the full fit.
        kg = candidates[0]
        if len(candidates) > 1:
            by_fields = any(p.n_modes for p in pods.values())
            best = None
            for k in candidates:
                _, _, crit = fit_all(inputs_for(k), 1, not by_fields)
                say("geometry modes %d: mean relative LOO error %.4g" % (k, crit))
                if best is None or crit < best[0]:
                    best = (crit, k)
            kg = best[1]
        fgps, sgps, self.loo_error = fit_all(inputs_for(kg), self.n_restarts, True,
                                             self.calibration)
        gpod.modes, gpod.energy = gpod.modes[:kg], gpod.energy[:kg]
        self.geometry_pod = gpod
        self.n_modes_geometry_ = kg
        say("geometry POD: %d modes (of candidates %s)" % (kg, candidates))
        self.field_names, self.field_shape, self.field_pods, self.field_gps = [], {}, {}, {}
        for name in Fs:
            self.field_names.append(name)
            self.field_shape[name] = fshape[name]
            self.field_pods[name], self.field_gps[name] = pods[name], fgps[name]
            say("field %r: %d modes" % (name, pods[name].n_modes))
        self.scalar_names, self.scalar_gps = list(souts), sgps
        self._fit_error_model(meshes, disks, Ts, fields, Fs, souts, say)
        self._fitted = True
        return self

    # --------------------------------------------------------------------------------------------
    def _fit_error_model(self, meshes, disks, Ts, fields, Fs, souts, say):
        """The per-node variance of the errors the GP does not see, calibrated on the training
        set only (see "Uncertainty, every error source" in the module docstring).

        Sets ``field_extra[name]`` ((Nc * c,) float64, node-major on the common mesh),
        ``field_extra_mode[name]`` ("absolute" or "relative"), ``scalar_scale[name]`` (float)
        and the diagnostics ``error_cv_`` (dict name -> dict).
        """
        n = len(meshes)
        Tbs = [sp.csr_matrix(_transfer(self.common_disk, self.common_triangles, disks[k]))
               for k in range(n)]
        kf = min(self.cv_folds, n)
        folds = (np.array_split(np.random.default_rng([self.seed, 7]).permutation(n), kf)
                 if kf >= 2 else [])
        rule = ({"tol": self.fields_tol} if self.n_modes_fields is None
                else {"n_modes": self.n_modes_fields})
        self.field_extra, self.field_extra_mode, self.error_cv_ = {}, {}, {}
        for name in self.field_names:
            pod, gp = self.field_pods[name], self.field_gps[name]
            c = self.field_shape[name][1]
            X = Fs[name]                                                    # (n, Nc * c)
            # Each sample projected on a POD that did not see it (truncation of a new sample).
            proj = np.empty_like(X)
            for held in folds:
                keep = np.setdiff1d(np.arange(n), held)
                pf = POD().fit(X[keep], M=self.mass, **rule)
                proj[held] = (pf.inverse_transform(pf.transform(X[held])) if pf.n_modes
                              else pf.mean[None])
            if not folds:
                proj[:] = pod.inverse_transform(pod.transform(X)) if pod.n_modes else pod.mean
            if gp is not None:
                zt = pod.transform(X)
                zm, zv = gp.heldout_predictions()
            res, vgp, s_abs, amp2 = [], [], [], []
            for i in range(n):
                Tb = Tbs[i]
                e = fields[name][i].reshape(-1) - _apply_T(Tb, proj[i][None], c)[0]
                if gp is not None:
                    mb = _apply_T(Tb, pod.modes, c)                         # (kf, N_i * c)
                    g = (zt[i] - zm[i]) @ mb
                    vgp.append(np.maximum(zv[i], 0.0) @ mb ** 2)
                    common = pod.mean + zm[i] @ pod.modes
                else:
                    g = 0.0
                    vgp.append(np.zeros_like(e))
                    common = pod.mean
                res.append(e + g)
                amp2.append(max(float(np.mean(common ** 2)), 1e-300))
                s_abs.append(np.maximum(_apply_T(Ts[i], (e * e)[None], c)[0], 0.0))
            amp2 = np.array(amp2)
            s_abs = np.stack(s_abs)                                         # (n, Nc * c)
            s_rel = s_abs / amp2[:, None]
            r = np.concatenate(res)
            vg = np.concatenate(vgp)
            best = None
            for mode, s, a in (("absolute", s_abs, np.ones(n)), ("relative", s_rel, amp2)):
                tot = s.sum(0)
                # leave-one-out mean: sample i's own error is not part of its variance
                ve = np.concatenate([a[i] * np.maximum(_apply_T(
                    Tbs[i], ((tot - s[i]) / max(n - 1, 1))[None], c)[0], 0.0) for i in range(n)])
                lam = _coverage_scale(r, vg, ve)
                v = np.maximum(vg + lam * ve, 1e-300)
                nll = float(np.mean(0.5 * np.log(v) + 0.5 * r * r / v))
                cov_gp = float(np.mean(r * r <= _Z975 ** 2 * vg))
                cov = float(np.mean(r * r <= _Z975 ** 2 * v))
                say("field %r error model %s: scale %.3g, CV NLL %.4g, CV coverage %.3f (GP only "
                    "%.3f)" % (name, mode, lam, nll, cov, cov_gp))
                if best is None or nll < best[0]:
                    best = (nll, mode, lam * tot / n,
                            {"mode": mode, "scale": lam, "nll": nll, "coverage": cov,
                             "coverage_gp": cov_gp})
            _, self.field_extra_mode[name], self.field_extra[name], self.error_cv_[name] = best
        self.scalar_scale = {}
        for name in self.scalar_names:
            gp = self.scalar_gps[name]
            m, v = gp.heldout_predictions()
            y = souts[name]
            rs, vs = [y - m[:, 0]], [v[:, 0]]
            if gp.column_variance == "cv" and min(self.cv_folds, n) >= 2:
                X = gp._X * gp.x_std_ + gp.x_mean_
                for rep in range(1, self.cv_repeats):
                    m, v = gp._cv_heldout(X, y[:, None], [self.seed, 11, rep])
                    rs.append(y - m[:, 0])
                    vs.append(v[:, 0] * gp.column_scale_[0])
            r, v = np.concatenate(rs), np.maximum(np.concatenate(vs), 1e-300)
            # the conformal rank: with n held-out scores, the ceil((n + 1) 0.95)-th smallest
            # covers a new one with probability >= 0.95 (exchangeable scores); pooled over the
            # repeats, the same fraction of the R n scores
            rank = int(np.ceil(len(rs) * np.ceil((n + 1) * 0.95)))
            kap = _coverage_scale(r, np.zeros_like(r), v, floor=None, rank=rank)
            self.scalar_scale[name] = float(kap)
            self.error_cv_[name] = {"scale": float(kap), "repeats": len(rs),
                                    "noise_floor": gp.noise_bounds[0],
                                    "coverage_gp": float(np.mean(r * r <= _Z975 ** 2 * v))}
            say("scalar %r: CV coverage-calibrated variance scale %.3g" % (name, kap))

    # --------------------------------------------------------------------------------------------
    def predict(self, meshes, scalars_in=None, n_samples=200, seed=None, intervals="full"):
        """Predicts the output fields and scalars, with variances and 95% intervals.

        Args:
            meshes: list of m pairs (points (N_i, 2) float, triangles (M_i, 3) int).
            scalars_in: (m, p) float input scalars (None when p is 0).
            n_samples: int >= 2, coefficient draws for the field quantiles of
                ``intervals="gp"``.
            seed: int or None (the model's seed), seeds the draws of ``intervals="gp"``.
            intervals: "full" (default): every error source of the model (the GP's coefficient
                variance plus the calibrated per-node variance of the POD truncation and of the
                transfers, see the class docstring); quantiles ``mean -/+ 1.96 sqrt(var)``.
                "gp": the GP's coefficient variance alone, as before (field quantiles from
                ``n_samples`` seeded coefficient draws, scalar variances not rescaled).

        Returns:
            list of m dicts ``{name: {"mean", "var", "q025", "q975"}}``: for each field arrays of
            shape (N_i,) or (N_i, c) float64 on the mesh's nodes; for each scalar floats. The
            means do not depend on ``intervals``.
        """
        if not self._fitted:
            raise RuntimeError("Expected a fitted MMGP: call fit (or MMGP.load) first")
        if intervals not in ("full", "gp"):
            raise ValueError('Expected intervals to be "full" or "gp" but got %r' % (intervals,))
        if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 2:
            raise ValueError("Expected n_samples to be an int >= 2 but got %r" % (n_samples,))
        meshes = _check_meshes(meshes)
        m = len(meshes)
        S = _check_scalars_in(scalars_in, m, self.n_scalars_in)
        seed = self.seed if seed is None else int(seed)
        disks, coords = [], []
        for k, (p, t) in enumerate(meshes):
            d = self._disk(p, t, k)
            disks.append(d)
            T = sp.csr_matrix(_transfer(d, t, self.common_disk))
            coords.append(np.asarray(T @ p).reshape(-1))
        Zg = self.geometry_pod.transform(np.stack(coords))
        inputs = np.hstack([Zg, S])
        if inputs.shape[1] == 0:
            inputs = np.zeros((m, 1))
        field_pred = {}
        for name in self.field_names:
            gp = self.field_gps[name]
            if gp is None:
                field_pred[name] = (np.zeros((m, 0)), np.zeros((m, 0)))
            else:
                field_pred[name] = gp.predict(inputs, return_cov="diag",
                                              include_noise=gp.column_variance in ("loo", "cv"))
        scalar_pred = {name: self.scalar_gps[name].predict(
            inputs, return_cov="diag",
            include_noise=self.scalar_gps[name].column_variance in ("loo", "cv"))
            for name in self.scalar_names}
        out = []
        for k, (p, t) in enumerate(meshes):
            res = {}
            Tb = sp.csr_matrix(_transfer(self.common_disk, self.common_triangles, disks[k]))
            N = p.shape[0]
            if Tb.shape != (N, self.common_disk.shape[0]):
                raise ValueError("Expected the back-transfer matrix of meshes[%d] of shape %s "
                                 "but got %s" % (k, (N, self.common_disk.shape[0]), Tb.shape))
            for j, name in enumerate(self.field_names):
                pod = self.field_pods[name]
                ndim, c = self.field_shape[name]
                mu, var = field_pred[name][0][k], np.maximum(field_pred[name][1][k], 0.0)
                base = _apply_T(Tb, pod.mean[None], c)[0]                  # (N*c,)
                modes_b = _apply_T(Tb, pod.modes, c)                       # (kf, N*c)
                mean = base + mu @ modes_b
                v = var @ modes_b ** 2
                shape = (N,) if ndim == 1 else (N, c)
                if intervals == "full":
                    extra = self.field_extra[name]
                    if self.field_extra_mode[name] == "relative":
                        common = pod.mean + mu @ pod.modes
                        extra = extra * float(np.mean(common ** 2))
                    v = v + np.maximum(_apply_T(Tb, extra[None], c)[0], 0.0)
                    sd = np.sqrt(v)
                    res[name] = {"mean": mean.reshape(shape), "var": v.reshape(shape),
                                 "q025": (mean - _Z975 * sd).reshape(shape),
                                 "q975": (mean + _Z975 * sd).reshape(shape)}
                    continue
                rng = np.random.default_rng([seed, k, j])
                dz = rng.standard_normal((int(n_samples), mu.shape[0])) * np.sqrt(var)
                # draws laid out (N*c, n_samples), contiguous: the per-node quantiles then
                # sort rows in place (no transposed copy)
                draws = modes_b.T @ dz.T
                draws += mean[:, None]
                q025, q975 = _row_quantiles(draws, (0.025, 0.975))
                res[name] = {"mean": mean.reshape(shape), "var": v.reshape(shape),
                             "q025": q025.reshape(shape), "q975": q975.reshape(shape)}
            for name in self.scalar_names:
                mu = float(scalar_pred[name][0][k, 0])
                v = float(max(scalar_pred[name][1][k, 0], 0.0))
                if intervals == "full":
                    v *= self.scalar_scale[name]
                res[name] = {"mean": mu, "var": v, "q025": mu - _Z975 * np.sqrt(v),
                             "q975": mu + _Z975 * np.sqrt(v)}
            out.append(res)
        return out

    # --------------------------------------------------------------------------------------------
    def save(self, path):
        """Writes the fitted model to one ``.npz`` file (arrays only, no pickle), atomically.

        Args:
            path: str or os.PathLike, the file to write (replaced if it exists).
        """
        if not self._fitted:
            raise RuntimeError("Expected a fitted MMGP: call fit first")
        meta = {"format": _FORMAT, "config": self._config(), "fields": self.field_names,
                "field_shape": {k: list(v) for k, v in self.field_shape.items()},
                "field_has_gp": {k: self.field_gps[k] is not None for k in self.field_names},
                "scalars": self.scalar_names, "n_scalars_in": self.n_scalars_in,
                "field_extra_mode": self.field_extra_mode, "scalar_scale": self.scalar_scale,
                "info": self.info}
        if not isinstance(self.info, dict):
            raise TypeError("Expected MMGP.info to be a dict but got %s" % type(self.info).__name__)
        try:
            meta = json.dumps(meta)
        except (TypeError, ValueError) as e:
            raise TypeError("Expected MMGP.info to be a dict of JSON-serialisable values but "
                            "got %r (%s)" % (self.info, e)) from None
        M = sp.csr_matrix(self.mass)
        arrays = {"meta": np.array(meta),
                  "common_disk": self.common_disk, "common_triangles": self.common_triangles,
                  "common_points": self.common_points, "mass_data": M.data,
                  "mass_indices": M.indices, "mass_indptr": M.indptr,
                  "mass_shape": np.array(M.shape)}
        if self.corner_angles is not None:
            arrays["corner_angles"] = np.asarray(self.corner_angles, dtype=np.float64)
        arrays.update(self.geometry_pod.state("geo_pod_"))
        for j, name in enumerate(self.field_names):
            arrays.update(self.field_pods[name].state("f%d_pod_" % j))
            arrays["f%d_extra" % j] = np.asarray(self.field_extra[name], dtype=np.float64)
            if self.field_gps[name] is not None:
                arrays.update(self.field_gps[name].state("f%d_gp_" % j))
        for j, name in enumerate(self.scalar_names):
            arrays.update(self.scalar_gps[name].state("s%d_gp_" % j))
        save_npz(path, **arrays)

    @classmethod
    def load(cls, path):
        """Reads a model written by ``save``.

        Args:
            path: str or os.PathLike.

        Returns:
            a fitted MMGP.
        """
        with np.load(os.fspath(path), allow_pickle=False) as z:
            st = {k: z[k] for k in z.files}
        if "meta" not in st:
            raise ValueError("Expected an MMGP .npz file (with a 'meta' entry) but got %r"
                             % (path,))
        meta = json.loads(str(st["meta"]))
        if meta.get("format") != _FORMAT:
            raise ValueError("Expected format %r but got %r" % (_FORMAT, meta.get("format")))
        model = cls(**meta["config"])
        model.corner_angles = st.get("corner_angles")
        model.info = dict(meta.get("info", {}))
        model.common_disk = st["common_disk"]
        model.common_triangles = st["common_triangles"]
        model.common_points = st["common_points"]
        model.mass = sp.csr_matrix((st["mass_data"], st["mass_indices"], st["mass_indptr"]),
                                   shape=tuple(int(v) for v in st["mass_shape"]))
        model.geometry_pod = POD.from_state(st, "geo_pod_", M=model.mass)
        model.n_modes_geometry_ = model.geometry_pod.n_modes
        model.n_scalars_in = int(meta["n_scalars_in"])
        model.field_names = list(meta["fields"])
        model.field_shape = {k: tuple(v) for k, v in meta["field_shape"].items()}
        model.field_pods, model.field_gps = {}, {}
        # files written before the error model: no extra variance, scalar scales 1
        modes = meta.get("field_extra_mode", {})
        model.field_extra_mode = {k: modes.get(k, "absolute") for k in model.field_names}
        model.field_extra = {}
        model.scalar_scale = {k: float(meta.get("scalar_scale", {}).get(k, 1.0))
                              for k in meta["scalars"]}
        model.error_cv_ = {}
        for j, name in enumerate(model.field_names):
            model.field_pods[name] = POD.from_state(st, "f%d_pod_" % j, M=model.mass)
            model.field_extra[name] = st.get("f%d_extra" % j,
                                             np.zeros_like(model.field_pods[name].mean))
            model.field_gps[name] = (GaussianProcess.from_state(st, "f%d_gp_" % j)
                                     if meta["field_has_gp"][name] else None)
        model.scalar_names = list(meta["scalars"])
        model.scalar_gps = {name: GaussianProcess.from_state(st, "s%d_gp_" % j)
                            for j, name in enumerate(model.scalar_names)}
        model._fitted = True
        return model

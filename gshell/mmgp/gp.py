"""Gaussian-process regression with an anisotropic Matern-5/2 kernel, in NumPy/SciPy (float64).

The regressor of MMGP (Casenave, Staber, Roynard, NeurIPS 2023, https://arxiv.org/abs/2306.12342):
one GP per output quantity, whose ``q`` columns (e.g. the POD coefficients of one field) share the
kernel hyperparameters and are otherwise independent.

Kernel on standardised inputs ``x``:
``k(x, x') = s2 * (1 + sqrt(5) r + 5 r^2 / 3) * exp(-sqrt(5) r) + noise * [x == x']``, with
``r = || (x - x') / l ||`` and one length scale ``l_d`` per input dimension.
"""
import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize

_SQRT5 = np.sqrt(5.0)
_LOG2PI = np.log(2.0 * np.pi)


def _as_2d(name, A, cols=None):
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise ValueError("Expected %s of shape (n, %s) but got an array of shape %s"
                         % (name, "?" if cols is None else cols, A.shape))
    if cols is not None and A.shape[1] != cols:
        raise ValueError("Expected %s of shape (n, %d) but got an array of shape %s"
                         % (name, cols, A.shape))
    if not np.all(np.isfinite(A)):
        raise ValueError("Expected %s to be finite but it holds %d NaN/Inf values"
                         % (name, int((~np.isfinite(A)).sum())))
    return A


def matern52(A, B, length_scales, signal_variance):
    """Anisotropic Matern-5/2 covariance.

    Args:
        A: (n, p) float64, B: (m, p) float64 inputs.
        length_scales: (p,) float64, positive.
        signal_variance: float, positive.

    Returns:
        (n, m) float64.
    """
    D = (A[:, None, :] - B[None, :, :]) / length_scales
    r = np.sqrt(np.maximum((D * D).sum(-1), 0.0))
    return signal_variance * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)


def _cholesky(K):
    """cho_factor with growing jitter; returns (factor, jitter)."""
    scale = max(float(np.mean(np.diag(K))), 1e-300)
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):
        try:
            Kj = K if jitter == 0.0 else K + jitter * scale * np.eye(K.shape[0])
            return sla.cho_factor(Kj, lower=True, check_finite=False), jitter * scale
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("Expected a positive definite kernel matrix but got one that "
                                "stays singular with jitter 1e-4")


class GaussianProcess:
    """GP regression, shared Matern-5/2 hyperparameters across the q output columns.

    Inputs are standardised per dimension and outputs per column (mean 0, std 1) internally; the
    log marginal likelihood is the sum over the columns. Hyperparameters (log length scales, log
    signal variance, log noise variance, all in standardised units) maximise it with L-BFGS-B and
    analytic gradients, from ``n_restarts`` starts (the first at ``l = 1, s2 = 1, noise = 1e-2``,
    the others drawn uniformly in log space with ``seed``); the best is kept.

    Args:
        n_restarts: int >= 1, the number of optimiser runs.
        seed: int, seeds the restart draws (and nothing else).
        length_scale_bounds: (lo, hi) in standardised input units.
        signal_variance_bounds: (lo, hi) in standardised output units.
        noise_bounds: (lo, hi) of the nugget variance in standardised output units.
        optimize: if False, keep the initial hyperparameters (``l = 1, s2 = 1, noise = 1e-2``).
        y_scaling: "per_column" (each output column centred and divided by its own std) or
            "shared" (each column centred, all divided by one common scale, the root mean column
            variance). With shared hyperparameters over POD coefficients, "shared" keeps the
            energy ordering: per-column scaling would give the noise-like low-energy modes as much
            weight in the likelihood as the leading ones (MMGP uses "shared").
        column_variance: None, "likelihood", "loo" or "cv". Column ``j`` gets its own amplitude
            ``c_j`` on top of the shared hyperparameters (the kernel of column j is ``c_j K``,
            standardised data, ``alpha = K^-1 Y``): "likelihood", the closed-form maximiser of its
            likelihood, ``c_j = y_j^T alpha_j / n`` (1 for q = 1 at an interior optimum); "loo",
            the mean squared leave-one-out z-score, ``c_j = mean_i alpha_ij^2 / [K^-1]_ii``
            (closed-form LOO residuals ``alpha_ij / [K^-1]_ii`` and variances ``1 / [K^-1]_ii``,
            Rasmussen & Williams sec. 5.4.2), which calibrates the intervals on held-out points
            of the training set (the variances of noisy observations; use
            ``include_noise=True`` in ``predict`` to match). The mean is unchanged; the
            predictive variance of column ``j`` is multiplied by ``c_j``. With shared
            hyperparameters, one amplitude for all columns would give every POD coefficient the
            same variance in standardised units, whatever its error. None: ``c_j = 1``.
            "cv": ``c_j`` is the mean squared z-score of held-out points in ``cv_folds``-fold
            cross-validation *with the hyperparameters re-optimised on each fold* (one start,
            from the full fit's; seeded folds). The closed-form LOO keeps the hyperparameters
            fitted on all points, held-out ones included, and so under-estimates held-out errors
            when the hyperparameters over-fit (few points, many length scales); "cv" costs
            ``cv_folds`` extra fits.
        cv_folds: int >= 2, the folds of ``column_variance="cv"`` (at most n).

    Attributes (after ``fit``):
        column_scale_: (q,) float64, the per-column amplitudes ``c_j`` (ones without
            ``column_variance``).
        length_scales_: (p,) float64 length scales in the original input units.
        signal_variance_, noise_variance_: floats, in standardised output units.
        theta_: (p + 2,) float64, the optimised log-parameters ``[log l, log s2, log noise]``.
        lml_: float, the best log marginal likelihood (standardised data).

    Example:
        >>> gp = GaussianProcess(n_restarts=5, seed=0).fit(X, Y)      # X (n, p), Y (n, q)
        >>> mean, var = gp.predict(Xs, return_cov="diag")           # (m, q), (m, q)
    """

    def __init__(self, n_restarts=5, seed=0, length_scale_bounds=(1e-2, 1e3),
                 signal_variance_bounds=(1e-2, 1e2), noise_bounds=(1e-8, 1.0), optimize=True,
                 y_scaling="per_column", column_variance="likelihood", cv_folds=5):
        if y_scaling not in ("per_column", "shared"):
            raise ValueError('Expected y_scaling to be "per_column" or "shared" but got %r'
                             % (y_scaling,))
        self.y_scaling = y_scaling
        if column_variance is True:
            column_variance = "likelihood"
        if column_variance not in (None, False, "likelihood", "loo", "cv"):
            raise ValueError('Expected column_variance to be None, "likelihood", "loo" or "cv" but '
                             'got %r' % (column_variance,))
        self.column_variance = column_variance or None
        if isinstance(cv_folds, bool) or int(cv_folds) != cv_folds or cv_folds < 2:
            raise ValueError("Expected cv_folds to be an int >= 2 but got %r" % (cv_folds,))
        self.cv_folds = int(cv_folds)
        self._theta_warm = None
        if int(n_restarts) != n_restarts or n_restarts < 1:
            raise ValueError("Expected n_restarts to be an int >= 1 but got %r" % (n_restarts,))
        for name, b in (("length_scale_bounds", length_scale_bounds),
                        ("signal_variance_bounds", signal_variance_bounds),
                        ("noise_bounds", noise_bounds)):
            if len(b) != 2 or not (0 < b[0] <= b[1]):
                raise ValueError("Expected %s to be (lo, hi) with 0 < lo <= hi but got %r"
                                 % (name, b))
        self.n_restarts, self.seed, self.optimize = int(n_restarts), int(seed), bool(optimize)
        self.length_scale_bounds = tuple(float(v) for v in length_scale_bounds)
        self.signal_variance_bounds = tuple(float(v) for v in signal_variance_bounds)
        self.noise_bounds = tuple(float(v) for v in noise_bounds)
        self.theta_ = None
        self._fitted = False

    # ----------------------------------------------------------------------------------------
    # likelihood
    def _unpack(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        return np.exp(theta[:-2]), float(np.exp(theta[-2])), float(np.exp(theta[-1]))

    def _lml(self, theta, X, Y, eval_gradient):
        ls, s2, noise = self._unpack(theta)
        n, q = Y.shape
        D = (X[:, None, :] - X[None, :, :]) / ls                     # (n, n, p)
        D2 = D * D
        r = np.sqrt(np.maximum(D2.sum(-1), 0.0))
        e = np.exp(-_SQRT5 * r)
        Kf = s2 * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * e
        K = Kf + noise * np.eye(n)
        try:
            cf, _ = _cholesky(K)
        except np.linalg.LinAlgError:
            return (-np.inf, np.zeros_like(theta)) if eval_gradient else -np.inf
        alpha = sla.cho_solve(cf, Y, check_finite=False)
        logdet = 2.0 * np.log(np.diag(cf[0])).sum()
        lml = -0.5 * float((Y * alpha).sum()) - 0.5 * q * logdet - 0.5 * n * q * _LOG2PI
        if not eval_gradient:
            return lml
        Kinv = sla.cho_solve(cf, np.eye(n), check_finite=False)
        W = alpha @ alpha.T - q * Kinv                               # dLML = 0.5 tr(W dK)
        A = (5.0 / 3.0) * s2 * (1.0 + _SQRT5 * r) * e                # dK/dlog l_d = A * D_d^2
        g_ls = 0.5 * np.einsum("ij,ijd->d", W * A, D2)
        g_s2 = 0.5 * float((W * Kf).sum())
        g_noise = 0.5 * noise * float(np.trace(W))
        return lml, np.concatenate([g_ls, [g_s2, g_noise]])

    def log_marginal_likelihood(self, theta=None, eval_gradient=False):
        """Log marginal likelihood of the standardised training data, summed over the columns.

        Args:
            theta: (p + 2,) float64 log-parameters ``[log l_1..l_p, log s2, log noise]``
                (standardised units), or None for the fitted ones.
            eval_gradient: also return the (p + 2,) analytic gradient with respect to theta.

        Returns:
            float, or (float, (p + 2,) float64).
        """
        if not self._fitted:
            raise RuntimeError("Expected a fitted GaussianProcess: call fit first")
        theta = self.theta_ if theta is None else np.asarray(theta, dtype=np.float64)
        if theta.shape != self.theta_.shape:
            raise ValueError("Expected theta of shape %s but got shape %s"
                             % (self.theta_.shape, theta.shape))
        return self._lml(theta, self._X, self._Y, eval_gradient)

    def _bounds(self, p):
        lb = [np.log(self.length_scale_bounds)] * p
        return lb + [np.log(self.signal_variance_bounds), np.log(self.noise_bounds)]

    # ----------------------------------------------------------------------------------------
    # fit / predict
    def fit(self, X, Y):
        """Fits the hyperparameters and factorises the kernel matrix.

        Args:
            X: (n, p) float inputs (p >= 1).
            Y: (n,) or (n, q) float outputs; the q columns share the hyperparameters.

        Returns:
            self.
        """
        X = _as_2d("X", X)
        Y = _as_2d("Y", Y)
        if X.shape[0] != Y.shape[0]:
            raise ValueError("Expected X and Y with the same number of rows but got X of shape %s "
                             "and Y of shape %s" % (X.shape, Y.shape))
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError("Expected X with at least one row and one column but got shape %s"
                             % (X.shape,))
        n, p = X.shape
        self._cv_mean = self._cv_var = None
        self.x_mean_ = X.mean(0)
        xs = X.std(0)
        self.x_std_ = np.where(xs > 1e-12 * np.maximum(1.0, np.abs(self.x_mean_)), xs, 1.0)
        self.y_mean_ = Y.mean(0)
        ys = Y.std(0)
        if self.y_scaling == "shared":
            ys = np.full_like(ys, np.sqrt(np.mean(ys ** 2)))
        self.y_std_ = np.where(ys > 1e-12 * np.maximum(1.0, np.abs(self.y_mean_)), ys, 1.0)
        self._X = (X - self.x_mean_) / self.x_std_
        self._Y = (Y - self.y_mean_) / self.y_std_
        self._fitted = True
        theta0 = np.concatenate([np.zeros(p), [0.0, np.log(1e-2)]])
        if self.theta_ is not None and self.theta_.shape == theta0.shape and not self.optimize:
            theta0 = self.theta_
        if self._theta_warm is not None and self._theta_warm.shape == theta0.shape:
            theta0 = self._theta_warm
        bounds = self._bounds(p)
        lo = np.array([b[0] for b in bounds])
        hi = np.array([b[1] for b in bounds])
        theta0 = np.clip(theta0, lo, hi)
        best_theta, best = theta0, self._lml(theta0, self._X, self._Y, False)
        if self.optimize and n > 1:
            rng = np.random.default_rng(self.seed)
            # restart draws: length scales in [0.1, 10] (clipped to the bounds), s2 in [0.1, 10],
            # noise in [1e-6, 1e-1]: the region where the standardised problem lives.
            slo = np.concatenate([np.full(p, np.log(0.1)), [np.log(0.1), np.log(1e-6)]])
            shi = np.concatenate([np.full(p, np.log(10.0)), [np.log(10.0), np.log(0.1)]])
            slo, shi = np.maximum(lo, slo), np.minimum(hi, shi)
            shi = np.maximum(shi, slo)
            starts = [theta0] + [rng.uniform(slo, shi) for _ in range(self.n_restarts - 1)]

            def obj(t):
                v, g = self._lml(t, self._X, self._Y, True)
                if not np.isfinite(v):
                    return 1e25, np.zeros_like(t)
                return -v, -g

            for t0 in starts:
                try:
                    res = minimize(obj, t0, jac=True, method="L-BFGS-B", bounds=bounds,
                                   options={"maxiter": 500})
                except (np.linalg.LinAlgError, ValueError):
                    continue
                val = self._lml(res.x, self._X, self._Y, False)
                if np.isfinite(val) and val > best:
                    best, best_theta = val, res.x
        self.theta_ = np.asarray(best_theta, dtype=np.float64)
        self.lml_ = float(best)
        self._factorise()
        if self.column_variance == "cv":
            self.column_scale_ = self._cv_scale(X, Y)
        return self

    def _cv_scale(self, X, Y):
        """(q,) mean squared held-out z-scores of K-fold cross-validation with refitted
        hyperparameters (``column_variance="cv"``); ones when n < 2."""
        n = X.shape[0]
        if min(self.cv_folds, n) < 2:
            return np.ones(Y.shape[1])
        self._cv_mean, self._cv_var = self._cv_heldout(X, Y, self.seed)
        z2 = ((Y - self._cv_mean) ** 2 / np.maximum(self._cv_var, 1e-300)).sum(0)
        return np.maximum(z2 / n, 1e-12)

    def _cv_heldout(self, X, Y, fold_seed):
        """Held-out means and variances (n, q) of ``cv_folds``-fold cross-validation, folds drawn
        with ``fold_seed``, hyperparameters refitted on each fold (one start, from ``theta_``);
        the variances of noisy observations, without the column scales."""
        n = X.shape[0]
        k = min(self.cv_folds, n)
        folds = np.array_split(np.random.default_rng(fold_seed).permutation(n), k)
        mean_all, var_all = np.zeros_like(Y), np.zeros_like(Y)
        for held in folds:
            keep = np.setdiff1d(np.arange(n), held)
            g = GaussianProcess(n_restarts=1, seed=self.seed, optimize=self.optimize,
                                length_scale_bounds=self.length_scale_bounds,
                                signal_variance_bounds=self.signal_variance_bounds,
                                noise_bounds=self.noise_bounds, y_scaling=self.y_scaling,
                                column_variance=None)
            g._theta_warm = self.theta_
            if not self.optimize:
                g.theta_ = self.theta_
            g.fit(X[keep], Y[keep])
            mean_all[held], var_all[held] = g.predict(X[held], return_cov="diag",
                                                      include_noise=True)
        return mean_all, var_all

    def _factorise(self):
        ls, s2, noise = self._unpack(self.theta_)
        K = matern52(self._X, self._X, ls, s2) + noise * np.eye(self._X.shape[0])
        self._cf, self._jitter = _cholesky(K)
        self._alpha = sla.cho_solve(self._cf, self._Y, check_finite=False)
        n = self._Y.shape[0]
        self._kinv_diag = np.diag(sla.cho_solve(self._cf, np.eye(n), check_finite=False))
        if self.column_variance == "likelihood":
            self.column_scale_ = np.maximum((self._Y * self._alpha).sum(0) / n, 1e-12)
        elif self.column_variance == "loo":
            self.column_scale_ = np.maximum(
                (self._alpha ** 2 / self._kinv_diag[:, None]).mean(0), 1e-12)
        else:
            self.column_scale_ = np.ones(self._Y.shape[1])

    def loo_residuals(self):
        """Leave-one-out residuals of the training outputs, in closed form (no refit; the
        hyperparameters stay those fitted on all points): ``y_i - mean_{-i}(x_i) =
        [K^-1 y]_i / [K^-1]_ii``.

        Returns:
            (n, q) float64, in the original output units.
        """
        if not self._fitted:
            raise RuntimeError("Expected a fitted GaussianProcess: call fit first")
        return self._alpha / self._kinv_diag[:, None] * self.y_std_

    def heldout_predictions(self):
        """Predictions of each training point by a model that did not see it, with their
        calibrated variances (noisy observations): the held-out folds of the cross-validation
        for ``column_variance="cv"`` (hyperparameters refitted per fold), the closed-form
        leave-one-out otherwise (hyperparameters of the full fit).

        Available on a model fitted in this session (not on one rebuilt by ``from_state``).

        Returns:
            mean: (n, q) float64 and var: (n, q) float64, in the original output units; ``var``
            includes the column scales ``column_scale_`` (as ``predict(..., include_noise=True)``
            of the full model does).
        """
        if not self._fitted:
            raise RuntimeError("Expected a fitted GaussianProcess: call fit first")
        if getattr(self, "_cv_mean", None) is not None and self.column_variance == "cv":
            return self._cv_mean.copy(), self._cv_var * self.column_scale_
        Y = self._Y * self.y_std_ + self.y_mean_
        mean = Y - self.loo_residuals()
        var = (1.0 / self._kinv_diag)[:, None] * self._out_var
        return mean, var

    @property
    def length_scales_(self):
        return np.exp(self.theta_[:-2]) * self.x_std_

    @property
    def signal_variance_(self):
        return float(np.exp(self.theta_[-2]))

    @property
    def noise_variance_(self):
        return float(np.exp(self.theta_[-1]))

    def _check_x(self, Xs):
        if not self._fitted:
            raise RuntimeError("Expected a fitted GaussianProcess: call fit first")
        return (_as_2d("Xs", Xs, cols=self.x_mean_.shape[0]) - self.x_mean_) / self.x_std_

    def predict(self, Xs, return_cov=False, include_noise=False):
        """Predictive mean, and optionally the variance or covariance of the latent function.

        Args:
            Xs: (m, p) float inputs.
            return_cov: False (mean only), "diag" (per-point variances) or True (joint covariance
                over the m points).
            include_noise: add the fitted nugget variance (predict noisy observations).

        Returns:
            mean: (m, q) float64; with "diag" also var: (m, q) float64 (one shared standardised
            variance per point, times each column's output scale^2); with True also
            cov: (q, m, m) float64 (the shared standardised covariance times each std^2; the
            columns are independent).
        """
        Z = self._check_x(Xs)
        if return_cov not in (False, True, "diag"):
            raise ValueError('Expected return_cov to be False, True or "diag" but got %r'
                             % (return_cov,))
        ls, s2, noise = self._unpack(self.theta_)
        Ks = matern52(self._X, Z, ls, s2)                               # (n, m)
        mean = Ks.T @ self._alpha * self.y_std_ + self.y_mean_
        if return_cov is False:
            return mean
        V = sla.solve_triangular(self._cf[0], Ks, lower=True, check_finite=False)
        extra = noise if include_noise else 0.0
        if return_cov == "diag":
            var = np.maximum(s2 + extra - (V * V).sum(0), 0.0)
            return mean, var[:, None] * self._out_var
        cov = matern52(Z, Z, ls, s2) - V.T @ V + extra * np.eye(Z.shape[0])
        cov = 0.5 * (cov + cov.T)
        return mean, cov[None, :, :] * self._out_var[:, None, None]

    @property
    def _out_var(self):
        """(q,) factors from the shared standardised variance to each column's variance."""
        return self.y_std_ ** 2 * self.column_scale_

    def sample(self, Xs, n_samples, seed=0, include_noise=False):
        """Draws from the joint predictive distribution over the m points.

        Args:
            Xs: (m, p) float inputs.
            n_samples: int >= 1.
            seed: int, seeds the draws.
            include_noise: sample noisy observations instead of the latent function.

        Returns:
            (n_samples, m, q) float64; columns independent, points jointly Gaussian.
        """
        if int(n_samples) != n_samples or n_samples < 1:
            raise ValueError("Expected n_samples to be an int >= 1 but got %r" % (n_samples,))
        mean, cov = self.predict(Xs, return_cov=True, include_noise=include_noise)
        m, q = mean.shape
        unit = cov[0] / self._out_var[0]
        w, U = np.linalg.eigh(unit)
        root = U * np.sqrt(np.maximum(w, 0.0))                          # unit = root root^T
        rng = np.random.default_rng(seed)
        E = rng.standard_normal((int(n_samples), m, q))
        return mean[None] + np.einsum("ij,sjq->siq", root, E) * np.sqrt(self._out_var)

    # ----------------------------------------------------------------------------------------
    # persistence (arrays only)
    def state(self, prefix=""):
        """Returns the fitted model as a dict of float64 arrays (for ``np.savez``)."""
        if not self._fitted:
            raise RuntimeError("Expected a fitted GaussianProcess: call fit first")
        return {prefix + "X": self._X, prefix + "Y": self._Y, prefix + "theta": self.theta_,
                prefix + "x_mean": self.x_mean_, prefix + "x_std": self.x_std_,
                prefix + "y_mean": self.y_mean_, prefix + "y_std": self.y_std_,
                prefix + "lml": np.array(self.lml_),
                prefix + "column_variance": np.array(self.column_variance or ""),
                prefix + "column_scale": self.column_scale_,
                prefix + "bounds": np.array([self.length_scale_bounds, self.signal_variance_bounds,
                                             self.noise_bounds])}

    @classmethod
    def from_state(cls, state, prefix=""):
        """Rebuilds a fitted GaussianProcess from ``state`` (no optimisation)."""
        b = np.asarray(state[prefix + "bounds"], dtype=np.float64)
        cv = str(state[prefix + "column_variance"]) if prefix + "column_variance" in state else ""
        cv = cv or None
        gp = cls(length_scale_bounds=b[0], signal_variance_bounds=b[1], noise_bounds=b[2],
                 column_variance=cv)
        gp._X = np.asarray(state[prefix + "X"], dtype=np.float64)
        gp._Y = np.asarray(state[prefix + "Y"], dtype=np.float64)
        gp.theta_ = np.asarray(state[prefix + "theta"], dtype=np.float64)
        gp.x_mean_ = np.asarray(state[prefix + "x_mean"], dtype=np.float64)
        gp.x_std_ = np.asarray(state[prefix + "x_std"], dtype=np.float64)
        gp.y_mean_ = np.asarray(state[prefix + "y_mean"], dtype=np.float64)
        gp.y_std_ = np.asarray(state[prefix + "y_std"], dtype=np.float64)
        gp.lml_ = float(state[prefix + "lml"])
        gp._fitted = True
        gp._factorise()
        if prefix + "column_scale" in state:
            gp.column_scale_ = np.asarray(state[prefix + "column_scale"], dtype=np.float64)
        return gp

"""Snapshot proper orthogonal decomposition (POD) in a weighted inner product.

Used by MMGP (Casenave, Staber, Roynard, NeurIPS 2023, https://arxiv.org/abs/2306.12342) to reduce
the morphed physical coordinates and the output fields, all carried onto one common mesh.

Ordering of degrees of freedom: a field with ``c`` components on ``N`` nodes is flattened
node-major, ``dof = node * c + comp`` (``f.reshape(-1)`` of an ``(N, c)`` array). A node mass
matrix ``(N, N)`` is then applied per component as ``kron(M, I_c)``.
"""
import numpy as np
import scipy.sparse as sp


def _as_float_matrix(name, X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 3:
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise ValueError("Expected %s of shape (n_samples, n_dofs) or (n_samples, N, c) but got "
                         "an array of shape %s" % (name, X.shape))
    if not np.all(np.isfinite(X)):
        raise ValueError("Expected %s to be finite but it holds %d NaN/Inf values"
                         % (name, int((~np.isfinite(X)).sum())))
    return X


def expand_mass(M, n_dofs):
    """Returns the ``(n_dofs, n_dofs)`` sparse weight matrix for flattened fields.

    Args:
        M: ``None``, or sparse/dense ``(n_dofs, n_dofs)``, or a node matrix ``(N, N)`` with
            ``n_dofs = N * c``; the latter is expanded to ``kron(M, I_c)`` (node-major ordering).
        n_dofs: int, the length of a flattened snapshot.

    Returns:
        scipy.sparse csr ``(n_dofs, n_dofs)`` float64, or ``None`` for the Euclidean product.
    """
    if M is None:
        return None
    M = sp.csr_matrix(M, dtype=np.float64)
    if M.shape[0] != M.shape[1]:
        raise ValueError("Expected M to be square but got shape %s" % (M.shape,))
    n = M.shape[0]
    if n == n_dofs:
        return M
    if n > 0 and n_dofs % n == 0:
        return sp.kron(M, sp.identity(n_dofs // n, format="csr"), format="csr")
    raise ValueError("Expected M of shape (%d, %d) or (N, N) with N dividing %d but got shape %s"
                     % (n_dofs, n_dofs, n_dofs, M.shape))


class POD:
    """Snapshot POD, centred by the mean, orthonormal in the inner product ``<u, v> = u^T M v``.

    The correlation matrix ``C = X_c M X_c^T`` (``n_samples x n_samples``) is diagonalised,
    ``C V = V diag(lambda)``, and the modes are ``modes = diag(lambda)^-1/2 V^T X_c``, so that
    ``modes M modes^T = I``. Coefficients are the M-inner products ``(X - mean) M modes^T``.

    Attributes (after ``fit``):
        mean: (n_dofs,) float64, the mean snapshot.
        modes: (k, n_dofs) float64, M-orthonormal modes by decreasing energy.
        energy: (k,) float64, the kept eigenvalues of ``C`` (the captured squared M-norm).
        energy_all: (r,) float64, all non-negligible eigenvalues (for choosing k).
        M: scipy.sparse csr (n_dofs, n_dofs) or None.

    Example:
        >>> pod = POD().fit(X, M=mass, tol=1e-4)
        >>> Z = pod.transform(X)            # (n, k)
        >>> X_hat = pod.inverse_transform(Z)
    """

    def __init__(self):
        self.mean = self.modes = self.energy = self.energy_all = self.M = None

    @property
    def n_modes(self):
        return 0 if self.modes is None else self.modes.shape[0]

    def fit(self, X, M=None, n_modes=None, tol=None):
        """Computes the modes.

        Args:
            X: (n_samples, n_dofs) or (n_samples, N, c) float, the snapshots (flattened
                node-major, ``dof = node * c + comp``).
            M: None (Euclidean) or an SPD matrix, sparse or dense, ``(n_dofs, n_dofs)`` or a node
                mass matrix ``(N, N)`` applied per component (``kron(M, I_c)``).
            n_modes: int or None, the largest number of modes to keep.
            tol: float in [0, 1) or None, keep the fewest modes whose relative unexplained energy
                ``1 - sum(lambda[:k]) / sum(lambda)`` is at most ``tol``.
            With neither, every mode of non-negligible energy (> 1e-12 of the largest) is kept.

        Returns:
            self.
        """
        X = _as_float_matrix("X", X)
        n, d = X.shape
        if n < 1:
            raise ValueError("Expected X with at least one sample but got shape %s" % (X.shape,))
        if n_modes is not None and (int(n_modes) != n_modes or n_modes < 1):
            raise ValueError("Expected n_modes to be a positive int or None but got %r"
                             % (n_modes,))
        if tol is not None and not (0.0 <= tol < 1.0):
            raise ValueError("Expected tol in [0, 1) or None but got %r" % (tol,))
        self.M = expand_mass(M, d)
        self.mean = X.mean(axis=0)
        Xc = X - self.mean
        MXt = Xc.T if self.M is None else self.M @ Xc.T          # (d, n)
        C = Xc @ MXt
        C = 0.5 * (C + C.T)
        lam, V = np.linalg.eigh(C)
        order = np.argsort(lam)[::-1]
        lam, V = lam[order], V[:, order]
        top = lam[0] if lam.size else 0.0
        keep = lam > max(top, 0.0) * 1e-12 if top > 0 else np.zeros_like(lam, dtype=bool)
        lam, V = lam[keep], V[:, keep]
        self.energy_all = lam.copy()
        k = lam.size
        if tol is not None and k:
            rest = 1.0 - np.cumsum(lam) / lam.sum()
            k = int(np.argmax(rest <= tol + 1e-15)) + 1
        if n_modes is not None:
            k = min(k, int(n_modes))
        lam, V = lam[:k], V[:, :k]
        modes = (V.T @ Xc) / np.sqrt(lam)[:, None]
        # One Gram-Schmidt-like correction in the M product keeps modes M modes^T = I to round-off
        # even for small eigenvalues.
        if k:
            G = modes @ (modes.T if self.M is None else self.M @ modes.T)
            G = 0.5 * (G + G.T)
            Lg = np.linalg.cholesky(G)
            modes = np.linalg.solve(Lg, modes)
        self.modes = modes
        self.energy = lam
        return self

    def _check_fitted(self):
        if self.modes is None:
            raise RuntimeError("Expected a fitted POD but got one without modes: call fit first")

    def transform(self, X):
        """Projects snapshots onto the modes.

        Args:
            X: (n, n_dofs) or (n, N, c) float, snapshots in the fit's ordering.

        Returns:
            (n, k) float64 coefficients ``(X - mean) M modes^T``.
        """
        self._check_fitted()
        X = _as_float_matrix("X", X)
        if X.shape[1] != self.mean.shape[0]:
            raise ValueError("Expected X with %d dofs but got shape %s"
                             % (self.mean.shape[0], X.shape))
        Xc = X - self.mean
        MXt = Xc.T if self.M is None else self.M @ Xc.T
        return (self.modes @ MXt).T

    def inverse_transform(self, Z):
        """Reconstructs snapshots, linearly: ``mean + Z @ modes``.

        Args:
            Z: (n, k) float coefficients.

        Returns:
            (n, n_dofs) float64 snapshots.
        """
        self._check_fitted()
        Z = np.atleast_2d(np.asarray(Z, dtype=np.float64))
        if Z.ndim != 2 or Z.shape[1] != self.n_modes:
            raise ValueError("Expected Z of shape (n, %d) but got shape %s"
                             % (self.n_modes, Z.shape))
        return self.mean + Z @ self.modes

    def state(self, prefix=""):
        """Returns the fitted arrays as a dict (for ``np.savez``); M is not stored."""
        self._check_fitted()
        return {prefix + "mean": self.mean, prefix + "modes": self.modes,
                prefix + "energy": self.energy, prefix + "energy_all": self.energy_all}

    @classmethod
    def from_state(cls, state, prefix="", M=None):
        """Rebuilds a fitted POD from ``state``; ``M`` is the weight matrix used at fit time."""
        pod = cls()
        pod.mean = np.asarray(state[prefix + "mean"], dtype=np.float64)
        pod.modes = np.asarray(state[prefix + "modes"], dtype=np.float64)
        pod.energy = np.asarray(state[prefix + "energy"], dtype=np.float64)
        pod.energy_all = np.asarray(state[prefix + "energy_all"], dtype=np.float64)
        pod.M = expand_mass(M, pod.mean.shape[0])
        return pod

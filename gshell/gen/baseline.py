"""The PCA-Gaussian baseline of shape generation: a Gaussian in the principal subspace of the
training grid tensors.

The generation literature measures a learned generator against this baseline (MeshDiffusion, Liu
et al., ICLR 2023, https://arxiv.org/abs/2303.08133, and G-MeshDiffusion in "Ghost on the Shell",
Liu et al., ICLR 2024, https://arxiv.org/abs/2310.15168, compare diffusion on grid tensors with
simpler density models of the same tensors). Each training tensor (6, R, R, R) (see
:mod:`gshell.gen.tensor`) is flattened to a vector of D = 6 R^3 values; with the mean ``mu``
and the centred data ``X_c`` (N, D), the principal directions are the top right singular vectors
of ``X_c``, and the model is

    x = mu + sum_i z_i std_i c_i,   z ~ N(0, I_k),   std_i = s_i / sqrt(N - 1)

(``s_i`` the singular values, ``c_i`` the unit principal directions), so that its covariance is
the data's sample covariance restricted to the k leading directions (all of it when k is the
data's rank, at most N - 1). A sample is then made canonical
(:func:`gshell.gen.tensor.canonicalise`) and can be turned into a mesh with
:func:`gshell.gen.tensor.extract`.

The decomposition is exact: the N x N Gram matrix of the centred data is accumulated in float64
over chunks of the D values (memory N^2 + N x chunk, not N x D in float64) and diagonalised; the
cost is O(N^2 D) (about 3 s for N = 100 at res 32 on 2 CPU cores). Directions are signed so that their
largest entry is positive, so the same data give the same model on every machine.

Example:
    >>> model = PCAGaussian().fit(train_tensors)          # (N, 6, 33, 33, 33)
    >>> grids = model.sample(16, generator=torch.Generator().manual_seed(0))
    >>> verts, faces = gshell.gen.tensor.extract(grids[0])
"""
import os

import torch

from gshell import _checks
from gshell.gen import tensor as gt

__all__ = ["PCAGaussian"]

_FORMAT = "gshell.PCAGaussian"
_VERSION = 1
_MAX_COMPONENTS = 32     # the default: min(N - 1, 32)
_RANK_TOL = 1e-10        # a Gram eigenvalue under this fraction of the largest is numerically zero
_CHUNK_BYTES = 1 << 27   # float64 bytes per chunk of the flattened data
_KEYS = ("format", "version", "res", "mean", "components", "std", "n_train", "total_variance",
         "n_components_requested", "seed")


def _generator(generator, device):
    """A torch.Generator on ``device`` from a generator, an int seed or None (seed 0)."""
    if generator is None:
        generator = 0
    if isinstance(generator, torch.Generator):
        if generator.device.type != torch.device(device).type:
            raise ValueError("Expected generator on %s (the model's device) but got a generator on %s"
                             % (device, generator.device))
        return generator
    if isinstance(generator, bool) or not isinstance(generator, int) or generator < 0:
        raise TypeError("Expected generator to be a torch.Generator, an int seed >= 0 or None but got %r"
                        % (generator,))
    return torch.Generator(device=device).manual_seed(generator)


def _check_tensors(name, tensors, res=None):
    """Validates an (N, 6, R, R, R) float tensor of finite values; returns its res."""
    if not isinstance(tensors, torch.Tensor):
        raise TypeError("Expected %s to be a torch.Tensor of shape (N, 6, R, R, R) but got %s"
                        % (name, type(tensors).__name__))
    if tensors.dim() != 5:
        raise ValueError("Expected %s of shape (N, 6, R, R, R) but got %s" % (name, _checks._desc(tensors)))
    r = gt.resolution_of(tensors, name)
    if res is not None and r != res:
        raise ValueError("Expected %s of shape (N, 6, %d, %d, %d) (the model's res %d) but got %s"
                         % (name, res + 1, res + 1, res + 1, res, _checks._desc(tensors)))
    if not tensors.is_floating_point():
        raise TypeError("Expected %s of a floating dtype but got %s" % (name, _checks._desc(tensors)))
    _checks.finite(name, tensors)
    return r


class PCAGaussian:
    """A Gaussian in the PCA subspace of grid tensors (see the module docstring).

    Attributes (after :meth:`fit` or :meth:`from_state_dict`):
        res: int, the grid resolution (tensors are (6, res+1, res+1, res+1)).
        mean: (D,) float32, D = 6 (res+1)^3, the mean flattened tensor.
        components: (k, D) float32, orthonormal rows, the principal directions by decreasing
            variance.
        std: (k,) float32, the standard deviation of the data along each direction (divisor
            N - 1).
        n_train: int, N.
        total_variance: float, the trace of the data's sample covariance (all directions).
        n_components_requested: int, the ``n_components`` asked for (k may be smaller: the
            directions beyond the data's numerical rank are dropped).
        seed: int, the seed given to :meth:`fit` (recorded; the fit itself is deterministic).
        All tensors are on the device of the training tensors.
    """

    def __init__(self):
        self.res = None
        self.mean = self.components = self.std = None
        self.n_train = 0
        self.total_variance = 0.0
        self.n_components_requested = 0
        self.seed = 0

    # ------------------------------------------------------------------------------------ state
    @property
    def fitted(self):
        return self.mean is not None

    @property
    def n_components(self):
        """k, the number of kept directions (0 before fitting)."""
        return 0 if self.components is None else int(self.components.shape[0])

    @property
    def shape(self):
        """(6, R, R, R) of one tensor."""
        self._need_fit()
        r = self.res + 1
        return (gt.NUM_CHANNELS, r, r, r)

    @property
    def device(self):
        self._need_fit()
        return self.mean.device

    @property
    def explained_variance_ratio(self):
        """(k,) float32: the fraction of the data's total variance along each kept direction."""
        self._need_fit()
        if self.total_variance <= 0:
            return torch.zeros_like(self.std)
        return self.std.double().pow(2).div(self.total_variance).float()

    def _need_fit(self):
        if self.mean is None:
            raise RuntimeError("Expected a fitted PCAGaussian: call fit or from_state_dict first")

    def __repr__(self):
        if not self.fitted:
            return "PCAGaussian(not fitted)"
        return "PCAGaussian(res=%d, n_train=%d, n_components=%d, explained=%.3f)" % (
            self.res, self.n_train, self.n_components, float(self.explained_variance_ratio.sum()))

    # -------------------------------------------------------------------------------------- fit
    def fit(self, tensors, n_components=None, seed=0):
        """Fits the mean, principal directions and per-direction standard deviations.

        Args:
            tensors: (N, 6, R, R, R) float32|float64 tensor, N >= 2, finite (canonical grid
                tensors of :mod:`gshell.gen.tensor`, though any values are accepted), on any
                device; the model lives on that device.
            n_components: int in [1, min(N - 1, D)], or None for ``min(N - 1, 32)``. Directions
                whose variance is numerically zero (under 1e-10 of the largest) are dropped, so
                :attr:`n_components` may come out smaller.
            seed: int >= 0, recorded in the state; the fit is exact and uses no randomness.
        Returns:
            self.
        Raises:
            TypeError: ``tensors`` is not a floating tensor; ``n_components`` or ``seed`` not ints.
            ValueError: a bad shape, N < 2, NaN/Inf values, ``n_components`` out of range.
        """
        res = _check_tensors("tensors", tensors)
        n = int(tensors.shape[0])
        if n < 2:
            raise ValueError("Expected tensors with N >= 2 shapes (a covariance needs two) but got %s"
                             % _checks._desc(tensors))
        seed = _checks.integer("seed", seed, lo=0)
        d = int(tensors[0].numel())
        kmax = min(n - 1, d)
        if n_components is None:
            k = min(kmax, _MAX_COMPONENTS)
        else:
            k = _checks.integer("n_components", n_components, lo=1, hi=kmax)
        with torch.no_grad():
            x = tensors.detach().reshape(n, d)
            mean = x.double().mean(0)
            step = max(1, _CHUNK_BYTES // (8 * n))
            gram = torch.zeros(n, n, dtype=torch.float64, device=x.device)
            for c in range(0, d, step):
                xc = x[:, c:c + step].double() - mean[c:c + step]
                gram += xc @ xc.t()
            gram = 0.5 * (gram + gram.t())
            lam, vec = torch.linalg.eigh(gram)                      # ascending
            lam, vec = lam.flip(0), vec.flip(1)
            total = float(lam.clamp(min=0).sum()) / (n - 1)
            top = float(lam[0])
            keep = int((lam[:k] > _RANK_TOL * top).sum()) if top > 0 else 0
            lam, vec = lam[:keep], vec[:, :keep]
            # components = diag(lam)^-1/2 V^T X_c, chunk by chunk
            comp = torch.empty(keep, d, dtype=torch.float64, device=x.device)
            scale = lam.rsqrt()[:, None]
            for c in range(0, d, step):
                xc = x[:, c:c + step].double() - mean[c:c + step]
                comp[:, c:c + step] = (vec.t() @ xc) * scale
            if keep:
                # one more Gram-Schmidt pass (the eigenvectors are orthonormal to rounding), then
                # a sign rule: each direction's largest entry is positive
                q, r = torch.linalg.qr(comp.t())
                comp = (q * torch.where(r.diagonal() < 0, -1.0, 1.0).to(q.dtype)).t()
                big = comp.abs().argmax(1)
                comp = comp * torch.sign(comp.gather(1, big[:, None]))
        self.res = res
        self.mean = mean.float()
        self.components = comp.float()
        self.std = (lam.clamp(min=0) / (n - 1)).sqrt().float()
        self.n_train = n
        self.total_variance = total
        self.n_components_requested = k
        self.seed = seed
        return self

    # --------------------------------------------------------------------------- coefficients
    def encode(self, tensors):
        """Coefficients of tensors along the principal directions, ``(x - mean) @ components^T``.

        Args:
            tensors: (N, 6, R, R, R) float tensor of the model's res, on its device.
        Returns:
            (N, k) float32 tensor (divide by :attr:`std` for standard normal coordinates).
        """
        self._need_fit()
        _check_tensors("tensors", tensors, self.res)
        _checks.tensor("tensors", tensors, device=self.device)
        x = tensors.detach().reshape(tensors.shape[0], -1).float()
        return (x - self.mean) @ self.components.t()

    def decode(self, coeffs, canonical=False):
        """Tensors from coefficients, ``mean + coeffs @ components``.

        Args:
            coeffs: (M, k) float tensor on the model's device.
            canonical: bool, apply :func:`gshell.gen.tensor.canonicalise` (clamping to [-1, 1],
                the off-surface values fixed).
        Returns:
            (M, 6, R, R, R) float32 tensor.
        """
        self._need_fit()
        _checks.tensor("coeffs", coeffs, dims=2, shape=(None, self.n_components), dtypes=_checks.FLOATS,
                       device=self.device)
        _checks.finite("coeffs", coeffs)
        out = (self.mean + coeffs.detach().float() @ self.components).reshape((coeffs.shape[0],) + self.shape)
        return gt.canonicalise(out) if canonical else out

    def sample(self, n, generator=None, canonical=True):
        """Draws ``n`` tensors: ``z ~ N(0, I_k)`` from ``generator``, decoded with
        ``coeffs = z * std``.

        Args:
            n: int >= 0.
            generator: torch.Generator on the model's device, an int seed, or None (seed 0): the
                same generator state gives the same samples.
            canonical: bool; True (default) returns canonical tensors
                (:func:`gshell.gen.tensor.canonicalise`), ready for
                :func:`gshell.gen.tensor.extract`; False the raw Gaussian draws (the linear
                model itself, values not clamped).
        Returns:
            (n, 6, R, R, R) float32 tensor on the model's device.

        Example:
            >>> grids = model.sample(8, generator=torch.Generator().manual_seed(1))
        """
        self._need_fit()
        n = _checks.integer("n", n, lo=0)
        if not isinstance(canonical, bool):
            raise TypeError("Expected canonical to be a bool but got %r" % (canonical,))
        g = _generator(generator, self.device)
        z = torch.randn(n, self.n_components, generator=g, device=self.device, dtype=torch.float32)
        return self.decode(z * self.std, canonical=canonical)

    # ------------------------------------------------------------------------------- save/load
    def state_dict(self):
        """The fitted model as a dict of CPU tensors and plain values (``torch.save``-able with
        ``weights_only=True``). At res 32 with 32 directions it holds about 28 MB.

        Returns:
            dict with ``format``, ``version``, ``res``, ``mean`` (D,), ``components`` (k, D),
            ``std`` (k,), ``n_train``, ``total_variance``, ``n_components_requested``, ``seed``.
        """
        self._need_fit()
        return {"format": _FORMAT, "version": _VERSION, "res": self.res,
                "mean": self.mean.detach().cpu().clone(), "components": self.components.detach().cpu().clone(),
                "std": self.std.detach().cpu().clone(), "n_train": self.n_train,
                "total_variance": self.total_variance, "n_components_requested": self.n_components_requested,
                "seed": self.seed}

    @classmethod
    def from_state_dict(cls, state, device="cpu", where="the state dict"):
        """Rebuilds a model from :meth:`state_dict`'s dict.

        Args:
            state: dict from :meth:`state_dict`.
            device: where the tensors go.
            where: str, how errors name the source.
        Returns:
            PCAGaussian.
        Raises:
            ValueError: not a PCAGaussian state, keys missing, shapes inconsistent.
        """
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            got = ("format %r" % (state.get("format"),) if isinstance(state, dict)
                   else "a %s" % type(state).__name__)
            raise ValueError("Expected a gshell PCAGaussian state (format %r) in %s but got %s"
                             % (_FORMAT, where, got))
        missing = [k for k in _KEYS if k not in state]
        if missing:
            raise ValueError("Expected the keys %s in %s but got none for %s"
                             % (", ".join(_KEYS), where, ", ".join(missing)))
        if not isinstance(state["version"], int) or state["version"] > _VERSION:
            raise ValueError("Expected a PCAGaussian state of version <= %d in %s but got version %r"
                             % (_VERSION, where, state["version"]))
        dev = _checks.device("device", device)
        res = _checks.integer("res", state["res"], lo=2)
        d = gt.NUM_CHANNELS * (res + 1) ** 3
        mean = _checks.tensor("mean", state["mean"], dims=1, shape=(d,), dtypes=_checks.FLOATS)
        comp = _checks.tensor("components", state["components"], dims=2, shape=(None, d), dtypes=_checks.FLOATS)
        std = _checks.tensor("std", state["std"], dims=1, shape=(comp.shape[0],), dtypes=_checks.FLOATS)
        for name, t in (("mean", mean), ("components", comp), ("std", std)):
            _checks.finite(name, t)
        m = cls()
        m.res = res
        m.mean, m.components, m.std = (t.detach().float().to(dev).clone() for t in (mean, comp, std))
        m.n_train = int(state["n_train"])
        m.total_variance = float(state["total_variance"])
        m.n_components_requested = int(state["n_components_requested"])
        m.seed = int(state["seed"])
        return m

    def save(self, path):
        """Writes :meth:`state_dict` with ``torch.save``, atomically (a temporary file beside
        ``path``, then ``os.replace``).

        Args:
            path: str or os.PathLike; its folder must exist.
        """
        from gshell._atomic import write_atomic

        state = self.state_dict()
        write_atomic(path, lambda tmp: torch.save(state, tmp))

    @classmethod
    def load(cls, path, device="cpu"):
        """Reads a model written by :meth:`save`.

        Args:
            path: str or os.PathLike.
            device: where the tensors go.
        Returns:
            PCAGaussian.
        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: not a readable torch file or not a PCAGaussian state.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError("Expected a PCAGaussian file at %r but %s"
                                    % (path, "it is a folder" if os.path.isdir(path) else "it does not exist"))
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated or foreign files raise many kinds of errors
            raise ValueError("Expected a torch file written by PCAGaussian.save at %r but could not read it: %s"
                             % (path, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
        return cls.from_state_dict(state, device=device, where=repr(path))

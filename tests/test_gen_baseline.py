"""The PCA-Gaussian baseline of gshell.gen.baseline: the principal subspace and the data's
covariance are recovered, samples are deterministic and canonical, the state round-trips, and bad
inputs are refused by name."""
import math

import pytest
import torch

from gshell.gen import tensor as gt
from gshell.gen.baseline import PCAGaussian

RES = 6                      # R = 7, D = 6 * 343 = 2058
R = RES + 1
D = 6 * R ** 3


def _subspace_data(n=12, k=4, seed=0, scales=(3.0, 2.0, 1.0, 0.5)):
    """n tensors exactly in a k-dim affine subspace: mean + coef @ basis (float64 truth)."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(D, k, generator=g, dtype=torch.float64))[0].t()   # (k, D)
    coef = torch.randn(n, k, generator=g, dtype=torch.float64) * torch.tensor(scales[:k], dtype=torch.float64)
    mu = 0.1 * torch.randn(D, generator=g, dtype=torch.float64)
    x = mu + coef @ basis
    return x.float().reshape(n, 6, R, R, R), x, basis


def _residual(y, origin, basis):
    """Distance of rows of y (M, D) from the affine subspace origin + span(basis rows)."""
    c = y - origin
    return c - (c @ basis.t()) @ basis


def test_subspace_mean_and_covariance_are_recovered():
    x32, x, basis = _subspace_data()
    n = x.shape[0]
    m = PCAGaussian().fit(x32)
    # rank 4 data: 11 directions asked for (min(N - 1, 32)), the numerically zero ones dropped
    assert m.n_components_requested == 11 and m.n_components == 4
    assert m.res == RES and m.shape == (6, R, R, R) and m.n_train == n
    c = m.components.double()
    assert torch.allclose(c @ c.t(), torch.eye(4, dtype=torch.float64), atol=1e-5)
    assert _residual(c, 0.0, basis).abs().max() < 1e-5            # the same span
    assert torch.allclose(m.mean.double(), x.mean(0), atol=1e-6)
    # per-direction variances are the eigenvalues of the data's sample covariance
    xc = x - x.mean(0)
    eig = torch.linalg.eigvalsh(xc @ xc.t() / (n - 1)).flip(0)[:4]
    assert torch.allclose(m.std.double() ** 2, eig, rtol=1e-4)
    assert abs(float(m.explained_variance_ratio.sum()) - 1.0) < 1e-4

    # raw samples lie in the subspace; their mean and covariance are the data's
    s = m.sample(4000, generator=torch.Generator().manual_seed(1), canonical=False)
    assert s.shape == (4000, 6, R, R, R) and s.dtype == torch.float32
    s = s.reshape(4000, -1).double()
    assert _residual(s, x.mean(0), basis).abs().max() < 1e-5
    z = (s - x.mean(0)) @ basis.t()                   # coordinates in the true basis
    zd = (x - x.mean(0)) @ basis.t()
    cov = zd.t() @ zd / (n - 1)
    sd = cov.diag().sqrt()
    assert ((z.mean(0)).abs() < 5 * sd / math.sqrt(4000)).all()
    emp = torch.cov(z.t())
    tol = 6 * torch.sqrt((sd[:, None] ** 2 * sd[None] ** 2 + cov ** 2) / 4000)
    assert ((emp - cov).abs() < tol).all(), (emp, cov)


def test_n_components():
    x32, x, _ = _subspace_data(n=12, k=4)
    full = PCAGaussian().fit(x32)
    two = PCAGaussian().fit(x32, n_components=2)
    assert two.n_components == 2 and two.n_components_requested == 2
    assert torch.allclose(two.std, full.std[:2], rtol=1e-5)
    assert torch.allclose(two.components, full.components[:2], atol=1e-5)
    assert 0.5 < float(two.explained_variance_ratio.sum()) < 0.99
    s = two.sample(50, canonical=False).reshape(50, -1).double()
    assert _residual(s, x.mean(0), two.components.double()).abs().max() < 1e-5

    # full-rank data: the default is min(N - 1, 32)
    g = torch.Generator().manual_seed(3)
    few = torch.rand(5, 6, R, R, R, generator=g) * 2 - 1
    many = torch.rand(40, 6, R, R, R, generator=g) * 2 - 1
    assert PCAGaussian().fit(few).n_components == 4
    assert PCAGaussian().fit(many).n_components == 32
    assert PCAGaussian().fit(many, n_components=39).n_components == 39
    # the training tensors are reproduced exactly with every direction
    m = PCAGaussian().fit(few, n_components=4)
    assert torch.allclose(m.decode(m.encode(few)), few, atol=1e-5)

    for bad in (0, 5, 12):
        with pytest.raises(ValueError, match="n_components"):
            PCAGaussian().fit(few, n_components=bad)
    for bad in (2.5, "3", True):
        with pytest.raises(TypeError, match="n_components"):
            PCAGaussian().fit(few, n_components=bad)


def test_deterministic_samples_and_canonical_form():
    x32, _, _ = _subspace_data(n=8, k=3, scales=(0.6, 0.4, 0.2))
    a, b = PCAGaussian().fit(x32), PCAGaussian().fit(x32.clone())
    assert torch.equal(a.components, b.components) and torch.equal(a.std, b.std)
    s1 = a.sample(6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(s1, b.sample(6, generator=5))                  # an int seed is a generator
    assert torch.equal(a.sample(6), a.sample(6, generator=0))        # None is seed 0
    assert not torch.equal(s1, a.sample(6, generator=6))
    raw = a.sample(6, generator=5, canonical=False)
    assert not torch.equal(raw, s1)       # canonical form fixes the off-surface values
    assert torch.equal(s1, gt.canonicalise(raw))
    assert s1.abs().max() <= 1.0 and torch.equal(gt.canonicalise(s1), s1)
    assert set(s1[:, 5].unique().tolist()) <= {-1.0, 1.0}
    assert a.sample(0).shape == (0, 6, R, R, R)


def _open_caps(n, res, seed=0):
    """Canonical tensors of spherical caps (sphere radius r, kept above height h): open meshes."""
    g = torch.Generator().manual_seed(seed)
    p = gt.grid(res).vertices
    out = []
    for _ in range(n):
        r = 0.25 + 0.1 * float(torch.rand((), generator=g))
        h = -0.15 + 0.2 * float(torch.rand((), generator=g))
        c = (torch.rand(3, generator=g) - 0.5) * 0.1
        sdf = (p - c).norm(dim=1) - r
        msdf = p[:, 1] - c[1] - h
        out.append(gt.encode(sdf, msdf, None, res))
    return torch.stack(out)


def test_samples_of_open_shapes_extract_to_open_meshes():
    res = 12
    train = _open_caps(10, res)
    m = PCAGaussian().fit(train, n_components=5, seed=3)
    assert m.seed == 3
    s = m.sample(4, generator=torch.Generator().manual_seed(0))
    for t in s:
        v, f = gt.extract(t)
        assert f.shape[0] > 50
        e = torch.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), dim=1).values
        _, counts = torch.unique(e, dim=0, return_counts=True)
        assert (counts == 1).any()            # it has a boundary: the caps' opening survives


def test_state_dict_save_and_load(tmp_path):
    x32, _, _ = _subspace_data(n=8, k=3)
    m = PCAGaussian().fit(x32, seed=7)
    st = m.state_dict()
    m2 = PCAGaussian.from_state_dict(st)
    assert torch.equal(m2.components, m.components) and m2.seed == 7 and m2.res == RES
    path = tmp_path / "pca.pt"
    m.save(path)
    m3 = PCAGaussian.load(path)
    assert torch.equal(m3.sample(3, generator=2), m.sample(3, generator=2))
    assert m3.n_train == m.n_train and m3.total_variance == pytest.approx(m.total_variance)
    assert [p.name for p in tmp_path.iterdir()] == ["pca.pt"]          # no temporary file left

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="PCAGaussian"):
        PCAGaussian.load(bad)
    with pytest.raises(FileNotFoundError):
        PCAGaussian.load(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="format"):
        PCAGaussian.from_state_dict({"format": "other"})
    broken = dict(st)
    del broken["std"]
    with pytest.raises(ValueError, match="std"):
        PCAGaussian.from_state_dict(broken)
    broken = dict(st, std=st["std"][:-1])
    with pytest.raises(ValueError, match="std"):
        PCAGaussian.from_state_dict(broken)


def test_bad_inputs_are_refused_by_name():
    x32, _, _ = _subspace_data(n=6, k=3)
    with pytest.raises(ValueError, match="tensors.*N >= 2"):
        PCAGaussian().fit(x32[:1])
    with pytest.raises(ValueError, match="tensors"):
        PCAGaussian().fit(x32[:, :5])                       # 5 channels
    with pytest.raises(ValueError, match="tensors"):
        PCAGaussian().fit(x32[..., :-1])                    # not cubic
    with pytest.raises(ValueError, match="tensors"):
        PCAGaussian().fit(x32[0])                           # one tensor, no batch
    nan = x32.clone()
    nan[2, 0, 1, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="tensors.*finite"):
        PCAGaussian().fit(nan)
    with pytest.raises(TypeError, match="tensors"):
        PCAGaussian().fit(x32.to(torch.int64))
    with pytest.raises(TypeError, match="tensors"):
        PCAGaussian().fit(list(x32))
    with pytest.raises(ValueError, match="seed"):
        PCAGaussian().fit(x32, seed=-1)

    with pytest.raises(RuntimeError, match="fit"):
        PCAGaussian().sample(2)
    m = PCAGaussian().fit(x32)
    with pytest.raises(ValueError, match="n"):
        m.sample(-1)
    with pytest.raises(TypeError, match="generator"):
        m.sample(2, generator="seed")
    with pytest.raises(TypeError, match="canonical"):
        m.sample(2, canonical=1)
    other = _subspace_data(n=3, k=2)[0][:, :, :-1, :-1, :-1].contiguous()   # res 5
    with pytest.raises(ValueError, match="res 6"):
        m.encode(other)
    with pytest.raises(ValueError, match="coeffs"):
        m.decode(torch.zeros(2, m.n_components + 1))

import pytest
import torch
from torch import nn

import gshell
from gshell import deepmesh
from tests.mesh_checks import is_closed


class Sphere(nn.Module):
    def __init__(self, r=0.3):
        super().__init__()
        self.r = nn.Parameter(torch.tensor(r))
        self.center = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        return (x - self.center).norm(dim=-1, keepdim=True) - self.r


def test_sample_grid_matches_direct_evaluation_in_any_chunking():
    f = Sphere()
    full = deepmesh.sample_grid(f, (7, 9, 5), chunk=10 ** 6)
    small = deepmesh.sample_grid(f, (7, 9, 5), chunk=17)
    axes = [torch.linspace(-0.5, 0.5, n) for n in (7, 9, 5)]
    p = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
    direct = f(p.reshape(-1, 3)).reshape(7, 9, 5).detach()
    assert torch.allclose(full, direct) and torch.equal(full, small)


def test_extract_gives_the_surface_and_deepmesh_gradients():
    f = Sphere(0.3)
    verts, faces = deepmesh.extract(f, 48, chunk=5000)
    assert is_closed(faces)
    assert float((verts.detach().norm(dim=-1) - 0.3).abs().max()) < 2e-3
    # Growing the radius moves every vertex outwards along its normal: d mean|v| / dr = 1.
    verts.norm(dim=-1).mean().backward()
    assert abs(float(f.r.grad) - 1.0) < 1e-3
    # Moving the center moves each vertex along its normal only: d v / d c_x = n n_x, so
    # d mean(v_x) / d c_x = mean(n_x^2) = 1/3 on a sphere.
    f.zero_grad()
    verts, _ = deepmesh.extract(f, 48)
    verts[:, 0].mean().backward()
    n = verts.detach() / verts.detach().norm(dim=-1, keepdim=True)
    assert abs(float(f.center.grad[0]) - float(n[:, 0].square().mean())) < 1e-3
    assert abs(float(f.center.grad[0]) - 1 / 3) < 0.02


def test_extract_mlp_gradient_matches_finite_differences():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Softplus(), nn.Linear(16, 1))
    with torch.no_grad():
        net[2].bias.fill_(-0.0)

    def field(x):
        return x.norm(dim=-1, keepdim=True) - 0.3 + 0.05 * net(x)

    verts, _ = deepmesh.extract(field, 40)
    loss = verts.norm(dim=-1).mean()
    loss.backward()
    g = float(net[2].bias.grad)
    eps = 1e-2
    with torch.no_grad():
        net[2].bias += eps
        lp = deepmesh.extract(field, 40)[0].norm(dim=-1).mean()
        net[2].bias -= 2 * eps
        lm = deepmesh.extract(field, 40)[0].norm(dim=-1).mean()
        net[2].bias += eps
    fd = float(lp - lm) / (2 * eps)
    assert abs(g - fd) < 0.05 * abs(fd)


def test_bad_arguments():
    f = Sphere()
    with pytest.raises(ValueError, match="resolution"):
        deepmesh.extract(f, 1)
    with pytest.raises(TypeError, match="callable"):
        deepmesh.extract(3, 8)
    with pytest.raises(ValueError, match="chunk"):
        deepmesh.extract(f, 8, chunk=0)
    with pytest.raises(ValueError, match="map points"):
        deepmesh.extract(lambda x: x, 8)
    with pytest.raises(ValueError, match="finite"):
        deepmesh.extract(lambda x: x[:, 0] * float("nan"), 8)

import pytest
import torch
from torch import nn

import gshell
from tests.mesh_checks import is_closed


def reference_sdf_reg(sdf, tets):
    """DMTet's sign-change loss with the edges re-derived by a sort (as nvdiffrec does)."""
    e = tets[:, [0, 1, 0, 2, 0, 3, 1, 2, 1, 3, 2, 3]].reshape(-1, 2)
    e = torch.unique(torch.sort(e, 1).values, dim=0)
    s = sdf[e.reshape(-1)].reshape(-1, 2)
    mask = torch.sign(s[:, 0]) != torch.sign(s[:, 1])
    s = s[mask]
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(s[:, 0], (s[:, 1] > 0).float()) + bce(s[:, 1], (s[:, 0] > 0).float())


def test_forward_parameters_and_default_sphere():
    geo = gshell.GShellGeometry(gshell.TetGrid.regular(16))
    names = {n for n, _ in geo.named_parameters()}
    assert names == {"sdf", "msdf", "deform"}
    out = geo()
    assert is_closed(out.faces) and out.boundary_loops == 0
    r = out.verts.detach().norm(dim=-1)
    assert float((r - 0.3).abs().max()) < 0.02


def test_sdf_reg_loss_matches_reference_and_has_gradient():
    grid = gshell.TetGrid.regular(8)
    g = torch.Generator().manual_seed(0)
    sdf = torch.rand(grid.num_vertices, generator=g) - 0.3
    geo = gshell.GShellGeometry(grid, sdf=sdf)
    loss = geo.sdf_reg_loss()
    assert torch.allclose(loss, reference_sdf_reg(sdf, grid.tets), atol=1e-6)
    loss.backward()
    assert float(geo.sdf.grad.abs().sum()) > 0


def test_msdf_losses():
    grid = gshell.TetGrid.regular(16)
    p = grid.vertices
    geo = gshell.GShellGeometry(grid, msdf=0.05 - p[:, 2])
    out = geo()
    open_loss = geo.msdf_open_loss(out)
    close_loss = geo.msdf_close_loss(out)
    assert float(open_loss.detach()) > 0 and float(close_loss.detach()) > 0
    # Open pulls mSDF down, close pulls the boundary's mSDF up.
    (g_open,) = torch.autograd.grad(open_loss, geo.msdf, retain_graph=True)
    (g_close,) = torch.autograd.grad(close_loss, geo.msdf)
    assert float(g_open.sum()) > 0  # descent lowers msdf
    assert float(g_close.sum()) < 0  # descent raises msdf
    # The close term ignores vertices outside the mask.
    none = torch.zeros(out.verts.shape[0], dtype=torch.bool)
    assert float(geo.msdf_close_loss(out, vertex_mask=none).detach()) == 0
    # Reference for the open term: Huber(msdf.clamp(min=-eps), -eps), summed, scaled by (64/res)^3.
    eps = 1e-3
    ref = (64 / 16) ** 3 * nn.functional.huber_loss(
        out.msdf.clamp(min=-eps), torch.full_like(out.msdf, -eps), reduction="sum")
    assert torch.allclose(open_loss, ref)


class SphereNet(nn.Module):
    def __init__(self, r=0.3, scale=1.0):
        super().__init__()
        self.r = nn.Parameter(torch.tensor(r))
        self.scale = scale

    def forward(self, x):
        return self.scale * (x.norm(dim=-1, keepdim=True) - self.r)


def test_network_fields_and_eikonal():
    grid = gshell.TetGrid.regular(12)
    geo = gshell.GShellGeometry(grid, sdf=SphereNet(), deform=False)
    out = geo()
    assert out.faces.shape[0] > 0
    gen = torch.Generator().manual_seed(0)
    assert float(geo.eikonal_loss(generator=gen).detach()) < 1e-8
    geo2 = gshell.GShellGeometry(grid, sdf=SphereNet(scale=2.0), deform=False)
    assert abs(float(geo2.eikonal_loss(generator=torch.Generator().manual_seed(0))) - 1.0) < 1e-5
    # The radius parameter receives a gradient through the extracted mesh.
    loss = out.verts.norm(dim=-1).mean()
    loss.backward()
    assert geo.sdf_net.r.grad is not None and float(geo.sdf_net.r.grad) > 0
    with pytest.raises(ValueError, match="SDF network"):
        gshell.GShellGeometry(grid).eikonal_loss()


def test_deformation_is_bounded():
    grid = gshell.TetGrid.regular(8)
    geo = gshell.GShellGeometry(grid)
    with torch.no_grad():
        geo.deform.fill_(100.0)
    d = (geo.vertices() - grid.vertices).abs().max()
    assert float(d) <= grid.spacing / 2.1 + 1e-6


def test_optimisation_moves_the_surface_to_a_target_sphere():
    grid = gshell.TetGrid.regular(16)
    geo = gshell.GShellGeometry(grid, deform=False)  # sphere of radius 0.3
    opt = torch.optim.Adam(geo.parameters(), lr=5e-3)
    first = None
    for _ in range(60):
        out = geo()
        loss = (out.verts.norm(dim=-1) - 0.22).pow(2).mean()
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = geo()
    final = float((out.verts.norm(dim=-1) - 0.22).pow(2).mean())
    assert final < 0.05 * first
    assert is_closed(out.faces)


def test_bad_arguments():
    grid = gshell.TetGrid.regular(4)
    with pytest.raises(TypeError, match="gshell.TetGrid"):
        gshell.GShellGeometry("grid")
    with pytest.raises(ValueError, match="Expected sdf of shape"):
        gshell.GShellGeometry(grid, sdf=torch.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        gshell.GShellGeometry(grid, msdf=torch.full((grid.num_vertices,), float("nan")))
    with pytest.raises(TypeError, match="tensor or an nn.Module"):
        gshell.GShellGeometry(grid, sdf=lambda x: x)

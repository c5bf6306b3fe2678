"""GShellGeometry: a learnable G-Shell on a tet grid, with the G-Shell regularisers."""

import torch
import torch.nn.functional as F
from torch import nn

from gshell import _checks
from gshell._gather import take
from gshell.ops.gshell_extract import gshell_extract
from gshell.tetgrid import TetGrid


class GShellGeometry(nn.Module):
    """Per-vertex SDF, mSDF and deformation on a tet grid, extracted with G-Shell.

    Each of ``sdf`` and ``msdf`` is either a tensor of initial values (N,), stored as an
    ``nn.Parameter``, or an ``nn.Module`` mapping positions (N, 3) to values (N,) or (N, 1)
    (a neural field, evaluated at the deformed grid vertices).

    Args:
        grid: TetGrid.
        sdf: (N,) float tensor or nn.Module; default: a sphere of radius 0.3 (negative inside).
        msdf: (N,) float tensor or nn.Module; default: 0.1 everywhere (keep the whole surface).
        deform: learn a per-vertex deformation, bounded by ``tanh`` to ``max_deform`` (default
            spacing / 2.1, so tets cannot invert).
        max_deform: bound of the deformation, in grid units of length.

    Example:
        >>> geo = GShellGeometry(TetGrid.regular(32))
        >>> out = geo()
        >>> loss = geo.sdf_reg_loss() + geo.msdf_open_loss(out)
    """

    def __init__(self, grid, sdf=None, msdf=None, deform=True, max_deform=None):
        super().__init__()
        if not isinstance(grid, TetGrid):
            raise TypeError("Expected grid to be a gshell.TetGrid but got %s" % type(grid).__name__)
        self.grid = grid
        n, dev = grid.num_vertices, grid.device
        self.register_buffer("grid_vertices", grid.vertices.clone(), persistent=False)
        if sdf is None:
            sdf = grid.vertices.norm(dim=-1) - 0.3
        if msdf is None:
            msdf = torch.full((n,), 0.1, device=dev)
        self.sdf_net = self._field("sdf", sdf, n, dev)
        self.msdf_net = self._field("msdf", msdf, n, dev)
        self.max_deform = float(max_deform) if max_deform is not None else grid.spacing / 2.1
        self.deform = nn.Parameter(torch.zeros(n, 3, device=dev)) if deform else None

    def _field(self, name, value, n, dev):
        if isinstance(value, nn.Module):
            setattr(self, name, None)
            return value
        if callable(value) and not isinstance(value, torch.Tensor):
            raise TypeError("Expected %s to be a tensor or an nn.Module but got %s" % (
                name, type(value).__name__))
        _checks.tensor(name, value, dims=1, shape=(n,), dtypes=_checks.FLOATS, device=dev)
        _checks.finite(name, value)
        setattr(self, name, nn.Parameter(value.detach().clone().float()))
        return None

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self.grid = self.grid.to(self.grid_vertices.device)
        return out

    # ------------------------------------------------------------------ fields
    def vertices(self):
        """(N, 3) deformed grid vertices."""
        if self.deform is None:
            return self.grid_vertices
        return self.grid_vertices + self.max_deform * torch.tanh(self.deform)

    @staticmethod
    def _eval(net, x):
        y = net(x)
        return y.reshape(x.shape[0])

    def sdf_values(self, vertices=None):
        """(N,) SDF at the (deformed) grid vertices."""
        if self.sdf_net is None:
            return self.sdf
        return self._eval(self.sdf_net, self.vertices() if vertices is None else vertices)

    def msdf_values(self, vertices=None):
        """(N,) mSDF at the (deformed) grid vertices."""
        if self.msdf_net is None:
            return self.msdf
        return self._eval(self.msdf_net, self.vertices() if vertices is None else vertices)

    def forward(self):
        """Extracts the current mesh. Returns a GShellResult."""
        v = self.vertices()
        return gshell_extract(v, self.sdf_values(v), self.msdf_values(v), self.grid)

    # ------------------------------------------------------------------ regularisers
    def sdf_reg_loss(self, sdf=None):
        """DMTet's sign-change loss: binary cross-entropy that pulls the two ends of every grid
        edge whose SDF changes sign towards each other's sign, which removes floaters and
        internal surfaces. Uses the grid's static edges (no per-call sort).

        Returns:
            scalar tensor (0 when no edge changes sign).
        """
        sdf = self.sdf_values() if sdf is None else sdf
        e = self.grid.kernel_tables()[1].long()
        pos = sdf.detach() > 0
        e = e[pos[e[:, 0]] != pos[e[:, 1]]]
        sa, sb = take(sdf, e[:, 0]), take(sdf, e[:, 1])
        if sa.numel() == 0:
            return sdf.sum() * 0
        return (F.binary_cross_entropy_with_logits(sa, (sb > 0).to(sa.dtype))
                + F.binary_cross_entropy_with_logits(sb, (sa > 0).to(sb.dtype)))

    def _reg_scale(self):
        # G-Shell scales the mSDF terms inversely with the number of grid cells (64^3 as 1).
        res = self.grid.res if self.grid.res is not None else round(1.0 / self.grid.spacing)
        return (64.0 / max(res, 1)) ** 3

    def msdf_open_loss(self, result, vertex_mask=None, eps=1e-3):
        """G-Shell's "open" term: a Huber loss pulling the mSDF of mesh vertices to -eps, so that
        surface no image supports is cut away.

        With per-vertex mSDF parameters and Adam, a constant push moves every value that no other
        term touches by the learning rate per step, whatever the weight: apply it to a
        ``vertex_mask`` of unsupported surface (``gshell.recon`` uses the surface no view sees).

        Args:
            result: GShellResult of this geometry.
            vertex_mask: optional (V,) bool tensor selecting vertices (e.g. the unseen ones).
        Returns:
            scalar tensor.
        """
        m = result.msdf if vertex_mask is None else take(result.msdf, vertex_mask)
        target = torch.full_like(m, -eps)
        return self._reg_scale() * F.huber_loss(m.clamp(min=-eps), target, reduction="sum")

    def msdf_close_loss(self, result, vertex_mask=None, eps=1e-3):
        """G-Shell's "close" term: a Huber loss pulling the mSDF of boundary (cut) vertices to
        +eps, so that holes close where the surface is seen.

        Args:
            result: GShellResult of this geometry.
            vertex_mask: optional (V,) bool tensor selecting vertices (e.g. the visible ones);
                only cut vertices count.
        Returns:
            scalar tensor.
        """
        mask = result.cut_vertex_mask
        if vertex_mask is not None:
            mask = mask & vertex_mask
        m = take(result.msdf, mask)
        target = torch.full_like(m, eps)
        return self._reg_scale() * F.huber_loss(m.clamp(max=eps), target, reduction="sum")

    def eikonal_loss(self, points=None, num_points=4096, generator=None):
        """Eikonal term mean((|grad sdf| - 1)^2) when the SDF is a network.

        Args:
            points: (P, 3) float tensor; default: ``num_points`` uniform samples in the grid's
                bounding box drawn with ``generator``.
        Returns:
            scalar tensor (differentiable, create_graph=True).
        """
        if self.sdf_net is None:
            raise ValueError("Expected an SDF network for the Eikonal loss but the SDF is a "
                             "per-vertex tensor")
        if points is None:
            lo, hi = self.grid_vertices.min(0).values, self.grid_vertices.max(0).values
            u = torch.rand(num_points, 3, generator=generator, device="cpu").to(lo.device)
            points = lo + (hi - lo) * u
        points = points.detach().requires_grad_(True)
        with torch.enable_grad():
            s = self._eval(self.sdf_net, points)
            (g,) = torch.autograd.grad(s.sum(), points, create_graph=True)
        return (g.norm(dim=-1) - 1).pow(2).mean()

"""G-Shell extraction: marching tets on the SDF, then a cut of the surface by the mSDF.

Implements the mesh extraction of "Ghost on the Shell: An Expressive Representation of General
3D Shapes" (Liu et al., ICLR 2024, https://arxiv.org/abs/2310.15168).
"""
import dataclasses
import functools
from typing import Tuple

import torch
from torch import Tensor

from gshell import _checks
from gshell._gather import take
from gshell._ext import check_device, ext
from gshell.ops.marching_tets import interpolate_crossings, marching_tets_topology
from gshell.ops.mesh_components import boundary_loops as _boundary_loops
from gshell.tetgrid import TetGrid

# With positively oriented tets, DMTet's table already winds faces towards sdf > 0 (outward for
# an SDF that is negative inside), so G-Shell meshes use it unflipped.
_FLIP_FOR_OUTWARD = False


@torch.library.custom_op("gshell::gshell_cut", mutates_args=())
def _gshell_cut_op(faces: Tensor, msdf: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    kept, cut_edges, out_faces, face_src = ext().gshell_cut(faces, msdf)
    return kept, cut_edges, out_faces, face_src


@_gshell_cut_op.register_fake
def _(faces, msdf):
    ctx = torch.library.get_ctx()
    nk, nc, nf = ctx.new_dynamic_size(), ctx.new_dynamic_size(), ctx.new_dynamic_size()
    return (faces.new_empty((nk,)), faces.new_empty((nc, 2)), faces.new_empty((nf, 3)),
            faces.new_empty((nf,)))


def gshell_cut(verts, faces, msdf, msdf_sg=None):
    """Keeps the part of a triangle mesh where the per-vertex mSDF is positive.

    Each triangle is cut by the signs of its corners; a cut vertex is made once per edge whose
    endpoints change sign, at the zero crossing of the linear mSDF along the edge.

    Args:
        verts: (V, 3) float tensor (differentiable).
        faces: (F, 3) int64 tensor.
        msdf: (V,) float tensor (differentiable; it moves the cut vertices).
        msdf_sg: (V,) float tensor carried to the output with the weights detached
            (default: ``msdf``).
    Returns:
        verts (V', 3), faces (F', 3) int64, msdf (V',) (from ``msdf_sg``, detached weights),
        face_src (F',) int64 source face, num_kept (int): output vertices from ``num_kept`` on
        lie on cut edges.
    """
    if msdf_sg is None:
        msdf_sg = msdf
    kept, cut_edges, out_faces, face_src = _gshell_cut_op(faces.contiguous(), msdf.detach().contiguous())
    u, v = cut_edges[:, 0], cut_edges[:, 1]
    mu, mv = take(msdf, u), take(msdf, v)
    denom = mv - mu
    cut_pos = (take(verts, u) * mv[:, None] - take(verts, v) * mu[:, None]) / denom[:, None]
    wu, wv = (mv / denom).detach(), (-mu / denom).detach()
    cut_msdf = take(msdf_sg, u) * wu + take(msdf_sg, v) * wv
    out_verts = torch.cat([take(verts, kept), cut_pos], 0)
    out_msdf = torch.cat([take(msdf_sg, kept), cut_msdf], 0)
    return out_verts, out_faces, out_msdf, face_src, int(kept.shape[0])


@dataclasses.dataclass(eq=False)
class GShellResult:
    """Output of :func:`gshell_extract`.

    Attributes:
        verts: (V, 3) float tensor, the open mesh (where msdf > 0), differentiable.
        faces: (F, 3) int64 tensor, wound so normals point to sdf > 0.
        msdf: (V,) float tensor, mSDF per open-mesh vertex, interpolated with detached weights:
            its gradient reaches only the grid mSDF (as the G-Shell regularisers use it).
        face_tet: (F,) int64 tensor, source tet of each open face.
        num_kept: int, vertices ``[:num_kept]`` are watertight vertices with msdf > 0,
            ``[num_kept:]`` lie on the cut (the mesh boundary made by the mSDF).
        watertight_verts: (Vw, 3) float tensor, the watertight template.
        watertight_faces: (Fw, 3) int64 tensor.
        watertight_msdf: (Vw,) float tensor, mSDF per template vertex (differentiable).
        watertight_face_tet: (Fw,) int64 tensor.
    """
    verts: Tensor
    faces: Tensor
    msdf: Tensor
    face_tet: Tensor
    num_kept: int
    watertight_verts: Tensor
    watertight_faces: Tensor
    watertight_msdf: Tensor
    watertight_face_tet: Tensor

    @functools.cached_property
    def boundary_loops(self):
        """int: number of boundary loops of the open mesh (computed on first access)."""
        return _boundary_loops(self.faces, self.verts.shape[0])

    @property
    def cut_vertex_mask(self):
        """(V,) bool tensor: the open-mesh vertices made by the mSDF cut."""
        m = torch.zeros(self.verts.shape[0], dtype=torch.bool, device=self.verts.device)
        m[self.num_kept:] = True
        return m


def _check_field(name, t, n, dev):
    _checks.tensor(name, t, dims=1, shape=(n,), dtypes=_checks.FLOATS, device=dev)
    _checks.finite(name, t)


def gshell_extract(vertices, sdf, msdf, grid):
    """Extracts a G-Shell mesh: open (msdf > 0) and watertight (sdf = 0) surfaces.

    1. Marching tets on ``sdf``: a vertex per grid edge whose endpoints change sign, at
       ``(p0 s1 - p1 s0) / (s1 - s0)``, its mSDF interpolated with the same weights.
    2. Each watertight triangle is cut by the sign of its vertices' mSDF and kept where
       msdf > 0; a cut vertex is made once per watertight edge whose mSDF changes sign.
       (The published code cuts each tet's quad as a whole and resolves its two ambiguous
       cases as a connected hexagon; cutting triangles is the simpler rule, consistent across
       neighbouring tets, and differs from it only inside ambiguous quads.)

    The grid's edges are computed once per grid; the kernels produce integer topology and the
    positions are formed here with torch ops, so gradients are exact.

    Args:
        vertices: (N, 3) float32|float64 tensor, grid positions, possibly deformed
            (differentiable).
        sdf: (N,) float tensor, negative inside, positive outside (differentiable).
        msdf: (N,) float tensor, the surface is kept where msdf > 0 (differentiable).
        grid: TetGrid with N vertices, on the same device.
    Returns:
        GShellResult.

    Example:
        >>> grid = TetGrid.regular(32)
        >>> p = grid.vertices
        >>> out = gshell_extract(p, p.norm(dim=-1) - 0.3, -p[:, 2] + 0.1, grid)
        >>> out.boundary_loops
        1
    """
    if not isinstance(grid, TetGrid):
        raise TypeError("Expected grid to be a gshell.TetGrid but got %s" % type(grid).__name__)
    n, dev = grid.num_vertices, grid.device
    _checks.tensor("vertices", vertices, dims=2, shape=(n, 3), dtypes=_checks.FLOATS, device=dev)
    _check_field("sdf", sdf, n, dev)
    _check_field("msdf", msdf, n, dev)
    check_device("gshell_extract", vertices)

    cross, wfaces, wface_tet = marching_tets_topology(sdf, grid, flip=_FLIP_FOR_OUTWARD)
    edges = grid.kernel_tables()[1][cross].long()
    wverts, w = interpolate_crossings(vertices, sdf, edges)
    m = take(msdf, edges)
    wmsdf = (m * w).sum(-1)
    wmsdf_sg = (m * w.detach()).sum(-1)
    verts, faces, vmsdf, face_src, num_kept = gshell_cut(wverts, wfaces, wmsdf, wmsdf_sg)
    return GShellResult(
        verts=verts, faces=faces, msdf=vmsdf, face_tet=wface_tet[face_src], num_kept=num_kept,
        watertight_verts=wverts, watertight_faces=wfaces, watertight_msdf=wmsdf,
        watertight_face_tet=wface_tet)

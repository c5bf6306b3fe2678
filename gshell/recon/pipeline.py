"""Multiview reconstruction of open and closed surfaces with G-Shell.

A :class:`~gshell.GShellGeometry` (per-vertex SDF, mSDF and deformation on a tet grid) is
extracted every step, rendered into mask, depth, normal and mSDF images, and fitted to the target
views with Adam, coarse to fine over tet-grid resolutions. Method: "Ghost on the Shell" (Liu et al.,
ICLR 2024, https://arxiv.org/abs/2310.15168).

Losses (per step, on a random batch of views):
- mask: squared error of the antialiased coverage against the target mask (gradients reach the
  silhouettes and the mesh boundary through antialiasing);
- depth and normal: L1 on pixels both cover, excluding "carve" pixels;
- carve (the mSDF image loss): pixels where the current surface shows but the target does not
  (outside the target mask, or the target sees a back face or a point clearly behind it: the
  inside of an opening) push the rendered mSDF below zero, cutting that surface away; it starts
  after ``carve_start`` of the steps, once the watertight shape has settled;
- keep (depth and normal targets): the inverse of the carve on the watertight template, where
  its frontmost surface is a front face at the target's depth and the target shows a front face;
- space carving: grid vertices outside the dilated target masks get a positive SDF (the initial
  sphere deflates to the visual hull everywhere at once, not only from its silhouettes);
- G-Shell regularisers: DMTet's SDF sign loss, the mSDF "open" and "close" Huber terms.

On the CPU a run is bit-reproducible: every differentiable gather goes through
:func:`gshell._gather.take`, whose backward adds in index order (advanced indexing's backward adds
float32 with atomics on several threads). The result was also the same at 1 and 2 threads in the
runs we made (other ops, e.g. reductions, may split their work by thread count). On CUDA the
scatter-adds use atomics and runs may differ in the last bits.
"""
import dataclasses
import os
import time
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

from gshell._atomic import write_atomic
from gshell._gather import take
from gshell.nn.gshell_geometry import GShellGeometry
from gshell.recon.views import Views, render_buffers
from gshell.tetgrid import TetGrid

__all__ = ["ReconConfig", "ReconResult", "reconstruct", "upsample_field", "drop_small_components",
           "fill_small_holes", "fill_pockets", "fill_hidden", "image_loss", "free_space_weights",
           "PhotoCheck"]


@dataclasses.dataclass
class ReconConfig:
    """Settings of :func:`reconstruct` (defaults: the demo's, ~2 minutes on 2 CPU cores).

    Attributes:
        grid_res: tet-grid resolution of each stage (coarse to fine).
        steps: Adam steps of each stage.
        image_res: image resolution (H = W) of each stage.
        views_per_step: views rendered per step.
        lr_sdf, lr_msdf, lr_deform: Adam learning rates (decayed by ``lr_decay`` over a stage).
        w_mask, w_depth, w_normal, w_carve: image loss weights.
        w_sdf_reg: DMTet sign-loss weight, decayed linearly to a tenth over the run.
        w_open, w_close: G-Shell mSDF regulariser weights. The "open" term is off by default:
            with per-vertex mSDF values and Adam, any constant push moves every unsupported value
            by the full learning rate per step and riddles the surface with holes; the carve
            loss is the data-driven opening.
        w_unseen: weight of the "open" term on the vertices of surface that none of the views
            sees (checked every ``visibility_every`` steps per grid tet): inner walls and
            floaters hidden from every camera are cut away.
        outside_views: (depth and normal targets) surface that any of this many virtual cameras on a sphere around the
            grid sees is spared from the ``w_unseen`` push (0: no virtual cameras): it is outer
            surface that the real cameras happen to miss (a closed shape's concavities, its
            underside), not an inner wall, and no view asks for it to open.
        w_msdf_smooth: weight of the squared mSDF gradient (finite differences over grid edges
            near the surface): a smooth cut, no speckle holes.
        w_keep: weight of the keep term (depth and normal targets only), the inverse of the
            carve on the watertight template: surface at the target's depth where the target
            shows a front face gets a positive mSDF (see :func:`_keep_loss`). With ``w_free`` it
            keeps closed shapes closed.
        w_free: weight of the space-carving term: grid vertices that the target views prove
            empty (outside a dilated mask, or clearly in front of a target depth; see
            :func:`free_space_weights`) get a positive SDF. It deflates the initial sphere
            everywhere at once, where the mask's gradient reaches only the silhouettes.
        photo_threshold: photographs only: surface that the photographs in which it is visible
            show in colours further apart than this (sRGB, see :class:`PhotoCheck`) becomes carve
            pixels, as the masks' carve pixels (0: off).
        drop_unseen: image sets only: at the end, surface that fewer than this many training
            photographs see is cut (leftovers inside the visual hull that no evidence supports,
            e.g. pieces of a lid across an opening; 0: off).
        min_component: connected components of the result with fewer than this fraction of its
            faces are dropped (0 keeps everything).
        restore_holes: at the end, surface the optimisation cut away is put back where some
            view sees it (frontmost on the watertight template) on the target's surface and no
            view shows evidence for an opening there (the carve's own tests). Needs depth and
            normal targets. A closed shape then stays closed wherever the cameras see it closed.
        fill_holes: boundary loops shorter than this many grid cells (of the last stage) are
            closed with a fan (pinholes; 0 keeps them).
        fill_holes_max, fill_holes_fraction: image sets only: loops shorter than
            ``fill_holes_max`` grid cells are closed too when they are also shorter than
            ``fill_holes_fraction`` of the longest loop of the result: holes about 3 cells
            across (a marching-tets loop runs about 1.6 times the length of the curve it
            follows) in a sheet whose real openings are several times larger, which colour
            alone leaves where the cameras see the sheet at grazing angles. A result's longest
            loop is never closed by this rule, so a small real opening (a bottle's mouth) stays
            open. The mesh path, whose depth targets show such holes closed, keeps
            ``fill_holes`` alone.
        carve_start: fraction of all steps before the carve loss starts.
        carve_depth: a target back face where a front face renders marks a carve pixel unless
            it lies more than this in front of it, in units of the grid's [-0.5, 0.5] frame.
        carve_margin: pixels outside the target mask dilated by this many pixels are carve
            pixels.
        init_radius: radius of the initial sphere.
        seed: view sampling seed.
        checkpoint_every: save a checkpoint every N steps (0: never); needs ``out_dir``.
        w_rgb: weight of the photometric loss (L1 of tone-mapped linear colour), used when the
            views have RGB images; the material and light are then learned with the shape.
        light: environment light model, "splitsum" (a 32 x 64 lat-long map with prefiltered
            levels, the default: the light it recovers is twice as close to the true one and it
            shades 4 times faster, see BENCHMARKS.md) or "sg" (16 spherical Gaussians), see
            :mod:`gshell.render.light`.
        encoding: the material field's hash encoding, "simplex" or "grid".
        lr_material, lr_light: Adam learning rates of the material field and the light.
        w_material_smooth: weight of the material smoothness term (jittered positions).
        surface: "open" (G-Shell: the mSDF cuts the watertight template; the carves, the
            photo-consistency test and ``drop_unseen`` open it), "closed" (no cut: the mSDF is
            fixed and the result watertight), or "auto" (image sets: both, keeping the closed
            result when its :func:`image_loss` is lower than the open one's by more than
            ``closed_margin``, a fraction; without colour, "open": a closed bag around an open
            sheet fits the masks as well as the sheet does).
        fill_every: every this many steps from ``carve_start``, and at the end, the template's
            outside space that the outside reaches only through channels narrower than about
            ``2 * fill_width`` (a length in the grid's [-0.5, 0.5] frame, at least one grid
            spacing), or that fewer than ``fill_views`` cameras see, is made solid (see
            :func:`fill_pockets` and :func:`fill_hidden`; 0: never). This removes the sponge
            of sign changes that grows inside the visual hull, where no photograph can carve:
            a closed result keeps only its outer surface, and an open one loses the flaps that
            leave its sheet inwards and the holes where they meet it.
    """
    grid_res: Tuple[int, ...] = (32, 64)
    steps: Tuple[int, ...] = (300, 250)
    image_res: Tuple[int, ...] = (128, 192)
    views_per_step: int = 4
    lr_sdf: float = 1e-2
    lr_msdf: float = 1e-2
    lr_deform: float = 3e-2
    lr_decay: float = 0.2
    w_mask: float = 10.0
    w_depth: float = 5.0
    w_normal: float = 0.5
    w_carve: float = 20.0
    w_sdf_reg: float = 0.02
    w_open: float = 0.0
    w_unseen: float = 0.1
    w_msdf_smooth: float = 5e-3
    visibility_every: int = 10
    outside_views: int = 48
    min_component: float = 0.01
    restore_holes: bool = True
    fill_holes: float = 8.0
    fill_holes_max: float = 16.0
    fill_holes_fraction: float = 0.25
    w_close: float = 1e-3
    w_free: float = 1.0
    photo_threshold: float = 0.05
    drop_unseen: int = 5
    free_depth: bool = False
    w_keep: float = 20.0
    carve_start: float = 0.25
    carve_depth: float = 0.04
    carve_margin: int = 3
    init_radius: float = 0.35
    seed: int = 0
    checkpoint_every: int = 0
    w_rgb: float = 10.0
    light: str = "splitsum"
    encoding: str = "simplex"
    lr_material: float = 1e-2
    lr_light: float = 1e-2
    w_material_smooth: float = 0.05
    surface: str = "auto"
    fill_every: int = 50
    fill_views: int = 2
    fill_width: float = 1.0 / 32
    closed_margin: float = 0.05

    def __post_init__(self):
        self.grid_res, self.steps, self.image_res = (tuple(int(x) for x in v) for v in
                                                     (self.grid_res, self.steps, self.image_res))
        if not (len(self.grid_res) == len(self.steps) == len(self.image_res)) or not self.grid_res:
            raise ValueError("Expected grid_res, steps and image_res of one equal, non-zero length "
                             "but got %d, %d, %d" % (len(self.grid_res), len(self.steps),
                                                     len(self.image_res)))
        for name in ("grid_res", "steps", "image_res"):
            if min(getattr(self, name)) < 1:
                raise ValueError("Expected positive %s but got %r" % (name, getattr(self, name)))
        if self.views_per_step < 1:
            raise ValueError("Expected views_per_step >= 1 but got %d" % self.views_per_step)
        if self.light not in ("sg", "splitsum"):
            raise ValueError("Expected light to be 'sg' or 'splitsum' but got %r" % (self.light,))
        if self.encoding not in ("simplex", "grid"):
            raise ValueError("Expected encoding to be 'simplex' or 'grid' but got %r" % (self.encoding,))
        if self.surface not in ("auto", "open", "closed"):
            raise ValueError("Expected surface to be 'auto', 'open' or 'closed' but got %r" % (self.surface,))
        if not self.fill_width >= 0:
            raise ValueError("Expected fill_width >= 0 but got %r" % (self.fill_width,))
        for name in ("fill_every", "fill_views"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError("Expected %s to be a non-negative integer but got %r" % (name, getattr(self, name)))
        if self.outside_views < 0:
            raise ValueError("Expected outside_views >= 0 but got %d" % self.outside_views)
        for name in ("fill_holes", "fill_holes_max", "fill_holes_fraction"):
            if not getattr(self, name) >= 0:
                raise ValueError("Expected %s >= 0 but got %r" % (name, getattr(self, name)))
        if self.fill_holes_fraction > 1:
            raise ValueError("Expected fill_holes_fraction <= 1 (a fraction of the longest loop) "
                             "but got %r" % (self.fill_holes_fraction,))


@dataclasses.dataclass(eq=False)
class ReconResult:
    """Output of :func:`reconstruct`.

    Attributes:
        verts: (V, 3) float32 in the input's world frame (``views.to_world`` applied).
        faces: (F, 3) int64, wound outward.
        geometry: the final GShellGeometry (in the grid frame).
        history: list of dicts of per-step losses.
        seconds: wall time of the optimisation.
        material: the learned :class:`~gshell.recon.appearance.Material` (photometric runs),
            in the grid frame, else None.
        light: the learned environment light (photometric runs), else None.
        grid_verts: (V, 3) float32, ``verts`` in the grid frame (where ``material`` lives).
        surface: "open" or "closed", the kind of this result.
        scores: with ``surface="auto"``, the :func:`image_loss` of each kind, else None.
    """
    verts: torch.Tensor
    faces: torch.Tensor
    geometry: GShellGeometry
    history: List[dict]
    seconds: float
    material: Optional[torch.nn.Module] = None
    light: Optional[torch.nn.Module] = None
    grid_verts: Optional[torch.Tensor] = None
    surface: str = "open"
    scores: Optional[dict] = None


def upsample_field(values, res, new_res):
    """Trilinear resampling of a per-vertex field of ``TetGrid.regular(res)`` onto
    ``TetGrid.regular(new_res)``.

    Args:
        values: ((res+1)^3,) or ((res+1)^3, C) float tensor in the grid's vertex order.
    Returns:
        ((new_res+1)^3,) or ((new_res+1)^3, C) tensor.
    """
    n, m = res + 1, new_res + 1
    v = values.detach().reshape(n, n, n, -1).permute(3, 0, 1, 2)[None]  # (1, C, x, y, z)
    ax = torch.linspace(-1, 1, m, device=values.device, dtype=values.dtype)
    gx, gy, gz = torch.meshgrid(ax, ax, ax, indexing="ij")
    # grid_sample reads (x, y, z) as (W, H, D) = our (z, y, x)
    grid = torch.stack([gz, gy, gx], -1).reshape(1, m, m, m, 3)
    out = F.grid_sample(v, grid, mode="bilinear", align_corners=True)[0]  # (C, m, m, m)
    out = out.permute(1, 2, 3, 0).reshape(m ** 3, -1)
    return out.reshape(-1) if values.dim() == 1 else out


def _stage_geometry(res, prev, prev_res, cfg, device):
    grid = TetGrid.regular(res, device=device)
    if prev is None:
        p = grid.vertices
        sdf = p.norm(dim=-1) - cfg.init_radius
        msdf = torch.full((grid.num_vertices,), 0.05, device=device)
        return GShellGeometry(grid, sdf=sdf, msdf=msdf, deform=True)
    sdf = upsample_field(prev.sdf_values().detach(), prev_res, res)
    msdf = upsample_field(prev.msdf_values().detach(), prev_res, res)
    geo = GShellGeometry(grid, sdf=sdf, msdf=msdf, deform=True)
    # carry the coarse displacement over (clamped to the finer grid's bound)
    disp = upsample_field((prev.vertices() - prev.grid_vertices).detach(), prev_res, res)
    with torch.no_grad():
        geo.deform.copy_(torch.atanh((disp / geo.max_deform).clamp(-0.95, 0.95)))
    return geo


def _save_checkpoint(path, geo, step, stage, cfg, appearance=None, opt=None, gen=None, order=None,
                     history=None, seen=None):
    state = {"step": step, "stage": stage, "grid_res": geo.grid.res,
             "config": dataclasses.asdict(cfg), "state_dict": geo.state_dict()}
    if opt is not None:
        state.update(optimizer=opt.state_dict(), generator=gen.get_state(), order=order,
                     history=history, seen=seen)
    if appearance is not None:
        state["appearance"] = (appearance[0].state_dict(), appearance[1].state_dict())
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def _load_checkpoint(path, cfg, device):
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same error to the user
        raise ValueError("Expected a gshell checkpoint in %s but it could not be read (%s)" % (path, e)) from None
    if not isinstance(state, dict) or "optimizer" not in state:
        raise ValueError("Expected a resumable gshell checkpoint in %s but it holds no optimiser state" % path)
    if state.get("config") != dataclasses.asdict(cfg):
        raise ValueError("Expected %s to come from the same settings to resume but they differ; "
                         "remove it or run with the settings it was made with" % path)
    return state


def _losses(geo, out, views, cfg, carve_on, backend, unseen=None, appearance=None, gen=None,
            photo=None, idx=None):
    """All terms of one step. Returns (total, dict of floats)."""
    dev = out.verts.device
    terms = {}
    if out.faces.shape[0] == 0:
        # nothing to render: only the regulariser can bring the surface back
        total = geo.sdf_reg_loss() * cfg.w_sdf_reg + (geo.sdf_values().clamp(min=0).mean())
        return total, {"empty": 1.0}
    b = render_buffers(out.verts, out.faces, views.mvp, views.campos, views.resolution,
                       attrs=out.msdf[:, None], backend=backend)
    t_mask = views.mask
    terms["mask"] = F.mse_loss(b["mask"], t_mask)
    covered, t_cov = b["covered"], t_mask > 0.5
    both = covered & t_cov
    # carve pixels: the current surface shows where the target clearly has none (outside the
    # target mask dilated by carve_margin pixels), or where the target sees a back face
    # (the inside of an opening) clearly behind the rendered front face
    r = int(cfg.carve_margin)
    near = F.max_pool2d(t_cov[:, None].float(), 2 * r + 1, stride=1, padding=r)[:, 0] > 0 if r > 0 else t_cov
    carve = covered & ~near
    if views.depth is not None and views.normal is not None:
        # (not in front of it: a thick wall's inner side is carved too, revealing the sheet)
        behind = views.depth > b["depth"].detach() - cfg.carve_depth
        t_back = (views.normal * b["view_dir"]).sum(-1) < -0.1
        p_front = (b["normal"].detach() * b["view_dir"]).sum(-1) > 0.1
        carve = carve | (both & behind & t_back & p_front)
    if photo is not None and carve_on:
        off = photo.inconsistent(b["xyz"], both, idx)
        terms["photo_carve"] = off.float().mean()
        carve = carve | off
    fit = both & ~carve
    nfit = fit.sum().clamp(min=1)
    total = cfg.w_mask * terms["mask"]
    if appearance is not None and views.rgb is not None:
        from gshell.recon.appearance import render_rgb
        from gshell.render.color import tonemap

        material, light = appearance
        rgb, mat = render_rgb(b, out.verts, out.faces, material, light, backend=backend)
        terms["rgb"] = (tonemap(rgb) - tonemap(views.rgb)).abs().mean()
        with torch.no_grad():
            mse = (rgb.clamp(0, 1) - views.rgb.clamp(0, 1)).square().mean()
            terms["psnr"] = -10 * torch.log10(mse.clamp(min=1e-10))
        total = total + cfg.w_rgb * terms["rgb"]
        if cfg.w_material_smooth and bool(b["covered"].any()):
            p = b["xyz"][b["covered"]].detach()
            p = p[torch.randperm(p.shape[0], generator=gen)[:4096].to(p.device)]
            terms["material_smooth"] = material.smoothness(p, generator=gen)
            total = total + cfg.w_material_smooth * terms["material_smooth"]
    if views.depth is not None:
        terms["depth"] = ((b["depth"] - views.depth).abs() * fit).sum() / nfit
        total = total + cfg.w_depth * terms["depth"]
    if views.normal is not None:
        terms["normal"] = ((b["normal"] - views.normal).abs().sum(-1) * fit).sum() / nfit
        total = total + cfg.w_normal * terms["normal"]
    if cfg.w_keep and views.depth is not None and views.normal is not None:
        terms["keep"] = _keep_loss(out, views, cfg, backend)
        total = total + cfg.w_keep * terms["keep"]
    if carve_on:
        m = b["attrs"][..., 0]
        terms["carve"] = (F.relu(m + 0.01) * carve).sum() / carve.numel()
        total = total + cfg.w_carve * terms["carve"]
        if cfg.w_open:
            total = total + cfg.w_open * geo.msdf_open_loss(out)
        if cfg.w_msdf_smooth:
            terms["smooth"] = _msdf_smoothness(geo, out)
            total = total + cfg.w_msdf_smooth * terms["smooth"]
        if unseen is not None and cfg.w_unseen and bool(unseen.any()):
            m = take(geo.msdf_values(), unseen)
            terms["unseen"] = F.huber_loss(m.clamp(min=-1e-3), torch.full_like(m, -1e-3), reduction="sum")
            total = total + cfg.w_unseen * geo._reg_scale() * terms["unseen"]
        # close holes on the visible surface only
        vis = torch.zeros(out.verts.shape[0], dtype=torch.bool, device=dev)
        tid = b["rast"][..., 3].detach().long() - 1
        seen = torch.unique(tid[fit])
        vis[out.faces[seen].reshape(-1)] = True
        total = total + cfg.w_close * geo.msdf_close_loss(out, vertex_mask=vis)
    return total, {k: float(v.detach()) for k, v in terms.items()}


@torch.no_grad()
def free_space_weights(points, views, margin_px=3, depth_margin=0.0, chunk=8):
    """Space carving: how surely each point is empty, from the target masks (and depths).

    A point is *free* in a view when it projects inside the image and in front of the camera,
    and either outside the target mask dilated by ``margin_px`` pixels, or (with depth targets)
    on a covered pixel more than ``depth_margin`` in front of the target surface (the depth
    compared is the smallest of the pixel's 3x3 neighbourhood, so that silhouettes do not carve).

    Args:
        points: (N, 3) float32 positions in the views' frame.
        views: :class:`Views` (mask; depth used when present).
    Returns:
        (N,) float32 in [0, 1]: the number of views in which the point is free, over 2, clamped
        (one view is half the evidence: a single wrong mask cannot carve the shape away).
    """
    from gshell import _checks

    _checks.tensor("points", points, dims=2, shape=(None, 3), dtypes=_checks.FLOATS)
    if not isinstance(views, Views):
        raise TypeError("Expected views to be a gshell.recon.Views but got %s" % type(views).__name__)
    if int(margin_px) != margin_px or margin_px < 0:
        raise ValueError("Expected margin_px to be a non-negative integer but got %r" % (margin_px,))
    n = points.shape[0]
    votes = torch.zeros(n, device=points.device)
    hom = torch.cat([points, torch.ones_like(points[:, :1])], 1)
    r = int(margin_px)
    for s in range(0, len(views), chunk):
        v = views.subset(list(range(s, min(s + chunk, len(views)))))
        cov = (v.mask > 0.5).float()[:, None]
        near = F.max_pool2d(cov, 2 * r + 1, stride=1, padding=r) if r > 0 else cov
        clip = torch.einsum("bij,nj->bni", v.mvp, hom)  # (B, N, 4)
        w = clip[..., 3]
        ndc = clip[..., :2] / w.clamp(min=1e-9)[..., None]
        inside = (w > 1e-6) & (ndc.abs() <= 1).all(-1)
        grid = ndc[:, :, None, :]  # (B, N, 1, 2); row 0 is y = -1, as the rasterizer's
        near_at = F.grid_sample(near, grid, mode="nearest", align_corners=False)[:, 0, :, 0] > 0.5
        free = inside & ~near_at
        if v.depth is not None and depth_margin >= 0:
            d = torch.where(cov[:, 0] > 0, v.depth, torch.full_like(v.depth, float("inf")))
            dmin = -F.max_pool2d(-d[:, None], 3, stride=1, padding=1)
            dmin = torch.where(cov > 0, dmin, torch.zeros_like(dmin))  # uncovered: no depth test
            d_at = F.grid_sample(dmin, grid, mode="nearest", align_corners=False)[:, 0, :, 0]
            dist = (points[None] - v.campos[:, None]).norm(dim=-1)
            free |= inside & (d_at > 0) & (dist < d_at - depth_margin)
        votes += free.float().sum(0)
    return (votes / 2).clamp(max=1)


class PhotoCheck:
    """Photo-consistency of surface points across the target photographs (space carving by
    colour, after Kutulakos and Seitz): a point of the current surface that the photographs
    in which it is visible show in clearly different colours is not on the object. That is how
    a lid across an opening, or the inner layer of a wall that only the openings show, is
    told from the real surface when there are no depth targets: from every camera it covers
    the object's own silhouette, but each camera sees another part of the object through it.

    Built once per stage from the stage's views; :meth:`refresh` renders the current surface's
    depth in every view (visibility), :meth:`inconsistent` tests the pixels of a batch.

    Args:
        views: the stage's :class:`Views` with ``rgb``.
        threshold: a view disagrees when the point's colour (sRGB) lies further than this,
            averaged over channels, from the range of colours in the 3x3 pixels around its
            projection (tolerant to a pixel of misregistration).
        tol: a point is visible in a view when it lies at most this far behind the rendered
            surface there.
    """

    def __init__(self, views, threshold=0.1, tol=0.05):
        import math

        from gshell.render.color import linear_to_srgb

        if not isinstance(views, Views) or views.rgb is None:
            raise ValueError("Expected views to be a gshell.recon.Views with rgb images but got %s"
                             % ("one without rgb" if isinstance(views, Views) else type(views).__name__))
        for name, x in (("threshold", threshold), ("tol", tol)):
            if not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
                raise ValueError("Expected %s to be a positive number but got %r" % (name, x))
        self.views, self.threshold, self.tol = views, float(threshold), float(tol)
        c = linear_to_srgb(views.rgb.clamp(0, 1)).permute(0, 3, 1, 2)  # (N, 3, H, W)
        self.lo = -F.max_pool2d(-c, 3, stride=1, padding=1)
        self.hi = F.max_pool2d(c, 3, stride=1, padding=1)
        self.srgb = c
        cov = (views.mask > 0.5).float()[:, None]
        self.inner = -F.max_pool2d(-cov, 5, stride=1, padding=2)  # mask eroded by 2 px
        self.depth = None

    @torch.no_grad()
    def refresh(self, out, backend):
        ds = []
        for s in range(0, len(self.views), 8):
            v = self.views.subset(list(range(s, min(s + 8, len(self.views)))))
            b = render_buffers(out.verts.detach(), out.faces, v.mvp, v.campos, v.resolution,
                               antialias_mask=False, backend=backend)
            ds.append(b["depth"])
        self.depth = torch.cat(ds)[:, None]

    @torch.no_grad()
    def inconsistent(self, xyz, covered, idx):
        """(B, H, W) bool: covered pixels of the batch views ``idx`` whose surface point (``xyz``,
        (B, H, W, 3)) at least two other views see, and most of those disagree on its colour."""
        bad = torch.zeros_like(covered)
        if self.depth is None:
            return bad
        v = self.views
        hom = lambda p: torch.cat([p, torch.ones_like(p[:, :1])], 1)  # noqa: E731
        for b, i in enumerate(idx.tolist()):
            sel = covered[b] & (self.inner[i, 0] > 0.5)
            if not bool(sel.any()):
                continue
            p = xyz[b][sel].detach()  # (M, 3)
            c0 = self.srgb[i].permute(1, 2, 0)[sel]  # (M, 3)
            clip = torch.einsum("nij,mj->nmi", v.mvp, hom(p))  # (N, M, 4)
            ndc = clip[..., :2] / clip[..., 3:4].clamp(min=1e-9)
            inside = (clip[..., 3] > 1e-6) & (ndc.abs() < 1).all(-1)
            inside[i] = False
            g = ndc[:, :, None, :]

            def at(img, mode="nearest"):
                return F.grid_sample(img, g, mode=mode, align_corners=False)[:, :, :, 0]  # (N, C, M)

            dist = (p[None] - v.campos[:, None]).norm(dim=-1)
            seen = inside & (at(self.inner)[:, 0] > 0.5) & (at(self.depth)[:, 0] > 0)
            seen &= dist < at(self.depth)[:, 0] + self.tol
            lo, hi = at(self.lo), at(self.hi)  # (N, 3, M)
            c = c0.T[None]
            diff = (F.relu(lo - c) + F.relu(c - hi)).mean(1)  # (N, M)
            n_seen = seen.sum(0)
            n_bad = (seen & (diff > self.threshold)).sum(0)
            flag = (n_bad >= 2) & (2 * n_bad > n_seen)
            bad[b][sel] = flag
        return bad


def _free_loss(geo, free, margin=0.01):
    """Hinge pushing the SDF of free grid vertices (weights from :func:`free_space_weights`)
    above ``margin``: the empty space the views prove is outside the shape."""
    sdf = geo.sdf_values()
    return (free * F.relu(margin - sdf)).sum() / free.sum().clamp(min=1)


def _keep_loss(out, views, cfg, backend):
    """The inverse of the carve, on the watertight template (depth and normal targets only).

    Where the template's frontmost surface is a front face at the target's depth on a pixel
    where the target shows a front face, that surface is the target's: its rendered mSDF is
    pushed above zero, so that surface cut while the template was still settling comes back.

    Returns:
        scalar tensor.
    """
    wb = render_buffers(out.watertight_verts.detach(), out.watertight_faces, views.mvp,
                        views.campos, views.resolution, attrs=out.watertight_msdf[:, None],
                        antialias_mask=False, backend=backend)
    t_front = (views.mask > 0.5) & ((views.normal * wb["view_dir"]).sum(-1) > 0.1)
    p_front = (wb["normal"] * wb["view_dir"]).sum(-1) > 0.1
    same = (wb["depth"] - views.depth).abs() < cfg.carve_depth
    ok = t_front & wb["covered"] & p_front & same
    return (F.relu(0.01 - wb["attrs"][..., 0]) * ok).sum() / ok.numel()


def _msdf_smoothness(geo, out):
    """Mean squared mSDF difference over grid edges in the surface band (corners of tets that
    hold faces): keeps the cut a smooth curve without speckle holes."""
    grid = geo.grid
    band = torch.zeros(grid.num_vertices, dtype=torch.bool, device=out.verts.device)
    band[grid.tets[out.face_tet].reshape(-1)] = True
    e = grid.kernel_tables()[1]
    e = e[band[e[:, 0].long()] & band[e[:, 1].long()]].long()
    m = geo.msdf_values()
    return (take(m, e[:, 0]) - take(m, e[:, 1])).square().mean() / grid.spacing ** 2 if e.numel() else m.sum() * 0


@torch.no_grad()
def _seen_tets(out, views, res, num_tets, backend):
    """(T,) bool over grid tets: holds a face visible in at least one view (at ``res``^2)."""
    from gshell.render import rasterize, transform_pos

    seen = torch.zeros(num_tets, dtype=torch.bool, device=out.verts.device)
    tri = out.faces.to(torch.int32)
    for s in range(0, len(views), 8):
        pos = transform_pos(views.mvp[s:s + 8], out.verts.detach())
        tid = rasterize(pos, tri, (res, res), backend=backend)[..., 3].long() - 1
        ids = torch.unique(tid[tid >= 0])
        seen[out.face_tet[ids]] = True
    return seen


def _outside_cameras(n, device):
    """``n`` virtual cameras on a sphere around the tet grid's cube, each seeing all of it."""
    from gshell.recon.views import sphere_cameras

    mvp, campos = sphere_cameras(n, distance=3.0, fovy=40.0, near=0.5, far=6.0)
    return _Cameras(mvp.to(device))


@dataclasses.dataclass
class _Cameras:
    mvp: torch.Tensor

    def __len__(self):
        return self.mvp.shape[0]


def _unseen_grid_vertices(out, seen_tets, grid):
    """(N,) bool over grid vertices: corners of tets that hold open-mesh faces, none of them a
    corner of a tet seen in any view (so surface next to seen surface is never pushed)."""
    tets = grid.tets
    seen_v = torch.zeros(grid.num_vertices, dtype=torch.bool, device=tets.device)
    seen_v[tets[seen_tets].reshape(-1)] = True
    band = torch.zeros_like(seen_v)
    band[tets[out.face_tet].reshape(-1)] = True
    return band & ~seen_v


@torch.no_grad()
def _restore_holes(geo, out, views, cfg, backend):
    """Raises the mSDF where the optimisation cut away surface that the views show closed.

    A face of the watertight template is *confirmed* when, in some view, it is the frontmost
    surface at a pixel the target covers with its front side at about the same depth, and
    *contested* when, in some view, it is frontmost at a carve pixel (outside the dilated target
    mask, or the target shows a back face or a surface behind it). The grid vertices of the tets of
    confirmed, cut faces get a positive mSDF, except corners of tets with contested faces.

    Returns:
        the number of grid vertices raised.
    """
    from gshell.render import rasterize, transform_pos

    grid = geo.grid
    wv, wf = out.watertight_verts.detach(), out.watertight_faces
    nf = wf.shape[0]
    confirmed = torch.zeros(nf, dtype=torch.bool, device=wv.device)
    contested = torch.zeros_like(confirmed)
    tri = wf.to(torch.int32).contiguous()
    r = int(cfg.carve_margin)
    for s in range(0, len(views), 8):
        v = views.subset(list(range(s, min(s + 8, len(views)))))
        b = render_buffers(wv, wf, v.mvp, v.campos, v.resolution, antialias_mask=False, backend=backend)
        tid = b["rast"][..., 3].long() - 1
        cov, t_cov = b["covered"], v.mask > 0.5
        near = F.max_pool2d(t_cov[:, None].float(), 2 * r + 1, stride=1, padding=r)[:, 0] > 0 if r > 0 else t_cov
        t_back = (v.normal * b["view_dir"]).sum(-1) < -0.1
        p_front = (b["normal"] * b["view_dir"]).sum(-1) > 0.1
        behind = v.depth > b["depth"] + cfg.carve_depth
        same = (v.depth - b["depth"]).abs() <= cfg.carve_depth
        bad = cov & (~near | (t_cov & p_front & (t_back | behind)))
        good = cov & t_cov & p_front & ~t_back & same
        contested[torch.unique(tid[bad])] = True
        confirmed[torch.unique(tid[good])] = True
    del tri
    msdf_w = out.watertight_msdf.detach()
    cut = (msdf_w[wf] <= 0).any(-1)
    restore = confirmed & ~contested & cut
    if not bool(restore.any()):
        return 0
    tets = grid.tets
    keep_out = torch.zeros(grid.num_vertices, dtype=torch.bool, device=tets.device)
    keep_out[tets[out.watertight_face_tet[contested]].reshape(-1)] = True
    raise_v = torch.zeros_like(keep_out)
    raise_v[tets[out.watertight_face_tet[restore]].reshape(-1)] = True
    raise_v &= ~keep_out
    m = geo.msdf_values().detach()
    raise_v &= m <= 0
    if geo.msdf_net is not None or not bool(raise_v.any()):
        return 0
    with torch.no_grad():
        geo.msdf[raise_v] = 0.01
    return int(raise_v.sum())


@torch.no_grad()
def _drop_unseen(geo, out, views, min_views, backend):
    """Cuts surface that fewer than ``min_views`` of the views see (image sets): the grid
    vertices of tets whose faces are all seen by fewer views get a negative mSDF. Returns the
    number of grid vertices lowered."""
    from gshell.render import rasterize, transform_pos

    if geo.msdf_net is not None:
        return 0
    nf = out.faces.shape[0]
    count = torch.zeros(nf, dtype=torch.long, device=out.verts.device)
    tri = out.faces.to(torch.int32).contiguous()
    for s in range(0, len(views), 8):
        pos = transform_pos(views.mvp[s:s + 8], out.verts.detach())
        tid = rasterize(pos, tri, views.resolution, backend=backend)[..., 3].long() - 1
        for b in range(tid.shape[0]):
            count[torch.unique(tid[b][tid[b] >= 0])] += 1
    grid = geo.grid
    tet_count = torch.zeros(grid.num_tets, dtype=torch.long, device=count.device)
    tet_count.scatter_reduce_(0, out.face_tet, count, reduce="amax")
    seen_v = torch.zeros(grid.num_vertices, dtype=torch.bool, device=count.device)
    seen_v[grid.tets[tet_count >= min_views].reshape(-1)] = True
    band = torch.zeros_like(seen_v)
    band[grid.tets[out.face_tet].reshape(-1)] = True
    lower = band & ~seen_v & (geo.msdf.detach() > -0.01)
    geo.msdf[lower] = -0.01
    return int(lower.sum())


@torch.no_grad()
def fill_hidden(geo, views, n_outside=96, resolution=256, margin=0.25, min_views=1):
    """Grid vertices outside the surface (positive SDF) that fewer than ``min_views`` cameras see
    in front of it get a negative SDF. Cavities, bubbles and the tunnels of a sponge inside the
    shape, which no photograph can carve, become solid; what any camera sees empty stays empty.

    The cameras are the views' and ``n_outside`` virtual ones on a sphere around the grid
    (undersides the views miss). A vertex is seen empty in a camera when it projects into the
    image on a pixel the surface leaves uncovered, or lies more than ``margin`` grid spacings in
    front of the rendered surface.

    Returns:
        the number of grid vertices changed.
    """
    from gshell.recon.views import sphere_cameras

    if geo.sdf_net is not None:
        return 0
    out = geo()
    wv, wf = out.watertight_verts.detach(), out.watertight_faces
    sdf = geo.sdf.detach()
    cand = torch.nonzero(sdf > 0).squeeze(1)
    if wf.shape[0] == 0 or cand.numel() == 0:
        return 0
    p = geo.vertices().detach()[cand]
    hom = torch.cat([p, torch.ones_like(p[:, :1])], 1)
    mvp_o, campos_o = sphere_cameras(n_outside, distance=3.0, fovy=40.0, near=0.5, far=6.0)
    mvps = torch.cat([views.mvp, mvp_o.to(views.mvp)]) if n_outside else views.mvp
    campos = torch.cat([views.campos, campos_o.to(views.campos)]) if n_outside else views.campos
    free = torch.zeros(cand.numel(), dtype=torch.long, device=sdf.device)
    tol = margin * geo.grid.spacing
    for s in range(0, mvps.shape[0], 8):
        mvp, cp = mvps[s:s + 8], campos[s:s + 8]
        b = render_buffers(wv, wf, mvp, cp, (resolution, resolution), antialias_mask=False)
        clip = torch.einsum("bij,nj->bni", mvp, hom)
        w = clip[..., 3]
        ndc = clip[..., :2] / w.clamp(min=1e-9)[..., None]
        inside = (w > 1e-6) & (ndc.abs() <= 1).all(-1)
        d = torch.where(b["covered"], b["depth"], torch.full_like(b["depth"], float("inf")))
        d_at = F.grid_sample(d[:, None], ndc[:, :, None, :], mode="nearest",
                             align_corners=False)[:, 0, :, 0]
        dist = (p[None] - cp[:, None]).norm(dim=-1)
        free += (inside & (dist < d_at - tol)).sum(0)
    hidden = cand[free < min_views]
    geo.sdf[hidden] = -sdf[hidden].clamp(min=1e-4)
    return int(hidden.numel())


def _fill_solid(geo, views, cfg):
    width = max(1, round(cfg.fill_width / geo.grid.spacing)) if cfg.fill_width > 0 else 0
    return fill_pockets(geo, width) + fill_hidden(geo, views, min_views=cfg.fill_views)


@torch.no_grad()
def fill_pockets(geo, width=1):
    """Grid vertices outside the surface (positive SDF) that the outside reaches only through channels narrower than about ``2 * width + 1`` grid vertices (the
    tunnels and bubbles of a sponge inside the shape) get a negative SDF. The outside is the
    morphological opening of the positive vertices (erosion and dilation by a ball of radius
    ``width`` spacings) that is connected to the grid's border. Returns the number changed."""
    import numpy as np
    from scipy import ndimage

    if geo.sdf_net is not None:
        return 0
    sdf = geo.sdf.detach()
    n = geo.grid.res + 1
    pos = (sdf > 0).reshape(n, n, n).cpu().numpy()
    r = int(width)
    ax = np.arange(-r, r + 1)
    ball = (ax[:, None, None] ** 2 + ax[None, :, None] ** 2 + ax[None, None, :] ** 2) <= r * r
    core = ndimage.binary_erosion(pos, ball, border_value=1)
    lab, _ = ndimage.label(core)
    rim = np.zeros_like(core)
    rim[[0, -1]] = rim[:, [0, -1]] = rim[:, :, [0, -1]] = True
    ext = np.isin(lab, np.unique(lab[rim & core]))
    ext = ndimage.binary_dilation(ext, ball) & pos
    pocket = torch.from_numpy((pos & ~ext).reshape(-1)).to(sdf.device)
    geo.sdf[pocket] = -sdf[pocket].clamp(min=1e-4)
    return int(pocket.sum())


def drop_small_components(verts, faces, min_fraction):
    """Removes connected components (by shared vertices) with fewer than ``min_fraction`` of
    the faces, and the vertices no face uses.

    Returns:
        verts (V', 3), faces (F', 3) int64.
    """
    from gshell.ops.mesh_components import connected_components

    if faces.shape[0] == 0 or min_fraction <= 0:
        return verts, faces
    e = faces[:, [[0, 1], [1, 2]]].reshape(-1, 2)
    lab = connected_components(e, verts.shape[0])
    flab = lab[faces[:, 0]]
    counts = torch.bincount(flab)
    keep = counts[flab] >= min_fraction * faces.shape[0]
    faces = faces[keep]
    used = torch.zeros(verts.shape[0], dtype=torch.bool, device=verts.device)
    used[faces.reshape(-1)] = True
    remap = torch.cumsum(used.long(), 0) - 1
    return verts[used], remap[faces]


def fill_small_holes(verts, faces, max_perimeter, relative_perimeter=0.0, fraction=0.0):
    """Closes boundary loops shorter than ``max_perimeter`` with a fan around their centroid,
    wound like the faces around them (pinholes left by the optimisation; the grid cannot resolve
    real holes that small anyway).

    Args:
        verts: (V, 3) float. faces: (F, 3) int64, consistently oriented.
        max_perimeter: loops with a total edge length below this are filled.
        relative_perimeter, fraction: loops shorter than ``relative_perimeter`` are filled
            too when they are also shorter than ``fraction`` times the longest loop (which this
            rule therefore never fills).
    Returns:
        verts (V + H, 3), faces (F + sum of loop lengths, 3), and the number of loops filled.
    """
    from gshell.ops.mesh_components import connected_components

    if faces.shape[0] == 0 or (max_perimeter <= 0 and (relative_perimeter <= 0 or fraction <= 0)):
        return verts, faces, 0
    nv = verts.shape[0]
    d = faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)  # directed edges as the faces run them
    key = torch.minimum(d[:, 0], d[:, 1]) * nv + torch.maximum(d[:, 0], d[:, 1])
    _, inv, counts = torch.unique(key, return_inverse=True, return_counts=True)
    be = d[counts[inv] == 1]
    if be.shape[0] == 0:
        return verts, faces, 0
    bv, local = torch.unique(be.reshape(-1), return_inverse=True)
    lab = connected_components(local.view(-1, 2), bv.shape[0])
    elab = lab[local.view(-1, 2)[:, 0]]
    n_loops = int(lab.max()) + 1
    length = (verts[be[:, 0]] - verts[be[:, 1]]).norm(dim=-1)
    perim = torch.zeros(n_loops, dtype=length.dtype, device=length.device).index_add_(0, elab, length)
    small = perim < max_perimeter
    if relative_perimeter > 0 and fraction > 0:
        small |= (perim < relative_perimeter) & (perim < fraction * perim.max())
    if not bool(small.any()):
        return verts, faces, 0
    # centroid of each small loop (mean of its boundary vertices)
    vsum = torch.zeros(n_loops, 3, dtype=verts.dtype, device=verts.device).index_add_(0, lab, verts[bv])
    vcnt = torch.bincount(lab, minlength=n_loops).clamp(min=1).to(verts.dtype)
    centers = (vsum / vcnt[:, None])[small]
    new_id = torch.full((n_loops,), -1, dtype=torch.long, device=faces.device)
    new_id[small] = nv + torch.arange(int(small.sum()), device=faces.device)
    pick = small[elab]
    e = be[pick]
    fan = torch.stack([e[:, 1], e[:, 0], new_id[elab[pick]]], -1)
    return torch.cat([verts, centers]), torch.cat([faces, fan]), int(small.sum())


def reconstruct(views, config=None, out_dir=None, quiet=False, backend="auto", device=None,
                resume=False):
    """Reconstructs a surface (open or closed) from calibrated target views.

    Args:
        views: :class:`Views` (masks; depth and normals when available).
        config: :class:`ReconConfig` (default: the demo's settings).
        out_dir: folder for checkpoints (``checkpoint.pt``; ``checkpoint_open.pt`` and
            ``checkpoint_closed.pt`` with ``surface="auto"``) when ``config.checkpoint_every``.
        quiet: no progress bar.
        resume: continue from the checkpoints in ``out_dir`` where they exist (same config).
        backend: rasterizer backend, see :func:`gshell.render.rasterize`.
        device: torch device (default: the views' device).
    Returns:
        ReconResult.

    Example:
        >>> views = synthetic_views(verts, faces, n_views=24, resolution=192)
        >>> result = reconstruct(views)
        >>> gshell.io.write_ply("recon.ply", result.verts, result.faces)
    """
    if not isinstance(views, Views):
        raise TypeError("Expected views to be a gshell.recon.Views but got %s" % type(views).__name__)
    cfg = config if config is not None else ReconConfig()
    if not isinstance(cfg, ReconConfig):
        raise TypeError("Expected config to be a ReconConfig but got %s" % type(cfg).__name__)
    device = torch.device(device) if device is not None else views.mvp.device
    views = views.to(device)
    if cfg.surface == "auto" and (views.rgb is None or cfg.w_rgb <= 0):
        cfg = dataclasses.replace(cfg, surface="open")
    if cfg.surface != "auto":
        return _reconstruct(views, cfg, out_dir, quiet, backend, resume, "checkpoint.pt")
    results, scores = {}, {}
    for kind in ("open", "closed"):
        results[kind] = _reconstruct(views, dataclasses.replace(cfg, surface=kind), out_dir, quiet,
                                     backend, resume, "checkpoint_%s.pt" % kind)
        scores[kind] = image_loss(results[kind], views, cfg, backend)
    best = "closed" if scores["closed"] < (1 - cfg.closed_margin) * scores["open"] else "open"
    result = results[best]
    result.scores = scores
    result.seconds = sum(r.seconds for r in results.values())
    return result


@torch.no_grad()
def image_loss(result, views, cfg, backend="auto", batch=4):
    """How well a photometric result explains the training photographs: ``w_rgb`` times the
    mean L1 of tone-mapped colour plus ``w_mask`` times the mask's mean squared error, over all
    views at the last stage's image resolution (the training loss without regularisers). What
    ``surface="auto"`` compares its open and closed results by."""
    from gshell.recon.appearance import render_rgb
    from gshell.render.color import tonemap

    if result.faces.shape[0] == 0:
        return float("inf")
    views = views.resized(_stage_resolution(views, cfg.image_res[-1]))
    v, f = result.grid_verts, result.faces
    total = 0.0
    for s in range(0, len(views), batch):
        vv = views.subset(list(range(s, min(s + batch, len(views)))))
        b = render_buffers(v, f, vv.mvp, vv.campos, vv.resolution, backend=backend)
        loss = cfg.w_mask * (b["mask"] - vv.mask).square().mean((1, 2))
        if result.material is not None and vv.rgb is not None:
            rgb, _ = render_rgb(b, v, f, result.material, result.light, backend=backend)
            loss = loss + cfg.w_rgb * (tonemap(rgb) - tonemap(vv.rgb)).abs().mean((1, 2, 3))
        total += float(loss.sum())
    return total / len(views)


def _reconstruct(views, cfg, out_dir, quiet, backend, resume, ckpt_name):
    device = views.mvp.device
    gen = torch.Generator().manual_seed(cfg.seed)
    total_steps = sum(cfg.steps)
    carve_from = int(cfg.carve_start * total_steps)
    history, geo, prev_res, step = [], None, None, 0
    t0 = time.perf_counter()
    outside = (_outside_cameras(cfg.outside_views, device)
               if cfg.outside_views and views.depth is not None else None)
    ckpt = os.path.join(out_dir, ckpt_name) if out_dir and cfg.checkpoint_every else None
    appearance = _appearance(cfg, device) if views.rgb is not None and cfg.w_rgb > 0 else None
    state = _load_checkpoint(ckpt, cfg, device) if resume and ckpt and os.path.exists(ckpt) else None
    bar = _progress_bar(total_steps, quiet, cfg.surface)
    for stage, (res, n_steps, img_res) in enumerate(zip(cfg.grid_res, cfg.steps, cfg.image_res)):
        if state is not None and stage < state["stage"]:
            prev_res, step = res, step + n_steps
            bar.update(n_steps)
            continue
        geo = _stage_geometry(res, geo, prev_res, cfg, device)
        prev_res = res
        stage_views = views.resized(_stage_resolution(views, img_res))
        photo = (PhotoCheck(stage_views, cfg.photo_threshold, 3.0 / res)
                 if cfg.photo_threshold and appearance is not None and cfg.surface == "open" else None)
        free = (free_space_weights(geo.grid.vertices, stage_views, cfg.carve_margin,
                                   1.5 * geo.grid.spacing if cfg.free_depth else -1.0)
                if cfg.w_free else None)
        groups = [{"params": [geo.sdf], "lr": cfg.lr_sdf * 32 / res},
                  {"params": [geo.msdf], "lr": cfg.lr_msdf if cfg.surface == "open" else 0.0},
                  {"params": [geo.deform], "lr": cfg.lr_deform}]
        if appearance is not None:
            groups += [{"params": list(appearance[0].parameters()), "lr": cfg.lr_material},
                       {"params": list(appearance[1].parameters()), "lr": cfg.lr_light}]
        opt = torch.optim.Adam(groups)
        base_lrs = [g["lr"] for g in opt.param_groups]
        order = torch.empty(0, dtype=torch.long)
        seen = None
        first = 0
        if state is not None:  # resuming inside this stage
            geo.load_state_dict(state["state_dict"])
            if appearance is not None and "appearance" in state:
                appearance[0].load_state_dict(state["appearance"][0])
                appearance[1].load_state_dict(state["appearance"][1])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            order, history, seen = state["order"], state["history"], state.get("seen")
            first = state["step"] - step
            step = state["step"]
            bar.update(first)
            state = None
        for i in range(first, n_steps):
            frac = i / max(n_steps - 1, 1)
            for g, lr in zip(opt.param_groups, base_lrs):
                g["lr"] = lr * cfg.lr_decay ** frac
            if order.numel() < cfg.views_per_step:
                order = torch.cat([order, torch.randperm(len(views), generator=gen)])
            idx, order = order[:cfg.views_per_step], order[cfg.views_per_step:]
            out = geo()
            carve_on = step >= carve_from and cfg.surface == "open"
            if (cfg.fill_every and step >= carve_from
                    and (step - carve_from) % cfg.fill_every == 0):
                _fill_solid(geo, views, cfg)
            if carve_on and cfg.w_unseen and (seen is None or step % cfg.visibility_every == 0):
                seen = _seen_tets(out, views, min(img_res, 128), geo.grid.num_tets, backend)
                if outside is not None:
                    seen |= _seen_tets(out, outside, min(img_res, 128), geo.grid.num_tets, backend)
            unseen = _unseen_grid_vertices(out, seen, geo.grid) if carve_on and seen is not None and cfg.w_unseen else None
            if photo is not None and carve_on and (photo.depth is None or step % cfg.visibility_every == 0):
                photo.refresh(out, backend)
            loss, terms = _losses(geo, out, stage_views.subset(idx), cfg, carve_on, backend, unseen,
                                  appearance, gen, photo, idx)
            w_reg = cfg.w_sdf_reg * (1 - 0.9 * step / max(total_steps - 1, 1))
            loss = loss + w_reg * geo.sdf_reg_loss()
            if free is not None:
                terms["free"] = float(_free_loss(geo, free).detach())
                loss = loss + cfg.w_free * _free_loss(geo, free)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            params = list(geo.parameters())
            if appearance is not None:
                params += list(appearance[0].parameters()) + list(appearance[1].parameters())
            for p in params:  # a near-degenerate triangle must not poison the fields
                if p.grad is not None:
                    torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
            opt.step()
            step += 1
            terms["loss"] = float(loss.detach())
            history.append(dict(terms, step=step, res=res))
            bar.set_postfix(_postfix(res, terms), refresh=False)
            bar.update(1)
            if ckpt and step % cfg.checkpoint_every == 0:
                _save_checkpoint(ckpt, geo, step, stage, cfg, appearance, opt, gen, order, history, seen)
    bar.close()
    with torch.no_grad():
        if cfg.fill_every:
            _fill_solid(geo, views, cfg)
        out = geo()
        if (cfg.surface == "open" and cfg.restore_holes and views.depth is not None
                and views.normal is not None and out.faces.shape[0]):
            if _restore_holes(geo, out, views.resized((img_res, img_res)), cfg, backend):
                out = geo()
        if cfg.surface == "open" and cfg.drop_unseen and views.rgb is not None and out.faces.shape[0]:
            if _drop_unseen(geo, out, views.resized(_stage_resolution(views, img_res)),
                            cfg.drop_unseen, backend):
                out = geo()
        verts, faces = drop_small_components(out.verts.detach(), out.faces, cfg.min_component)
        rel = cfg.fill_holes_max * geo.grid.spacing if views.rgb is not None else 0.0
        verts, faces, _ = fill_small_holes(verts, faces, cfg.fill_holes * geo.grid.spacing, rel,
                                           cfg.fill_holes_fraction)
        to_world = views.to_world.to(verts)
        grid_verts = verts
        verts = verts @ to_world[:3, :3].T + to_world[:3, 3]
    material, light = appearance if appearance is not None else (None, None)
    return ReconResult(verts, faces, geo, history, time.perf_counter() - t0, material, light, grid_verts,
                       cfg.surface)


def _progress_bar(total, quiet, surface="open"):
    """The progress bar of :func:`reconstruct`: a tqdm bar of ``total`` steps on stderr, off
    when ``quiet`` or when stderr is not a terminal (so logs and captured output stay clean)."""
    from gshell.parallel import progress_bar

    return progress_bar(total, "reconstruct (%s)" % surface, enabled=not quiet, unit="step",
                        terminal_only=True)


def _postfix(res, terms):
    """The bar's fields: the stage's grid resolution, then those of the loss terms and the
    training PSNR (``terms``: dict of floats) that the step has, as ``%.4g``."""
    fields = {"res": res}
    fields.update((k, "%.4g" % terms[k]) for k in ("mask", "depth", "carve", "rgb", "psnr")
                  if k in terms)
    return fields


def _appearance(cfg, device):
    from gshell.recon.appearance import Material
    from gshell.render.light import SGLight, SplitSumLight

    material = Material(encoding=cfg.encoding, seed=cfg.seed).to(device)
    light = (SGLight() if cfg.light == "sg" else SplitSumLight()).to(device)
    return material, light


def _stage_resolution(views, img_res):
    """(H, W) of a stage: photographs keep their aspect ratio with the longer side ``img_res``;
    synthetic (square) views are ``img_res`` square."""
    h, w = views.resolution
    if views.K is None:
        return img_res, img_res
    s = img_res / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))

"""What a photometric reconstruction leaves in its output folder: the textured mesh (UV atlas,
baked albedo and roughness/metallic), the learned light as ``light.hdr``, a render of every test
view and the image metrics on them."""
import os

import numpy as np
import torch

__all__ = ["save_appearance", "render_views", "write_test_renders"]


@torch.no_grad()
def save_appearance(out_dir, result, texture_res=1024, light_res=(256, 512), backend="auto"):
    """Writes ``mesh.glb``, ``mesh.obj`` (+ ``.mtl``, PNGs) with baked textures and ``light.hdr``.

    Args:
        result: a photometric :class:`~gshell.recon.pipeline.ReconResult` (with ``material``,
            ``light`` and ``grid_verts``).
        texture_res: side of the square textures. light_res: (H, W) of the lat-long map.
    Returns:
        list of the written paths.
    """
    from gshell.recon.bake import bake_textures, save_textured, uv_atlas, write_hdr

    if result.material is None or result.light is None:
        raise ValueError("Expected a photometric reconstruction (with a material and a light) but "
                         "the result has none")
    material = result.material
    gv, faces = result.grid_verts, result.faces
    to_world = result.verts
    atlas_v, atlas_f, uv, vmap = uv_atlas(gv.cpu(), faces.cpu(), resolution=texture_res)
    dev = gv.device

    def fn(points):
        m = material(points.to(dev).float())
        return {"albedo": m["albedo"], "roughness": m["roughness"], "metallic": m["metallic"]}

    tex, _ = bake_textures(atlas_v.to(dev), atlas_f.to(dev), uv.to(dev), fn, resolution=texture_res,
                           backend=backend)
    world_v = to_world[vmap.to(to_world.device)]
    paths = save_textured(out_dir, world_v.cpu(), atlas_f.cpu(), uv.cpu(), tex["albedo"].cpu(),
                          tex["roughness"].cpu(), tex["metallic"].cpu())
    hdr = os.path.join(out_dir, "light.hdr")
    write_hdr(hdr, result.light.to_latlong(*light_res).detach().cpu().numpy())
    return sorted(paths.values() if isinstance(paths, dict) else paths) + [hdr]


@torch.no_grad()
def render_views(result, views, backend="auto", batch=4):
    """Renders the reconstruction under its learned material and light from ``views``' cameras
    at their resolution.

    Returns:
        rgb (N, H, W, 3) float32 linear, premultiplied by alpha; alpha (N, H, W) float32.
    """
    from gshell.recon.appearance import render_rgb
    from gshell.recon.views import render_buffers

    verts, faces = result.grid_verts, result.faces
    views = views.to(verts.device)
    rgbs, alphas = [], []
    for s in range(0, len(views), batch):
        v = views.subset(list(range(s, min(s + batch, len(views)))))
        b = render_buffers(verts, faces, v.mvp, v.campos, v.resolution, backend=backend)
        rgb, _ = render_rgb(b, verts, faces, result.material, result.light, backend=backend)
        rgbs.append(rgb)
        alphas.append(b["mask"].clamp(0, 1))
    return torch.cat(rgbs), torch.cat(alphas)


def write_test_renders(out_dir, result, views, backend="auto"):
    """Renders every view of ``views`` (the dataset's test split) into ``out_dir/test/<name>.png``
    (RGBA, sRGB, straight alpha) and measures PSNR and SSIM against the photographs, both over a
    black background (the photograph's RGB premultiplied by its mask, the render's by its
    coverage).

    Returns:
        dict: ``psnr``, ``ssim`` (means over views), ``per_view`` list, ``background``, ``files``.
    """
    from gshell import metrics
    from gshell._atomic import make_folder, write_bytes
    from gshell.io._image import encode_png
    from gshell.render.color import linear_to_srgb

    rgb, alpha = render_views(result, views, backend=backend)
    target = views.rgb.to(rgb.device)
    folder = os.path.join(out_dir, "test")
    make_folder(folder)
    names = views.names or ["%04d" % i for i in range(len(views))]
    files, per_view = [], []
    pred_s = linear_to_srgb(rgb.clamp(0, 1))
    targ_s = linear_to_srgb(target.clamp(0, 1))
    for i, name in enumerate(names):
        a = alpha[i:i + 1, ..., None]
        straight = torch.where(a > 1e-4, rgb[i:i + 1] / a.clamp(min=1e-4), torch.zeros_like(rgb[i:i + 1]))
        srgb = linear_to_srgb(straight.clamp(0, 1))[0]
        rgba = torch.cat([srgb, alpha[i][..., None]], -1)
        img = (rgba.cpu().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        path = os.path.join(folder, "%s.png" % name)
        write_bytes(path, [encode_png(img)])
        files.append(path)
        per_view.append({"name": name, "psnr": float(metrics.psnr(pred_s[i], targ_s[i])),
                         "ssim": float(metrics.ssim(pred_s[i], targ_s[i]))})
    return {"psnr": float(np.mean([p["psnr"] for p in per_view])),
            "ssim": float(np.mean([p["ssim"] for p in per_view])),
            "background": "black (sRGB images, premultiplied by mask / coverage)",
            "per_view": per_view, "files": files}

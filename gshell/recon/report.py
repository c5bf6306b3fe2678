"""Pictures of a reconstruction: target and result side by side from several views."""
import numpy as np
import torch

from gshell._atomic import write_atomic
from gshell.recon.views import Views, render_buffers

__all__ = ["shade", "comparison_image", "save_png"]


def shade(normal, mask, campos=None, xyz=None):
    """Colours surface normals for display: RGB = 0.5 + 0.5 n on a white background, darkened
    where a back face shows (when the camera and the surface points are given).

    Args:
        normal: (B, H, W, 3) float. mask: (B, H, W) float in [0, 1].
    Returns:
        (B, H, W, 3) uint8 NumPy array.
    """
    rgb = 0.5 + 0.5 * normal.detach().float().clamp(-1, 1)
    m = mask.detach().float().clamp(0, 1)[..., None]
    img = rgb * m + (1 - m)
    return (img.cpu().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)


@torch.no_grad()
def comparison_image(views, verts, faces, n=6, backend="auto"):
    """Target (top row) and reconstruction (bottom row) for ``n`` of the views.

    The target row shows the photographs when the views have RGB (over white), else the target's
    normal image when they have one, else its mask. The reconstruction's normals are rendered
    with the same cameras.

    Args:
        views: Views. verts: (V, 3) float32 in the views' (grid) frame. faces: (F, 3) int64.
    Returns:
        (2 H, n W, 3) uint8 NumPy array, rows upright.
    """
    if not isinstance(views, Views):
        raise TypeError("Expected views to be a gshell.recon.Views but got %s" % type(views).__name__)
    n = max(1, min(int(n), len(views)))
    idx = torch.linspace(0, len(views) - 1, n).round().long()
    v = views.subset(idx)
    if v.rgb is not None:
        from gshell.render.color import linear_to_srgb

        m = v.mask.clamp(0, 1)[..., None]
        img = linear_to_srgb(v.rgb.clamp(0, 1)) + (1 - m)  # premultiplied sRGB over white
        top = (img.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    elif v.normal is not None:
        top = shade(v.normal, v.mask)
    else:
        top = shade(torch.zeros(v.mask.shape + (3,)), v.mask) // 2 + 127
    if faces.shape[0]:
        b = render_buffers(verts.float().to(v.mvp.device), faces.long().to(v.mvp.device), v.mvp,
                           v.campos, v.resolution, antialias_mask=False, backend=backend)
        bottom = shade(b["normal"], b["mask"])
    else:
        bottom = np.full_like(top, 255)
    img = np.concatenate([np.concatenate(list(top), 1), np.concatenate(list(bottom), 1)], 0)
    if not views.y_down:  # OpenGL rows: row 0 is the bottom of the picture
        h = views.resolution[0]
        img = np.concatenate([img[:h][::-1], img[h:][::-1]], 0)
    return np.ascontiguousarray(img)


def save_png(path, img):
    """Writes an (H, W, 3|4) uint8 array as PNG, atomically (temporary file, then rename)."""
    from PIL import Image

    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError("Expected an (H, W, 3|4) uint8 image but got %s %s" % (img.shape, img.dtype))
    write_atomic(path, lambda tmp: Image.fromarray(img).save(tmp, format="PNG"))

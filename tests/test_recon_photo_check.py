"""Photo-consistency carving (gshell.recon.pipeline.PhotoCheck): a lid in front of a textured
object is told from the object by the colours the photographs show through it."""
import types

import torch

from gshell.recon.pipeline import PhotoCheck
from gshell.recon.views import Views, render_buffers, sphere_cameras


def _square(z, half, n=8):
    """A flat square at height z, (n+1)^2 vertices, facing +z."""
    ax = torch.linspace(-half, half, n + 1)
    x, y = torch.meshgrid(ax, ax, indexing="ij")
    v = torch.stack([x.reshape(-1), y.reshape(-1), torch.full(((n + 1) ** 2,), float(z))], -1)
    i = torch.arange(n)
    a = (i[:, None] * (n + 1) + i[None, :]).reshape(-1)
    f = torch.cat([torch.stack([a, a + n + 1, a + 1], -1), torch.stack([a + 1, a + n + 1, a + n + 2], -1)])
    return v, f


def _texture(p):
    """A colourful, non-periodic pattern on 3-D points (linear RGB in [0.05, 0.95])."""
    k = torch.tensor([[23.0, 7.0, 0.0], [-11.0, 19.0, 0.0], [5.0, -29.0, 0.0]])
    return 0.5 + 0.45 * torch.sin(p @ k.T + torch.tensor([0.0, 1.0, 2.0]))


def test_photo_check_flags_a_lid_and_not_the_surface():
    torch.manual_seed(0)
    mvp, campos = sphere_cameras(40, distance=2.0, fovy=40.0, up=(0.0, 0.0, 1.0))
    keep = campos[:, 2] > 0.8  # cameras above the square
    mvp, campos = mvp[keep], campos[keep]
    res = (96, 96)
    plane_v, plane_f = _square(0.0, 0.35)
    b = render_buffers(plane_v, plane_f, mvp, campos, res, antialias_mask=False)
    rgb = _texture(b["xyz"]) * b["covered"][..., None]
    views = Views(mvp, campos, b["covered"].float(), rgb=rgb)
    # the current surface: the object plus a lid hovering above its middle
    lid_v, lid_f = _square(0.2, 0.12, n=4)
    cur_v = torch.cat([plane_v, lid_v])
    cur_f = torch.cat([plane_f, lid_f + plane_v.shape[0]])
    check = PhotoCheck(views, threshold=0.05, tol=0.02)
    check.refresh(types.SimpleNamespace(verts=cur_v, faces=cur_f), backend="auto")
    idx = torch.arange(len(views))
    cb = render_buffers(cur_v, cur_f, mvp, campos, res, antialias_mask=False)
    bad = check.inconsistent(cb["xyz"], cb["covered"], idx)
    on_lid = cb["covered"] & (cb["xyz"][..., 2] > 0.1)
    on_plane = cb["covered"] & (cb["xyz"][..., 2] < 0.1)
    inner = check.inner[:, 0] > 0.5
    assert int(len(views)) >= 6
    assert bad[on_lid & inner].float().mean() > 0.8
    assert bad[on_plane & inner].float().mean() < 0.01
    # the object alone is consistent everywhere
    check.refresh(types.SimpleNamespace(verts=plane_v, faces=plane_f), backend="auto")
    assert not check.inconsistent(b["xyz"], b["covered"], idx).any()

"""Camera helpers with OpenGL conventions (the ones nvdiffrast's clip space expects): the camera
looks down -z with y up; projection maps the view frustum to the NDC cube [-1, 1]^3."""
import math

import torch

from gshell import _checks


def _vec3(name, x, dtype=torch.float32, device=None):
    t = torch.as_tensor(x, dtype=dtype, device=device)
    if t.shape[-1:] != (3,) or t.dim() > 2:
        raise ValueError("Expected %s of shape (3,) or (N, 3) but got %s" % (name, _checks._desc(t)))
    _checks.finite(name, t)
    return t


def _normalize(v, name):
    n = v.norm(dim=-1, keepdim=True)
    if bool((n <= 1e-12).any()):
        raise ValueError("Expected a non-degenerate %s but got a zero vector" % name)
    return v / n


def look_at(eye, center, up=(0.0, 1.0, 0.0)):
    """World-to-camera matrix of a camera at ``eye`` looking at ``center`` (OpenGL: the camera
    looks down its -z axis, y is up; ``eye`` maps to the origin).

    Args:
        eye, center, up: (3,) or (N, 3) float (tensors or sequences), broadcast together; ``up``
            must not be parallel to ``center - eye``.
    Returns:
        (4, 4) or (N, 4, 4) float32 (the dtype of ``eye`` when it is a float64 tensor).

    Example:
        >>> view = look_at((0, 0, 3), (0, 0, 0))
    """
    dtype = eye.dtype if isinstance(eye, torch.Tensor) and eye.is_floating_point() else torch.float32
    device = eye.device if isinstance(eye, torch.Tensor) else None
    eye, center, up = (_vec3(n, x, dtype, device) for n, x in (("eye", eye), ("center", center), ("up", up)))
    eye, center, up = torch.broadcast_tensors(eye, center, up)
    f = _normalize(center - eye, "view direction (center - eye)")
    s = _normalize(torch.linalg.cross(f, up), "up (parallel to the view direction)")
    u = torch.linalg.cross(s, f)
    m = torch.zeros(eye.shape[:-1] + (4, 4), dtype=dtype, device=eye.device)
    m[..., 0, :3], m[..., 1, :3], m[..., 2, :3] = s, u, -f
    m[..., 0, 3] = -(s * eye).sum(-1)
    m[..., 1, 3] = -(u * eye).sum(-1)
    m[..., 2, 3] = (f * eye).sum(-1)
    m[..., 3, 3] = 1
    return m


def perspective(fovy_deg=45.0, aspect=1.0, near=0.1, far=100.0, dtype=torch.float32, device=None):
    """OpenGL perspective projection (camera space to clip space; z/w = -1 at ``near``, +1 at ``far``).

    Args:
        fovy_deg: vertical field of view in degrees, in (0, 180).
        aspect: width / height, > 0.
        near, far: clip distances, 0 < near < far.
    Returns:
        (4, 4) tensor of ``dtype`` (float32).
    """
    fovy_deg, aspect, near, far = (float(x) for x in (fovy_deg, aspect, near, far))
    if not 0 < fovy_deg < 180:
        raise ValueError("Expected fovy_deg in (0, 180) but got %r" % fovy_deg)
    if not aspect > 0:
        raise ValueError("Expected aspect > 0 but got %r" % aspect)
    if not 0 < near < far < math.inf:
        raise ValueError("Expected 0 < near < far but got near=%r, far=%r" % (near, far))
    f = 1.0 / math.tan(math.radians(fovy_deg) / 2)
    return torch.tensor([[f / aspect, 0, 0, 0],
                         [0, f, 0, 0],
                         [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                         [0, 0, -1, 0]], dtype=dtype, device=device)


def views_on_sphere(n, radius=2.5, center=(0.0, 0.0, 0.0), fovy_deg=45.0, aspect=1.0, near=0.1, far=100.0,
                    device=None):
    """``n`` deterministic, well-spread cameras on a sphere (Fibonacci lattice), looking at ``center``.

    Args:
        n: number of views, >= 1.
        radius: distance of the cameras from ``center``, > 0.
        center: (3,) the point looked at.
        fovy_deg, aspect, near, far: as in :func:`perspective`.
    Returns:
        mvp: (n, 4, 4) float32, projection @ view (world to clip);
        eye: (n, 3) float32 camera positions.

    Example:
        >>> mvp, eye = views_on_sphere(8, radius=3.0)
        >>> pos = transform_pos(mvp, verts)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("Expected n to be an int >= 1 but got %r" % (n,))
    if not float(radius) > 0:
        raise ValueError("Expected radius > 0 but got %r" % (radius,))
    i = torch.arange(n, dtype=torch.float64) + 0.5
    y = 1 - 2 * i / n
    r = (1 - y * y).clamp_min(0).sqrt()
    phi = i * math.pi * (3 - math.sqrt(5))
    d = torch.stack([r * torch.cos(phi), y, r * torch.sin(phi)], -1)
    c = torch.as_tensor(center, dtype=torch.float64).reshape(3)
    eye = c + float(radius) * d
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand(n, 3).clone()
    up[d[:, 1].abs() > 0.999] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    view = look_at(eye, c.expand(n, 3), up)
    proj = perspective(fovy_deg, aspect, near, far, dtype=torch.float64)
    mvp = (proj @ view).float()
    return mvp.to(device), eye.float().to(device)


def transform_pos(mvp, verts):
    """Clip-space positions of ``verts`` in every view: ``[verts, 1] @ mvp^T``.

    Args:
        mvp: (4, 4) or (B, 4, 4) float32|float64.
        verts: (V, 3) or (B, V, 3) float32|float64 on mvp's device (broadcast over B).
    Returns:
        (B, V, 4) in the promoted dtype (B = 1 when both are unbatched), differentiable w.r.t.
        both.
    """
    _checks.tensor("mvp", mvp, dtypes=_checks.FLOATS)
    if mvp.dim() not in (2, 3) or mvp.shape[-2:] != (4, 4):
        raise ValueError("Expected mvp of shape (4, 4) or (B, 4, 4) but got %s" % _checks._desc(mvp))
    _checks.tensor("verts", verts, dtypes=_checks.FLOATS, device=mvp.device)
    if verts.dim() not in (2, 3) or verts.shape[-1] != 3:
        raise ValueError("Expected verts of shape (V, 3) or (B, V, 3) but got %s" % _checks._desc(verts))
    dt = torch.promote_types(mvp.dtype, verts.dtype)
    m = mvp.to(dt).reshape(-1, 4, 4)
    v = verts.to(dt).reshape((-1,) + verts.shape[-2:])
    if m.shape[0] != v.shape[0] and 1 not in (m.shape[0], v.shape[0]):
        raise ValueError("Expected mvp and verts with the same batch size (or 1) but got %s and %s"
                         % (_checks._desc(mvp), _checks._desc(verts)))
    vh = torch.cat([v, torch.ones_like(v[..., :1])], -1)
    return torch.matmul(vh, m.transpose(1, 2))

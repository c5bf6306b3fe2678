"""Learnable environment lights and physically based shading under them, in plain PyTorch (CPU and
CUDA, any leading dimensions, differentiable with respect to the light and the shading inputs).

Two light models share one interface (:class:`EnvironmentLight`):

- :class:`SplitSumLight`: a lat-long radiance map, prefiltered for a range of roughness with GGX
  lobes and for diffuse with the clamped cosine, shaded with the split-sum approximation and a DFG
  table (Karis, "Real Shading in Unreal Engine 4", SIGGRAPH 2013; the learnable variant of
  nvdiffrec: Munkberg et al., "Extracting Triangular 3D Models, Materials, and Lighting From
  Images", CVPR 2022, https://arxiv.org/abs/2111.12503).
- :class:`SGLight`: a constant plus a mixture of K spherical Gaussians, shaded in closed form
  (Wang et al., "All-Frequency Rendering of Dynamic, Spatially-Varying Reflectance", SIGGRAPH Asia
  2009; as used by PhySG, Zhang et al. CVPR 2021, https://arxiv.org/abs/2104.00674).

Both shade the BRDF of :mod:`gshell.render.shading` (GGX, height-correlated Smith, Schlick
Fresnel with ``F0 = lerp(0.04, albedo, metallic)``, Lambertian diffuse ``albedo (1 - metallic)``).

Lat-long convention (Blender's equirectangular environment texture, world coordinates, +Z up; from
Cycles' ``direction_to_equirectangular``, intern/cycles/kernel/camera/projection.h). For a unit
direction ``d = (x, y, z)``:

    u = 0.5 - atan2(y, x) / (2 pi)              in [0, 1), left to right
    v = 0.5 + atan2(z, hypot(x, y)) / pi        in [0, 1], v = 1 is +Z

so the centre of the map (u = 0.5) looks along +X, u = 0.25 along +Y, u = 0.75 along -Y and the
seam (u = 0) along -X. A map here is an (H, W, 3) tensor whose row 0 is the top (v = 1, the way
image files store it): texel (i, j) has its centre at ``u = (j + 0.5) / W``,
``v = 1 - (i + 0.5) / H``. Written as an HDR/EXR file (row 0 first) it loads as a Blender World
"Environment Texture" (equirectangular, default vector) and lights the scene the same way.
"""
import math

import torch
import torch.nn.functional as tnf
from torch import Tensor, nn

from gshell import _checks
from gshell.render import shading as _sh

__all__ = ["EnvironmentLight", "SplitSumLight", "SGLight", "latlong_directions", "direction_to_latlong",
           "latlong_solid_angles", "sample_latlong"]

_MAX_RES = 4096


# ----------------------------------------------------------------------------------------------
# The lat-long convention
# ----------------------------------------------------------------------------------------------

def _check_resolution(height, width, lo=2):
    h = _checks.integer("height", height, lo=lo, hi=_MAX_RES)
    w = _checks.integer("width", width, lo=lo, hi=2 * _MAX_RES)
    return h, w


def _dtype_arg(dtype):
    if dtype not in _checks.FLOATS:
        raise TypeError("Expected dtype torch.float32 or torch.float64 but got %r" % (dtype,))
    return dtype


def latlong_directions(height, width, device=None, dtype=torch.float32) -> Tensor:
    """Unit directions of the texel centres of an (H, W) lat-long map in Blender's convention
    (module docstring): row i at polar angle ``pi (i + 0.5) / H`` from +Z, column j at azimuth
    ``atan2(y, x) = pi - 2 pi (j + 0.5) / W``.

    Args:
        height, width: int >= 2.
        device: where the result goes (default CPU).
        dtype: torch.float32 or torch.float64.
    Returns:
        (H, W, 3) tensor of unit vectors.

    Example:
        >>> d = latlong_directions(32, 64)  # d[0] is the row next to +Z, d[:, 32] near +X
    """
    h, w = _check_resolution(height, width, lo=1)
    dtype = _dtype_arg(dtype)
    dev = _checks.device("device", device)
    theta = (torch.arange(h, dtype=torch.float64, device=dev) + 0.5) * (math.pi / h)
    phi = math.pi - (torch.arange(w, dtype=torch.float64, device=dev) + 0.5) * (2 * math.pi / w)
    st, ct = theta.sin().view(h, 1), theta.cos().view(h, 1)
    d = torch.stack([st * phi.cos(), st * phi.sin(), ct.expand(h, w)], dim=-1)
    return d.to(dtype)


def latlong_solid_angles(height, width, device=None, dtype=torch.float32) -> Tensor:
    """Exact solid angle of each texel of an (H, W) lat-long map (they sum to 4 pi).

    Args:
        height, width: int >= 1.
        device, dtype: as :func:`latlong_directions`.
    Returns:
        (H, 1) tensor: the solid angle of every texel of row i (it does not depend on the column).
    """
    h, w = _check_resolution(height, width, lo=1)
    dtype = _dtype_arg(dtype)
    dev = _checks.device("device", device)
    edges = torch.arange(h + 1, dtype=torch.float64, device=dev) * (math.pi / h)
    band = edges[:-1].cos() - edges[1:].cos()
    return (band * (2 * math.pi / w)).view(h, 1).to(dtype)


def direction_to_latlong(direction: Tensor) -> Tensor:
    """Blender's equirectangular ``(u, v)`` of directions (module docstring).

    Args:
        direction: (..., 3) float32|float64 directions (need not be unit, must not be zero).
    Returns:
        (..., 2) same dtype and device: ``u`` in [0, 1) and ``v`` in [0, 1] (1 at +Z). Its gradient
        is finite everywhere, also at the poles.
    """
    _checks.tensor("direction", direction, dtypes=_checks.FLOATS)
    if direction.dim() < 1 or direction.shape[-1] != 3:
        raise ValueError("Expected direction of shape (..., 3) but got %s" % _checks._desc(direction))
    return _uv(direction)


def _uv(d):
    x, y, z = d.unbind(-1)
    r2 = x * x + y * y
    pole = r2 < 1e-24
    xs = torch.where(pole, torch.ones_like(x), x)  # atan2(0, 0) has no gradient; any u is right there
    u = 0.5 - torch.atan2(y, xs) / (2 * math.pi)
    r = torch.where(pole, torch.zeros_like(r2), torch.where(pole, torch.ones_like(r2), r2).sqrt())
    v = 0.5 + torch.atan2(z, r) / math.pi
    return torch.stack([u % 1.0, v], dim=-1)


def _grid_xy(d, h, w):
    """grid_sample coordinates (align_corners=True) of directions (P, 3) on an (h, w + 2) map that
    has one column of wrap-around padding on each side."""
    uv = _uv(d)
    x = 2 * (uv[:, 0] * w + 0.5) / (w + 1) - 1
    y = 2 * ((1 - uv[:, 1]) * h - 0.5) / (h - 1) - 1
    return x, y


def _wrap(t):
    """Pads the last (column) dimension circularly by one texel on each side."""
    return torch.cat([t[..., -1:], t, t[..., :1]], dim=-1)


def _sample_chw(img, d):
    """Bilinear lookup of (C, H, W) ``img`` at directions (P, 3): (P, C)."""
    c, h, w = img.shape
    x, y = _grid_xy(d, h, w)
    grid = torch.stack([x, y], -1).view(1, 1, -1, 2).to(img.dtype)
    out = tnf.grid_sample(_wrap(img).unsqueeze(0), grid, mode="bilinear", padding_mode="border",
                          align_corners=True)
    return out.view(c, -1).t()


def sample_latlong(image: Tensor, direction: Tensor) -> Tensor:
    """Bilinear lookup of a lat-long map in the directions ``direction`` (wrapping around in u,
    clamped at the poles).

    Args:
        image: (H, W, C) float32|float64 map, H, W >= 2.
        direction: (..., 3) unit directions, same dtype and device.
    Returns:
        (..., C) values.
    """
    _checks.tensor("image", image, dims=3, dtypes=_checks.FLOATS)
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError("Expected image of shape (H, W, C) with H, W >= 2 but got %s" % _checks._desc(image))
    _checks.tensor("direction", direction, dtypes=(image.dtype,), device=image.device)
    if direction.dim() < 1 or direction.shape[-1] != 3:
        raise ValueError("Expected direction of shape (..., 3) but got %s" % _checks._desc(direction))
    lead = direction.shape[:-1]
    out = _sample_chw(image.permute(2, 0, 1), direction.reshape(-1, 3))
    return out.view(*lead, image.shape[2])


def _resample(image, h, w):
    """(H, W, C) lat-long map at (h, w): a solid-angle-weighted box average when (H, W) is an integer
    multiple of (h, w), a bilinear lookup at the new texel centres otherwise."""
    H, W, C = image.shape
    if (H, W) == (h, w):
        return image
    if H % h == 0 and W % w == 0:
        om = latlong_solid_angles(H, W, image.device, image.dtype)  # (H, 1)
        wsum = (image * om.unsqueeze(-1)).view(h, H // h, w, W // w, C).sum(dim=(1, 3))
        osum = om.expand(H, W).reshape(h, H // h, w, W // w).sum(dim=(1, 3))
        return wsum / osum.unsqueeze(-1)
    d = latlong_directions(h, w, image.device, image.dtype).view(-1, 3)
    return _sample_chw(image.permute(2, 0, 1), d).view(h, w, C)


def _fibonacci_sphere(k):
    i = torch.arange(k, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / k
    r = (1 - z * z).clamp_min(0).sqrt()
    phi = i * math.pi * (3 - math.sqrt(5))
    return torch.stack([r * phi.cos(), r * phi.sin(), z], -1)


# ----------------------------------------------------------------------------------------------
# The common interface
# ----------------------------------------------------------------------------------------------

class EnvironmentLight(nn.Module):
    """An environment light (distant radiance ``L(omega)``, no occlusion) and the shading of the
    GGX metallic-roughness BRDF of :mod:`gshell.render.shading` under it.

    Subclasses (:class:`SplitSumLight`, :class:`SGLight`) hold the learnable parameters. All
    radiance is linear and positive (parameters are log-radiance). Inputs of the shading calls may
    have any leading dimensions (broadcast together) and must be on the light's device in its dtype.

    Attributes:
        min_roughness: float, roughness is clamped to [min_roughness, 1] before shading (0.08).
    """

    min_roughness = 0.08

    def __init__(self):
        super().__init__()
        self.register_buffer("_dfg", _sh.dfg_lut().clone(), persistent=False)

    # -- helpers ---------------------------------------------------------------------------------

    def _ref(self):
        return self._dfg

    def _check_inputs(self, named):
        ref = self._ref()
        lead = []
        for name, t, c in named:
            _checks.tensor(name, t, dtypes=_checks.FLOATS)
            if t.dim() < 1 or t.shape[-1] != c:
                raise ValueError("Expected %s of shape (..., %d) but got %s" % (name, c, _checks._desc(t)))
            if t.dtype != ref.dtype:
                raise TypeError("Expected %s of dtype %s (the light's dtype) but got %s"
                                % (name, ref.dtype, _checks._desc(t)))
            if t.device != ref.device:
                raise ValueError("Expected %s on %s (the light's device) but got %s"
                                 % (name, ref.device, _checks._desc(t)))
            _checks.finite(name, t)
            lead.append(tuple(t.shape[:-1]))
        try:
            shape = torch.broadcast_shapes(*lead)
        except RuntimeError:
            raise ValueError("Expected %s with broadcastable leading dimensions but got shapes %s" % (
                ", ".join(n for n, _, _ in named), ", ".join(str(tuple(t.shape)) for _, t, _ in named))) from None
        flat = [t.expand(*shape, c).reshape(-1, c) for _, t, c in named]
        return shape, flat

    def _roughness(self, r):
        return r.clamp(self.min_roughness, 1.0)

    # -- public API --------------------------------------------------------------------------------

    def shade(self, normal: Tensor, view_dir: Tensor, albedo: Tensor, roughness: Tensor,
              metallic: Tensor) -> Tensor:
        """Outgoing radiance of the GGX metallic-roughness BRDF under this light:
        ``albedo (1 - metallic) diffuse(n) + specular part`` (see the subclass for how the
        specular integral is approximated).

        Args:
            normal: (..., 3) unit world-space normals.
            view_dir: (..., 3) unit vectors from the surface point towards the camera.
            albedo: (..., 3) linear base colour.
            roughness: (..., 1) perceptual roughness (``alpha = roughness^2``), clamped to
                [min_roughness, 1].
            metallic: (..., 1) clamped to [0, 1].
            All in the light's dtype (float32 by default) and on its device; leading dimensions
            broadcast together.
        Returns:
            (..., 3) linear radiance, the broadcast leading shape.

        Example:
            >>> light = SGLight(16)
            >>> rgb = light.shade(n, v, albedo, roughness, metallic)   # (H, W, 3) for (H, W, .) inputs
        """
        shape, (n, v, a, r, m) = self._check_inputs([("normal", normal, 3), ("view_dir", view_dir, 3),
                                                     ("albedo", albedo, 3), ("roughness", roughness, 1),
                                                     ("metallic", metallic, 1)])
        m = m.clamp(0.0, 1.0)
        r = self._roughness(r)
        nv = (n * v).sum(-1, keepdim=True).clamp(1e-4, 1.0)
        f0 = _sh.specular_f0(a, m)
        rgb = a * (1 - m) * self._diffuse(n) + self._shade_specular(n, v, nv, f0, r)
        return rgb.view(*shape, 3)

    def forward(self, normal, view_dir, albedo, roughness, metallic):
        """Same as :meth:`shade`."""
        return self.shade(normal, view_dir, albedo, roughness, metallic)

    def diffuse(self, normal: Tensor) -> Tensor:
        """Irradiance over pi, ``int L(l) max(n.l, 0) dl / pi``: the radiance of a white Lambertian
        surface (a constant light L gives L).

        Args:
            normal: (..., 3) unit normals (light's dtype and device).
        Returns:
            (..., 3) linear radiance.
        """
        shape, (n,) = self._check_inputs([("normal", normal, 3)])
        return self._diffuse(n).view(*shape, 3)

    def specular(self, reflected_dir: Tensor, roughness: Tensor) -> Tensor:
        """The environment prefiltered by the GGX lobe of ``roughness`` around ``reflected_dir``
        (``int L D(h) (r.l) dl / int D(h) (r.l) dl`` with n = v = r, the split-sum's first factor);
        tends to ``L(reflected_dir)`` as roughness goes to 0.

        Args:
            reflected_dir: (..., 3) unit directions, ``2 (n.v) n - v``.
            roughness: (..., 1) clamped to [min_roughness, 1] (pass min_roughness = 0 on the light to
                look up sharper lobes).
        Returns:
            (..., 3) linear radiance.
        """
        shape, (d, r) = self._check_inputs([("reflected_dir", reflected_dir, 3), ("roughness", roughness, 1)])
        return self._specular(d, self._roughness(r)).view(*shape, 3)

    def dfg(self, n_dot_v: Tensor, roughness: Tensor) -> Tensor:
        """The split-sum DFG terms from :func:`gshell.render.shading.dfg_lut`:
        ``int f_spec (n.l) dl = F0 A + B``.

        Args:
            n_dot_v: (..., 1) cosines in [0, 1].
            roughness: (..., 1) perceptual roughness in [0, 1] (not clamped).
        Returns:
            (..., 2) ``A, B``.
        """
        shape, (c, r) = self._check_inputs([("n_dot_v", n_dot_v, 1), ("roughness", roughness, 1)])
        return _sh.lookup_dfg(self._dfg, c[:, 0], r[:, 0]).view(*shape, 2)

    def to_latlong(self, height: int, width: int) -> Tensor:
        """The light as a radiance map in Blender's equirectangular convention (module docstring),
        differentiable with respect to the light's parameters.

        Args:
            height, width: int >= 2 (Blender expects width = 2 height).
        Returns:
            (H, W, 3) linear radiance, row 0 at the top (+Z), light's dtype and device.

        Example:
            >>> import imageio.v3 as iio
            >>> iio.imwrite("light.hdr", light.to_latlong(256, 512).detach().cpu().numpy())
        """
        h, w = _check_resolution(height, width)
        return self._to_latlong(h, w)

    @torch.no_grad()
    def from_latlong(self, image: Tensor):
        """Sets the light to approximate a lat-long radiance map (Blender's convention).

        Args:
            image: (H, W, 3) float32|float64 non-negative finite linear radiance, H, W >= 2, any
                device (it is moved to the light's).
        Returns:
            self.
        """
        _checks.tensor("image", image, dims=3, dtypes=_checks.FLOATS, shape=(None, None, 3))
        if image.shape[0] < 2 or image.shape[1] < 2:
            raise ValueError("Expected image of shape (H, W, 3) with H, W >= 2 but got %s" % _checks._desc(image))
        _checks.finite("image", image)
        if bool((image < 0).any()):
            raise ValueError("Expected image with non-negative radiance but its minimum is %g" % float(image.min()))
        ref = self._ref()
        self._from_latlong(image.to(device=ref.device, dtype=ref.dtype))
        return self

    @torch.no_grad()
    def set_constant(self, rgb):
        """Sets the light to the constant radiance ``rgb`` in every direction.

        Args:
            rgb: float or 3 positive floats (a sequence or a tensor).
        Returns:
            self.
        """
        ref = self._ref()
        c = torch.as_tensor(rgb, dtype=ref.dtype).to(ref.device).reshape(-1)
        if c.numel() == 1:
            c = c.expand(3)
        if c.numel() != 3 or not bool(torch.isfinite(c).all()) or bool((c <= 0).any()):
            raise ValueError("Expected rgb as one or three positive finite numbers but got %r" % (rgb,))
        self._set_constant(c)
        return self

    def mean_radiance(self) -> Tensor:
        """Solid-angle mean of the radiance over the sphere, (3,): a handle for an intensity prior
        (the scale of the light and the albedo trade off in a fit)."""
        m = self._to_latlong(*self._reg_res())
        om = latlong_solid_angles(m.shape[0], m.shape[1], m.device, m.dtype)
        return (m * om.unsqueeze(-1)).sum(dim=(0, 1)) / (4 * math.pi)

    def white_balance_loss(self) -> Tensor:
        """Scalar: solid-angle mean of ``|L_c - mean_c(L)|`` over the sphere, divided by the mean
        radiance (scale free). Pulls the light towards grey (nvdiffrec's light regulariser), so
        colour goes to the albedo."""
        m = self._to_latlong(*self._reg_res())
        om = latlong_solid_angles(m.shape[0], m.shape[1], m.device, m.dtype).unsqueeze(-1)
        grey = m.mean(-1, keepdim=True)
        dev = ((m - grey).abs() * om).sum() / (3 * 4 * math.pi)
        return dev / ((grey * om).sum() / (4 * math.pi) + 1e-8)

    def smoothness_loss(self) -> Tensor:
        """Scalar: mean squared difference of ``log(L + 1e-3)`` between neighbouring texels of the
        light's lat-long map (rows, and columns with wrap-around)."""
        m = torch.log(self._to_latlong(*self._reg_res()) + 1e-3)
        dv = (m[1:] - m[:-1]).square().mean()
        du = (m - torch.roll(m, 1, dims=1)).square().mean()
        return dv + du

    # -- to implement ------------------------------------------------------------------------------

    def _diffuse(self, n):  # (P, 3) -> (P, 3)
        raise NotImplementedError

    def _specular(self, d, r):  # (P, 3), (P, 1) -> (P, 3)
        raise NotImplementedError

    def _shade_specular(self, n, v, nv, f0, r):  # -> (P, 3)
        raise NotImplementedError

    def _to_latlong(self, h, w):
        raise NotImplementedError

    def _from_latlong(self, image):
        raise NotImplementedError

    def _set_constant(self, c):
        raise NotImplementedError

    def _reg_res(self):
        return 32, 64


# ----------------------------------------------------------------------------------------------
# Split-sum lat-long light
# ----------------------------------------------------------------------------------------------

_KERNELS = {}


def _zonal_kernel(h, w, weight, sub):
    """The (h, h, w) kernel ``K[o, i, m]`` of a zonal filter on an (h, w) lat-long map: the weight of
    input texel (row i, column j + m) in output texel (row o, column j), ``weight(cos angle)``
    integrated over the input texel (sub x sub points), normalised to sum 1 over (i, m). Rotation
    about Z makes it independent of j."""
    dth, dph = math.pi / h, 2 * math.pi / w
    off = (torch.arange(sub, dtype=torch.float64) + 0.5) / sub - 0.5
    th_o = (torch.arange(h, dtype=torch.float64) + 0.5) * dth
    th_i = ((torch.arange(h, dtype=torch.float64).view(h, 1) + 0.5 + off) * dth)  # (h, sub)
    om_i = (dph / sub) * (torch.cos(th_i - dth / (2 * sub)) - torch.cos(th_i + dth / (2 * sub)))
    dphi = ((torch.arange(w, dtype=torch.float64).view(w, 1) + off) * dph)  # (w, sub)
    ci, si = th_i.cos().view(h, sub, 1, 1), th_i.sin().view(h, sub, 1, 1)
    cp = dphi.cos().view(1, 1, w, sub)
    out = torch.empty(h, h, w, dtype=torch.float64)
    for o in range(h):
        cosg = th_o[o].cos() * ci + th_o[o].sin() * si * cp  # (h, sub, w, sub)
        k = (weight(cosg) * om_i.view(h, sub, 1, 1)).sum(dim=(1, 3))
        out[o] = k / k.sum()
    return out


def _prefilter_kernels(h, w, levels):
    """Conjugate rFFTs (over columns) of the zonal kernels of the GGX levels
    ``roughness = l / (levels - 1)``, l = 1 .. levels - 1, then of the diffuse cosine lobe, as a real
    view: (levels, h, h, w // 2 + 1, 2) float64 (cached per configuration)."""
    key = (h, w, levels)
    if key not in _KERNELS:
        dth = math.pi / h
        ks = []
        for lvl in range(1, levels):
            alpha = (lvl / (levels - 1)) ** 2
            half_width = 1.3 * alpha  # angle where the GGX lobe of reflected directions halves
            sub = int(min(8, max(2, math.ceil(2 * dth / half_width))))

            def ggx(c, alpha=alpha):
                nh = ((1 + c) / 2).clamp(0, 1).sqrt()  # n = v = r: h = normalize(r + l)
                return _sh.ggx_ndf(nh, torch.tensor(alpha, dtype=torch.float64)) * c.clamp_min(0)

            ks.append(_zonal_kernel(h, w, ggx, sub))
        ks.append(_zonal_kernel(h, w, lambda c: c.clamp_min(0), 2))
        k = torch.stack(ks)
        _KERNELS[key] = torch.view_as_real(torch.conj(torch.fft.rfft(k, dim=-1)).resolve_conj()).contiguous()
    return _KERNELS[key]


class SplitSumLight(EnvironmentLight):
    """A learnable (H, W) lat-long radiance map shaded with the split-sum approximation.

    - Parameters: ``log_radiance`` (H, W, 3), radiance = exp (positive, multiplicative steps suit
      HDR).
    - Prefiltering (every call, differentiable and linear in the map): ``levels`` GGX levels at
      roughness ``0, 1/(levels-1), ..., 1`` (level 0 is the map itself) and a diffuse level, each
      a zonal filter with weights ``D(h) max(r.l, 0)`` (GGX, n = v = r, Karis 2013) or
      ``max(n.l, 0)``, integrated over every texel's solid angle and normalised, so a constant map
      stays exactly constant. The filters are invariant under rotation about Z, so each is stored
      as an (H, H, W) kernel and applied by FFT along the rows (O(levels H^2 W log W), no dense
      (HW)^2 matrix).
    - Lookup: trilinear (``grid_sample`` on the stack of levels: bilinear in the map, linear in
      roughness), wrapping around in u.
    - Shading: ``albedo (1 - metallic) E(n) + L_pre(r, roughness) (F0 A + B)`` with ``(A, B)`` from
      :func:`gshell.render.shading.dfg_lut` at (n.v, roughness).

    Args:
        height: int >= 2, rows of the map (default 32).
        width: int >= 2, columns (default 2 height).
        levels: int >= 2, GGX levels including the unfiltered map (default 9).
        init: float > 0, the initial constant radiance.

    Example:
        >>> light = SplitSumLight(32)
        >>> rgb = light.shade(n, v, albedo, roughness, metallic)
        >>> loss = (tonemap(rgb) - tonemap(target)).abs().mean() + 1e-3 * light.white_balance_loss()
    """

    def __init__(self, height=32, width=None, levels=9, init=0.5):
        super().__init__()
        if width is None:
            width = 2 * height if isinstance(height, int) and not isinstance(height, bool) else height
        h, w = _check_resolution(height, width)
        self.levels = _checks.integer("levels", levels, lo=2, hi=64)
        init = _checks.real("init", init, lo=0, lo_open=True)
        self.height, self.width = h, w
        self.log_radiance = nn.Parameter(torch.full((h, w, 3), math.log(init)))
        self.register_buffer("_kernels", _prefilter_kernels(h, w, self.levels).float(), persistent=False)

    def _ref(self):
        return self.log_radiance

    def radiance(self) -> Tensor:
        """The map, (H, W, 3) linear radiance (Blender's convention)."""
        return self.log_radiance.exp()

    def prefiltered(self):
        """The prefiltered maps of the current radiance.

        Returns:
            (specular, diffuse): (levels, 3, H, W) with level l at roughness l / (levels - 1)
            (level 0 the map itself), and (3, H, W) irradiance over pi.
        """
        lmap = self.radiance().permute(2, 0, 1)  # (3, H, W)
        x = torch.fft.rfft(lmap, dim=-1)  # (3, H, F)
        k = torch.view_as_complex(self._kernels.to(lmap.dtype))
        y = torch.fft.irfft(torch.einsum("koif,cif->kcof", k, x), n=self.width, dim=-1)
        return torch.cat([lmap.unsqueeze(0), y[:-1]]), y[-1]

    def _lookup_spec(self, spec, d, r):
        x, y = _grid_xy(d, self.height, self.width)
        z = 2 * r[:, 0] - 1
        grid = torch.stack([x, y, z], -1).view(1, 1, 1, -1, 3)
        vol = _wrap(spec).permute(1, 0, 2, 3).unsqueeze(0)  # (1, 3, levels, H, W + 2)
        out = tnf.grid_sample(vol, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return out.view(3, -1).t()

    def _diffuse(self, n):
        return _sample_chw(self.prefiltered()[1], n)

    def _specular(self, d, r):
        return self._lookup_spec(self.prefiltered()[0], d, r)

    def shade(self, normal, view_dir, albedo, roughness, metallic):  # prefilters once for both terms
        shape, (n, v, a, r, m) = self._check_inputs([("normal", normal, 3), ("view_dir", view_dir, 3),
                                                     ("albedo", albedo, 3), ("roughness", roughness, 1),
                                                     ("metallic", metallic, 1)])
        m = m.clamp(0.0, 1.0)
        r = self._roughness(r)
        nv = (n * v).sum(-1, keepdim=True)
        refl = 2 * nv * n - v
        nv = nv.clamp(1e-4, 1.0)
        spec, diff = self.prefiltered()
        ab = _sh.lookup_dfg(self._dfg, nv[:, 0], r[:, 0])
        f0 = _sh.specular_f0(a, m)
        rgb = a * (1 - m) * _sample_chw(diff, n) + self._lookup_spec(spec, refl, r) * (f0 * ab[:, :1] + ab[:, 1:])
        return rgb.view(*shape, 3)

    shade.__doc__ = EnvironmentLight.shade.__doc__

    def _to_latlong(self, h, w):
        return _resample(self.radiance(), h, w)

    def _from_latlong(self, image):
        self.log_radiance.copy_(_resample(image, self.height, self.width).clamp_min(1e-6).log())

    def _set_constant(self, c):
        self.log_radiance.copy_(c.log().expand_as(self.log_radiance))

    def _reg_res(self):
        return self.height, self.width


# ----------------------------------------------------------------------------------------------
# Spherical-Gaussian light
# ----------------------------------------------------------------------------------------------

class SGLight(EnvironmentLight):
    """A constant plus K spherical Gaussians, ``L(l) = c + sum_k a_k exp(lambda_k (mu_k . l - 1))``.

    - Parameters: ``axis`` (K, 3) (normalised in use), ``log_sharpness`` (K,),
      ``log_amplitude`` (K, 3), ``log_ambient`` (3,) (absent with ``ambient=False``).
    - Diffuse: ``c + sum_k a_k int exp(...) max(n.l, 0) dl / pi``, the SG-clamped-cosine integral
      taken from :func:`gshell.render.shading.sg_irradiance_lut`, an exactly integrated table
      (the common cosine-as-an-SG product is up to 17% off for sharp lobes).
    - Specular (Wang et al. 2009): GGX's D is replaced by an SG around n of sharpness
      ``2 / alpha^2``, normalised to unit projected area, warped to the reflection direction
      (sharpness divided by ``4 n.v``); its product with each light lobe is integrated in closed
      form, and Fresnel, visibility and ``n.l`` are taken at the product lobe's axis. The constant
      term uses the DFG table exactly like the split-sum light.

    Args:
        num_lobes: int K >= 1 (default 16); axes start on a Fibonacci sphere.
        init: float > 0, the initial mean radiance (half in the constant, half in the lobes).
        ambient: bool, include the learnable constant (default True).
        sharpness: float > 0, initial lambda of every lobe (default max(1, K / 2)).

    Example:
        >>> light = SGLight(16)
        >>> rgb = light.shade(n, v, albedo, roughness, metallic)
    """

    def __init__(self, num_lobes=16, init=0.5, ambient=True, sharpness=None):
        super().__init__()
        k = _checks.integer("num_lobes", num_lobes, lo=1, hi=4096)
        init = _checks.real("init", init, lo=0, lo_open=True)
        lam = max(1.0, k / 2) if sharpness is None else _checks.real("sharpness", sharpness, lo=0, lo_open=True)
        self.num_lobes = k
        share = 0.5 if ambient else 1.0
        energy = float(_sh.sg_integral(torch.tensor(lam, dtype=torch.float64))) / (4 * math.pi)
        self.axis = nn.Parameter(_fibonacci_sphere(k).float())
        self.log_sharpness = nn.Parameter(torch.full((k,), math.log(lam)))
        self.log_amplitude = nn.Parameter(torch.full((k, 3), math.log(share * init / (k * energy))))
        if ambient:
            self.log_ambient = nn.Parameter(torch.full((3,), math.log(init * (1 - share))))
        else:
            self.register_parameter("log_ambient", None)
        self.register_buffer("_sg_irr", _sh.sg_irradiance_lut().clone(), persistent=False)

    def _ref(self):
        return self.log_sharpness

    def lobes(self):
        """(axes (K, 3) unit, sharpness (K,), amplitudes (K, 3), constant (3,)) of the light."""
        mu = self.axis / self.axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        amb = self.log_ambient.exp() if self.log_ambient is not None else self.log_sharpness.new_zeros(3)
        return mu, self.log_sharpness.exp(), self.log_amplitude.exp(), amb

    def radiance(self, direction: Tensor) -> Tensor:
        """L in unit directions (..., 3): (..., 3)."""
        shape, (d,) = self._check_inputs([("direction", direction, 3)])
        return self._radiance(d).view(*shape, 3)

    def _radiance(self, d):
        mu, lam, a, amb = self.lobes()
        return amb + torch.exp(lam * (d @ mu.t() - 1)) @ a

    def _diffuse(self, n):
        mu, lam, a, amb = self.lobes()
        hval = _sh.lookup_sg_irradiance(self._sg_irr, self.log_sharpness, n @ mu.t())
        return amb + (hval * (_sh.sg_integral(lam) / math.pi)) @ a

    @staticmethod
    def _product(lam, lam_w, cos_axes):
        """Sharpness of the product of SGs (lam, (K,)) and (lam_w, (P, 1)) with axes at cosine
        cos_axes (P, K), and the log of its amplitude factor exp(lambda_m - lambda - lambda_w),
        computed without cancellation."""
        lm = torch.sqrt((lam * lam + lam_w * lam_w + 2 * lam * lam_w * cos_axes).clamp_min(1e-12))
        log_scale = 2 * lam * lam_w * (cos_axes - 1) / (lm + lam + lam_w)
        return lm, log_scale

    def _specular(self, d, r):
        mu, lam, a, amb = self.lobes()
        alpha = r * r
        lam_w = 0.5 / (alpha * alpha)  # (P, 1): GGX's 2 / alpha^2 warped with n = v = r
        lm, log_scale = self._product(lam, lam_w, d @ mu.t())
        ratio = torch.exp(log_scale) * _sh.sg_integral(lm) / _sh.sg_integral(lam_w)
        return amb + ratio @ a

    def _shade_specular(self, n, v, nv, f0, r):
        mu, lam, a, amb = self.lobes()
        alpha = r * r
        lam_d = 2 / (alpha * alpha)
        # amplitude with int D(h) (n.h) dh = 1 for the SG D
        c_d = 1 / (2 * math.pi * (1 / lam_d + torch.expm1(-lam_d) / (lam_d * lam_d)))
        lam_w = lam_d / (4 * nv)
        refl = 2 * nv * n - v
        vr = 2 * nv * nv - 1
        lm, log_scale = self._product(lam, lam_w, refl @ mu.t())
        integral = torch.exp(log_scale) * _sh.sg_integral(lm)  # int G_k(l) exp(lam_w (r.l - 1)) dl
        nl = (lam * (n @ mu.t()) + lam_w * nv) / lm  # at the product lobe's axis
        vl = (lam * (v @ mu.t()) + lam_w * vr) / lm
        vh = ((1 + vl) / 2).clamp(1e-12, 1).sqrt()  # (no infinite gradient at v.h = 0)
        fc = (1 - vh) ** 5
        s = c_d * integral * _sh.smith_visibility(nl, nv, alpha) * nl.clamp_min(0)
        ab = _sh.lookup_dfg(self._dfg, nv[:, 0], r[:, 0])
        return f0 * ((s * (1 - fc)) @ a) + (s * fc) @ a + amb * (f0 * ab[:, :1] + ab[:, 1:])

    def _to_latlong(self, h, w):
        d = latlong_directions(h, w, self.axis.device, self.axis.dtype)
        return self._radiance(d.view(-1, 3)).view(h, w, 3)

    def mean_radiance(self) -> Tensor:
        mu, lam, a, amb = self.lobes()
        return amb + (_sh.sg_integral(lam) / (4 * math.pi)) @ a

    mean_radiance.__doc__ = EnvironmentLight.mean_radiance.__doc__

    def _set_constant(self, c):
        if self.log_ambient is None:
            raise ValueError("Expected an SGLight with ambient=True to set a constant light but got ambient=False")
        self.log_ambient.copy_(c.log())
        self.log_amplitude.fill_(-30.0)  # exp(-30) ~ 1e-13: off, but still learnable

    def _from_latlong(self, image, steps=500, lr=0.1):
        target = _resample(image, 32, 64)
        d = latlong_directions(32, 64, target.device, target.dtype)
        om = latlong_solid_angles(32, 64, target.device, target.dtype).expand(32, 64)
        # greedy deterministic start: the constant at a low quantile, lobes at the brightest residual
        lum = target.mean(-1)
        amb = torch.quantile(lum.flatten(), 0.1).clamp_min(1e-4) if self.log_ambient is not None else None
        residual = (target - (0 if amb is None else amb)).clamp_min(0)
        k = self.num_lobes
        lam0 = float(max(1.0, k / 2))
        axes, amps = [], []
        for _ in range(k):
            i = int(residual.mean(-1).argmax())
            ax = d.view(-1, 3)[i]
            amp = residual.view(-1, 3)[i].clamp_min(1e-4)
            axes.append(ax)
            amps.append(amp)
            residual = (residual - amp * torch.exp(lam0 * (d @ ax - 1)).unsqueeze(-1)).clamp_min(0)
        self.axis.copy_(torch.stack(axes))
        self.log_sharpness.fill_(math.log(lam0))
        self.log_amplitude.copy_(torch.stack(amps).log())
        if amb is not None:
            self.log_ambient.fill_(float(amb.log()))
        params = [p for p in (self.axis, self.log_sharpness, self.log_amplitude, self.log_ambient) if p is not None]
        opt = torch.optim.Adam(params, lr=lr)
        scale = (target * om.unsqueeze(-1)).sum() / (4 * math.pi) + 1e-8
        wts = (om / om.sum()).unsqueeze(-1)
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad()
                fit = self._radiance(d.view(-1, 3)).view(32, 64, 3)
                loss = ((fit - target).square() * wts).sum() / scale ** 2 + (
                    (torch.log1p(fit) - torch.log1p(target)).square() * wts).sum()
                loss.backward()
                opt.step()

    def _reg_res(self):
        return 16, 32

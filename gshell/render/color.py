"""Colour transforms for photometric losses: the sRGB transfer function (IEC 61966-2-1) both ways,
and the log tonemap that HDR fitting losses compare in (as nvdiffrec's ``logl1`` loss does:
Munkberg et al., "Extracting Triangular 3D Models, Materials, and Lighting From Images", CVPR 2022,
https://arxiv.org/abs/2111.12503).

All functions work elementwise on tensors of any shape, dtype float32 or float64, on any device,
and are differentiable (the gradient of the sRGB curve at 0 is finite: its linear toe).
"""
import torch
from torch import Tensor

from gshell import _checks

_A = 0.055
_TOE = 0.0031308  # linear value where the sRGB curve switches from 12.92 x to the power law
_TOE_SRGB = 12.92 * _TOE  # = 0.04045, the same point in sRGB


def _check(name, x):
    return _checks.tensor(name, x, dtypes=_checks.FLOATS)


def linear_to_srgb(x: Tensor) -> Tensor:
    """Linear RGB to sRGB-encoded values: ``12.92 x`` below 0.0031308, ``1.055 x^(1/2.4) - 0.055``
    above. Negative inputs are clamped to 0; values above 1 follow the power law (no clamp).

    Args:
        x: (...) float32|float64 linear values, any device.
    Returns:
        (...) same dtype and device, sRGB-encoded.

    Example:
        >>> linear_to_srgb(torch.tensor([0.0, 0.18, 1.0]))  # ~ [0.0, 0.4614, 1.0]
    """
    x = _check("x", x).clamp_min(0.0)
    power = (1 + _A) * x.clamp_min(_TOE).pow(1 / 2.4) - _A  # clamp: no infinite gradient at 0
    return torch.where(x <= _TOE, 12.92 * x, power)


def srgb_to_linear(x: Tensor) -> Tensor:
    """sRGB-encoded values to linear RGB, the inverse of :func:`linear_to_srgb` (negative inputs
    clamped to 0).

    Args:
        x: (...) float32|float64 sRGB values, any device.
    Returns:
        (...) same dtype and device, linear.
    """
    x = _check("x", x).clamp_min(0.0)
    power = ((x.clamp_min(_TOE_SRGB) + _A) / (1 + _A)).pow(2.4)
    return torch.where(x <= _TOE_SRGB, x / 12.92, power)


def tonemap(x: Tensor) -> Tensor:
    """HDR radiance to the values a photometric loss compares: ``linear_to_srgb(log(1 + x))``
    (x clamped to [0, 65504]). An L1 loss on these is nvdiffrec's "log-L1": bright highlights
    (a sun in a mirror) stop dominating the loss, dark regions keep their weight.

    Args:
        x: (...) float32|float64 linear radiance, any device.
    Returns:
        (...) same dtype and device; 0 maps to 0, 1 to about 0.85, 100 to about 1.94.

    Example:
        >>> loss = (tonemap(rendered) - tonemap(target)).abs().mean()
    """
    x = _check("x", x)
    return linear_to_srgb(torch.log1p(x.clamp(0.0, 65504.0)))

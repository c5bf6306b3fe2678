"""Multiresolution hash encoding on a grid or simplex lattice: kernels for forward, backward and
double backward (gradients of input-gradients, for Eikonal losses). A third derivative, rarely
wanted, is taken by automatic differentiation of a plain-PyTorch formulation of the same encoding
(:func:`torch_encode`, also the reference of the tests).

Grid: instant-ngp (Müller et al. 2022, https://arxiv.org/abs/2201.05989). Simplex: "Efficient
Encoding of Graphics Primitives with Simplex-based Structures" (Wen & Yang 2023,
https://arxiv.org/abs/2311.18230).
"""
import math
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from gshell import _checks
from gshell._ext import check_device, ext

PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737, 2971215073)
LATTICES = ("grid", "simplex")


def level_layout(in_dim, n_levels, n_features_per_level, log2_hashmap_size, base_resolution,
                 per_level_scale, lattice):
    """Per-level scales, largest corner coordinates, hashing flags and table offsets.

    Level l has resolution N_l = base_resolution * per_level_scale^l. The grid lattice scales x by
    N_l. The simplex lattice scales x by N_l (d+1)^(-1/(2d)): its skew (q = p + G sum(p),
    G = (sqrt(d+1) - 1)/d) maps unit cubes of q-space to cells of volume 1/sqrt(d+1) in p-space,
    so this scale gives both lattices the same number of vertices per unit volume of x.

    Returns:
        dict with resolutions (L floats N_l), scales (L floats, rounded to float32), res (L ints:
        the largest corner coordinate R), hashed (L bools), offsets (L+1 ints: first table row of
        each level; a level has (R+1)^d rows when that fits in 2^log2_hashmap_size, else
        2^log2_hashmap_size hashed rows).
    """
    size_cap = 2 ** log2_hashmap_size
    resolutions = [float(base_resolution) * float(per_level_scale) ** l for l in range(n_levels)]
    out = _layout(in_dim, resolutions, lattice)
    out["hashed"] = [(r + 1) ** in_dim > size_cap for r in out["res"]]
    offsets = [0]
    for r, h in zip(out["res"], out["hashed"]):
        offsets.append(offsets[-1] + (size_cap if h else (r + 1) ** in_dim))
    out["offsets"] = offsets
    return out


def _layout(d, resolutions, lattice):
    """Scales (float32-rounded) and largest corner coordinates of levels of resolutions N_l."""
    G = (math.sqrt(d + 1) - 1) / d
    scales, res = [], []
    for n in resolutions:
        if lattice == "grid":
            scale = float(np.float32(n))
            r = max(1, math.ceil(n))
        else:
            scale = float(np.float32(n * (d + 1) ** (-1.0 / (2 * d))))
            # q <= s (1 + G d) at x = 1; one more for the corner above and one for rounding.
            r = math.ceil(scale * (1 + G * d)) + 1
        scales.append(scale)
        res.append(r)
    return {"resolutions": list(resolutions), "scales": scales, "res": res}


# ---------------------------------------------------------------------------- plain PyTorch
def _corner_rows(k, r, hashed, size):
    """Rows of integer corners k (..., d) in a level's table."""
    if hashed:
        h = torch.zeros(k.shape[:-1], dtype=torch.long, device=k.device)
        for i in range(k.shape[-1]):
            h = h ^ ((k[..., i] * PRIMES[i]) & 0xFFFFFFFF)
        return h & (size - 1)
    strides = torch.tensor([(r + 1) ** i for i in range(k.shape[-1])], device=k.device)
    return (k * strides).sum(-1)


def torch_encode(x, table, offsets, scales, res, hashed, lattice):
    """The encoding in differentiable PyTorch ops (used for triple backward and as a reference).

    Args:
        x: (B, d) float tensor. table: (rows, F). offsets: list of L+1 ints. scales: (L,) tensor.
        res: list of L ints. hashed: list of L bools. lattice: "grid" or "simplex".
    Returns:
        (B, L * F) tensor.
    """
    B, d = x.shape
    xc = x.clamp(0, 1)
    outs = []
    for l in range(len(res)):
        off, size, r = offsets[l], offsets[l + 1] - offsets[l], res[l]
        p = xc * scales[l]
        if lattice == "grid":
            cell = torch.floor(p).clamp(max=r - 1)
            f = p - cell
            cell = cell.long()
            acc = 0
            for corner in range(2 ** d):
                bits = torch.tensor([(corner >> i) & 1 for i in range(d)], device=x.device)
                sel = torch.where(bits.bool(), f, 1 - f)
                w = sel[:, 0]
                for i in range(1, d):  # an explicit product: prod's backward divides by factors
                    w = w * sel[:, i]
                rows = off + _corner_rows(cell + bits, r, hashed[l], size)
                acc = acc + w[:, None] * table[rows]
        else:
            G = (math.sqrt(d + 1) - 1) / d
            q = p + G * p.sum(-1, keepdim=True)
            cell = torch.floor(q)
            f = q - cell
            cell = cell.long()
            order = torch.sort(-f.detach(), dim=-1, stable=True).indices
            fs = torch.gather(f, 1, order)
            ones = torch.ones(B, 1, dtype=f.dtype, device=f.device)
            zeros = torch.zeros(B, 1, dtype=f.dtype, device=f.device)
            w = torch.cat([ones, fs], 1) - torch.cat([fs, zeros], 1)  # (B, d+1)
            steps = torch.zeros(B, d + 1, d, dtype=torch.long, device=x.device)
            steps[:, 1:].scatter_(2, order[:, :, None], 1)
            k = cell[:, None, :] + torch.cumsum(steps, 1)
            rows = off + _corner_rows(k, r, hashed[l], size)
            acc = (w[..., None] * table[rows]).sum(1)
        outs.append(acc)
    return torch.cat(outs, -1)


# ---------------------------------------------------------------------------- custom ops
@torch.library.custom_op("gshell::hash_encoding_forward", mutates_args=())
def _forward_op(x: Tensor, table: Tensor, offsets: Tensor, scales: Tensor, res: Tensor,
                hashed: Tensor, simplex: bool) -> Tensor:
    return ext().hash_encoding_forward(x, table, offsets, scales, res, hashed, simplex)


@_forward_op.register_fake
def _(x, table, offsets, scales, res, hashed, simplex):
    return x.new_empty((x.shape[0], scales.shape[0] * table.shape[1]))


@torch.library.custom_op("gshell::hash_encoding_backward", mutates_args=())
def _backward_op(grad_out: Tensor, x: Tensor, table: Tensor, offsets: Tensor, scales: Tensor,
                 res: Tensor, hashed: Tensor, simplex: bool, need_x: bool,
                 need_table: bool) -> Tuple[Tensor, Tensor]:
    gx, gt = ext().hash_encoding_backward(grad_out.contiguous(), x, table, offsets, scales, res,
                                          hashed, simplex, need_x, need_table)
    return gx, gt


@_backward_op.register_fake
def _(grad_out, x, table, offsets, scales, res, hashed, simplex, need_x, need_table):
    return (x.new_empty(x.shape if need_x else (0,)),
            table.new_empty(table.shape if need_table else (0,)))


def _forward_setup(ctx, inputs, output):
    x, table, offsets, scales, res, hashed, simplex = inputs
    ctx.save_for_backward(x, table, offsets, scales, res, hashed)
    ctx.simplex = simplex


def _forward_backward(ctx, grad_out):
    x, table, offsets, scales, res, hashed = ctx.saved_tensors
    need_x, need_table = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    gx, gt = _backward_op(grad_out.contiguous(), x, table, offsets, scales, res, hashed,
                          ctx.simplex, need_x, need_table)
    return (gx if need_x else None, gt if need_table else None, None, None, None, None, None)


_forward_op.register_autograd(_forward_backward, setup_context=_forward_setup)


def _backward_setup(ctx, inputs, output):
    grad_out, x, table, offsets, scales, res, hashed, simplex, need_x, need_table = inputs
    ctx.save_for_backward(grad_out, x, table, offsets, scales, res, hashed)
    ctx.simplex, ctx.need_x, ctx.need_table = simplex, need_x, need_table


def _backward_backward(ctx, gg_x, gg_table):
    """Double backward by the kernel: gradients of <grad_x, gg_x> + <grad_table, gg_table>."""
    grad_out, x, table, offsets, scales, res, hashed = ctx.saved_tensors
    need_g, need_x, need_t = ctx.needs_input_grad[:3]
    use_x = ctx.need_x and gg_x is not None and gg_x.numel() > 0
    use_t = ctx.need_table and gg_table is not None and gg_table.numel() > 0
    if not (use_x or use_t) or not (need_g or need_x or need_t):
        return (None,) * 10
    empty = x.new_empty((0,))
    dg, dx, dt = _backward_backward_op(gg_x.contiguous() if use_x else empty,
                                       gg_table.contiguous() if use_t else empty,
                                       grad_out, x, table, offsets, scales, res, hashed,
                                       ctx.simplex, need_g, need_x, need_t)
    return (dg if need_g else None, dx if need_x else None, dt if need_t else None,
            None, None, None, None, None, None, None)


@torch.library.custom_op("gshell::hash_encoding_backward_backward", mutates_args=())
def _backward_backward_op(gg_x: Tensor, gg_table: Tensor, grad_out: Tensor, x: Tensor,
                          table: Tensor, offsets: Tensor, scales: Tensor, res: Tensor,
                          hashed: Tensor, simplex: bool, need_grad_out: bool, need_x: bool,
                          need_table: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """gg_x (B, d) or (0,), gg_table (rows, F) or (0,) (empty: zero) -> the gradients of
    S = <grad_x, gg_x> + <grad_table, gg_table> w.r.t. grad_out (B, L*F), x (B, d) and table
    (rows, F), each (0,) when not requested (see csrc/hash_encoding/hash_encoding.h)."""
    dg, dx, dt = ext().hash_encoding_backward_backward(
        gg_x.contiguous(), gg_table.contiguous(), grad_out.contiguous(), x, table, offsets,
        scales, res, hashed, simplex, need_grad_out, need_x, need_table)
    return dg, dx, dt


@_backward_backward_op.register_fake
def _(gg_x, gg_table, grad_out, x, table, offsets, scales, res, hashed, simplex, need_grad_out,
      need_x, need_table):
    return (grad_out.new_empty(grad_out.shape if need_grad_out else (0,)),
            x.new_empty(x.shape if need_x else (0,)),
            table.new_empty(table.shape if need_table else (0,)))


def _backward_backward_setup(ctx, inputs, output):
    gg_x, gg_table, grad_out, x, table, offsets, scales, res, hashed, simplex = inputs[:10]
    ctx.save_for_backward(gg_x, gg_table, grad_out, x, table, offsets, scales, res, hashed)
    ctx.simplex = simplex


def _triple_backward(ctx, d_dg, d_dx, d_dt):
    """Backward of the double backward by autograd through torch_encode (slow; differentiable once:
    a fourth derivative raises autograd's "does not require grad" error)."""
    gg_x, gg_table, grad_out, x, table, offsets, scales, res, hashed = ctx.saved_tensors
    needs = ctx.needs_input_grad[:5]
    none = (None,) * 8
    if not any(needs):
        return (None,) * 5 + none
    lattice = "simplex" if ctx.simplex else "grid"
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_(True) for t in (gg_x, gg_table, grad_out, x, table)]
        ggx_, ggt_, g_, x_, t_ = leaves
        out = torch_encode(x_, t_, offsets.tolist(), scales, res.tolist(),
                           [bool(h) for h in hashed.tolist()], lattice)
        gx, gt = torch.autograd.grad(out, (x_, t_), g_, create_graph=True)
        s = 0
        if ggx_.numel():
            s = s + (gx * ggx_).sum()
        if ggt_.numel():
            s = s + (gt * ggt_).sum()
        if not torch.is_tensor(s) or not s.requires_grad:
            return (None,) * 5 + none
        firsts = torch.autograd.grad(s, (g_, x_, t_), create_graph=True, allow_unused=True)
        total = 0
        for first, cot in zip(firsts, (d_dg, d_dx, d_dt)):
            if first is not None and first.requires_grad and cot is not None and cot.numel():
                total = total + (first * cot).sum()
        if not torch.is_tensor(total):
            return (None,) * 5 + none
        grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return tuple(gr if need else None for gr, need in zip(grads, needs)) + none


_backward_backward_op.register_autograd(_triple_backward, setup_context=_backward_backward_setup)


_backward_op.register_autograd(_backward_backward, setup_context=_backward_setup)


def _check_x(x, lattice):
    if lattice not in LATTICES:
        raise ValueError("Expected lattice 'grid' or 'simplex' but got %r" % (lattice,))
    _checks.tensor("x", x, dims=2, dtypes=_checks.FLOATS)
    if not 1 <= x.shape[1] <= 8:
        raise ValueError("Expected x of shape (B, d) with d in 1..8 but got shape %s" % (tuple(x.shape),))


def encode(x, table, offsets, scales, res, hashed, lattice):
    """The encoding with a precomputed layout (what the modules call).

    Args:
        x: (B, d) float32|float64 tensor in [0, 1]^d (clamped), d in 1..8.
        table: (rows, F) tensor of x's dtype and device.
        offsets: (L+1,) int64 tensor; scales: (L,) tensor of x's dtype; res: (L,) int32 tensor;
            hashed: (L,) uint8 tensor; as made by :func:`level_layout`.
        lattice: "grid" or "simplex".
    Returns:
        (B, L * F) tensor, differentiable in x and table, twice.
    """
    _check_x(x, lattice)
    _checks.tensor("table", table, dims=2, dtypes=(x.dtype,), device=x.device)
    check_device("hash_encode", x)
    _checks.finite("x", x)
    return _forward_op(x.contiguous(), table, offsets, scales, res, hashed, lattice == "simplex")


def hash_encode(x, table, offsets, resolutions, lattice):
    """Encodes points with a multiresolution hash table (functional form).

    Args:
        x: (B, d) float32|float64 tensor in [0, 1]^d (clamped), d in 1..8.
        table: (rows, F) tensor of x's dtype and device.
        offsets: (L+1,) int64 tensor or list, the first row of each level in ``table``; a level
            of (R+1)^d rows is dense, any other size (a power of two) is hashed.
        resolutions: L floats, the levels' resolutions N_l.
        lattice: "grid" or "simplex".
    Returns:
        (B, L * F) tensor, differentiable in x and table, twice.
    """
    _check_x(x, lattice)
    d = x.shape[1]
    offsets = torch.as_tensor(offsets, dtype=torch.long).reshape(-1)
    lay = _layout(d, [float(n) for n in resolutions], lattice)
    if offsets.numel() != len(lay["res"]) + 1:
        raise ValueError("Expected offsets of length L+1 = %d but got %d" % (
            len(lay["res"]) + 1, offsets.numel()))
    sizes = (offsets[1:] - offsets[:-1]).tolist()
    hashed = []
    for r, size in zip(lay["res"], sizes):
        dense = (r + 1) ** d
        if size != dense and (size <= 0 or size & (size - 1)):
            raise ValueError("Expected each level of (R+1)^d = %d rows or a power of two but got %d"
                             % (dense, size))
        hashed.append(size != dense)
    dev = x.device
    return encode(x, table, offsets.to(dev),
                  torch.tensor(lay["scales"], dtype=x.dtype, device=dev),
                  torch.tensor(lay["res"], dtype=torch.int32, device=dev),
                  torch.tensor(hashed, dtype=torch.uint8, device=dev), lattice)

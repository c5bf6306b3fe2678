"""Row gathers whose backward is the same on every run.

``a[idx]`` (advanced indexing) backpropagates through ``index_put_(accumulate=True)``, which on the
CPU adds float32 gradients with atomics from several threads once the gradient holds 32768 or more
elements: rows gathered more than once then sum in an order set by thread timing, and two runs
of the same optimisation drift apart. ``index_select``'s backward is ``index_add_``, which adds
in index order on the CPU (bit-identical run to run; on CUDA it uses atomics, as does the rest
of PyTorch's CUDA scatter). gshell's differentiable code gathers through :func:`take`.
"""
import torch

__all__ = ["take"]


def take(a, idx):
    """``a[idx]`` along dim 0, differentiable w.r.t. ``a`` with a deterministic CPU backward.

    Args:
        a: (N, ...) tensor.
        idx: int64/int32 tensor of any shape with values in [0, N), or an (N,) bool mask.
    Returns:
        (*idx.shape, ...) for an integer ``idx``; (K, ...) for a bool mask with K true entries.
    """
    if idx.dtype == torch.bool:
        idx = idx.nonzero().squeeze(1)
    return a.index_select(0, idx.reshape(-1)).view(tuple(idx.shape) + tuple(a.shape[1:]))

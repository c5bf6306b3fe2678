"""Data-parallel training on ``torch.distributed``, used when a training loop is launched by
``torchrun`` (or inside a process group the caller initialised), and nothing otherwise.

The rules every data-parallel loop of gshell follows (see :func:`gshell.wing.train_cp_model`):

- **Who is distributed.** A process is part of a run when ``torchrun`` set ``WORLD_SIZE > 1`` in
  its environment (the group is then initialised here, from ``MASTER_ADDR``/``MASTER_PORT``/
  ``RANK``, with backend ``gloo`` for CPU training and ``nccl`` for CUDA), or when the caller
  already initialised a default process group of more than one rank. Otherwise the loop runs in
  one process and no ``torch.distributed`` function is called that could block or need a peer.
- **Same global batch.** Every rank draws the same random numbers (same seed, same generator
  calls) and so the same global batch; each takes a contiguous shard of it (:func:`shard`; sizes
  differ by at most one, a shard may be empty), and the loss of a rank is its share of the global
  mean, so the sum of the ranks' gradients is the gradient of the one-process run.
- **Same weights everywhere.** Parameters and buffers are broadcast from rank 0 once after
  construction; the summed gradient reaches every rank identically, so every rank applies the
  same update and nothing drifts apart.
- **Quiet ranks.** Only rank 0 (:func:`is_main`) prints or writes files.
"""
import atexit
import os
from typing import NamedTuple

import torch

__all__ = ["World", "launched", "is_main", "setup", "device_of", "shard", "all_reduce_sum_",
           "broadcast_module_", "all_reduce_grads_"]


class World(NamedTuple):
    """The ranks of a run: ``rank`` in [0, size), ``size`` >= 1, ``local_rank`` (the rank on this
    machine, which picks the CUDA device). ``World(0, 1, 0)`` is one process."""

    rank: int
    size: int
    local_rank: int


ONE = World(0, 1, 0)


def _env_int(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise RuntimeError("Expected the environment variable %s to be an integer (as torchrun "
                           "sets it) but got %r" % (name, value)) from None


def launched() -> bool:
    """True when ``torchrun`` started this process as one of several (``WORLD_SIZE`` > 1)."""
    return _env_int("WORLD_SIZE", 1) > 1


def _initialised():
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def is_main() -> bool:
    """True on rank 0 of a run and in a process that is not part of one: the process that prints
    and writes. Initialises nothing."""
    if _initialised():
        import torch.distributed as dist

        return dist.get_rank() == 0
    return _env_int("RANK", 0) == 0 if launched() else True


def setup(device=None) -> World:
    """The run this process belongs to, initialising the default process group when ``torchrun``
    launched it and nobody did yet.

    Args:
        device: the training device (str or torch.device, default CPU): its type chooses the
            backend, ``nccl`` for CUDA and ``gloo`` otherwise; for CUDA the current device is set
            to ``cuda:LOCAL_RANK``.

    Returns:
        :class:`World`; :data:`ONE` (and nothing touched) when not distributed.

    Raises:
        RuntimeError: launched by torchrun but this build of torch has no torch.distributed, or
            ``nccl`` asked for without CUDA.
    """
    if _initialised():
        import torch.distributed as dist

        size = dist.get_world_size()
        if size == 1:
            return ONE
        return World(dist.get_rank(), size, _env_int("LOCAL_RANK", 0))
    if not launched():
        return ONE
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("Expected a torch build with torch.distributed (WORLD_SIZE=%s was set "
                           "by torchrun) but torch.distributed is not available"
                           % os.environ["WORLD_SIZE"])
    local = _env_int("LOCAL_RANK", 0)
    cuda = torch.device(device if device is not None else "cpu").type == "cuda"
    if cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("Expected CUDA for device=%r under torchrun but torch.cuda is not "
                               "available" % (device,))
        torch.cuda.set_device(local % torch.cuda.device_count())
    dist.init_process_group(backend="nccl" if cuda else "gloo", init_method="env://")
    atexit.register(_destroy)
    return World(dist.get_rank(), dist.get_world_size(), local)


def _destroy():
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def device_of(device, world: World) -> torch.device:
    """The device a rank trains on: ``device`` (default CPU), with ``cuda`` without an index
    meaning ``cuda:LOCAL_RANK`` in a run of several ranks (``LOCAL_RANK`` from the environment,
    0 when unset: pass ``cuda:i`` explicitly in a group started without torchrun)."""
    dev = torch.device(device if device is not None else "cpu")
    if dev.type == "cuda" and dev.index is None and world.size > 1:
        dev = torch.device("cuda", world.local_rank % max(torch.cuda.device_count(), 1))
    return dev


def shard(n: int, world: World) -> slice:
    """The rows of a global batch of ``n`` items that ``world.rank`` takes: contiguous, sizes
    ``ceil(n / size)`` for the first ``n % size`` ranks and ``floor(n / size)`` after (the split
    of ``torch.tensor_split``); empty when ``n < size`` for the last ranks.

    Example:
        >>> [shard(5, World(r, 2, r)) for r in (0, 1)]
        [slice(0, 3, None), slice(3, 5, None)]
    """
    q, r = divmod(int(n), world.size)
    lo = world.rank * q + min(world.rank, r)
    return slice(lo, lo + q + (1 if world.rank < r else 0))


def all_reduce_sum_(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """Sums ``tensor`` over the ranks in place (a no-op in one process); returns it."""
    if world.size > 1:
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_module_(module: torch.nn.Module, world: World, src: int = 0) -> None:
    """Copies the parameters and buffers of rank ``src`` to every rank (one broadcast per dtype);
    a no-op in one process."""
    if world.size == 1:
        return
    import torch.distributed as dist

    tensors = list(module.parameters()) + list(module.buffers())
    for dtype in sorted({t.dtype for t in tensors}, key=str):
        group = [t for t in tensors if t.dtype == dtype]
        flat = torch.cat([t.detach().reshape(-1) for t in group])
        dist.broadcast(flat, src)
        off = 0
        with torch.no_grad():
            for t in group:
                t.copy_(flat[off:off + t.numel()].view_as(t))
                off += t.numel()


def all_reduce_grads_(params, world: World, extra: torch.Tensor = None):
    """Sums the gradients of ``params`` over the ranks, in one all-reduce of one flat buffer
    (a missing gradient counts as zeros: a rank with an empty shard adds nothing).

    Args:
        params: list of parameters (same order on every rank), one dtype.
        world: the run.
        extra: optional (k,) tensor reduced in the same call (e.g. the loss for logging).

    Returns:
        the summed ``extra`` ((k,) tensor) or None. Every ``p.grad`` is set to the sum.
    """
    if world.size == 1:
        return extra
    parts = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    if extra is not None:
        parts.append(extra.detach().reshape(-1).to(parts[0].dtype))
    flat = torch.cat(parts)
    all_reduce_sum_(flat, world)
    off = 0
    for p in params:
        p.grad = flat[off:off + p.numel()].view_as(p)
        off += p.numel()
    return None if extra is None else flat[off:].to(extra.dtype)

"""Input validation shared by the public functions: "Expected X but got Y", naming the argument."""
import torch


def _desc(t):
    if not isinstance(t, torch.Tensor):
        return "%s" % type(t).__name__
    return "tensor of shape %s, dtype %s on %s" % (tuple(t.shape), t.dtype, t.device)


def tensor(name, t, dims=None, dtypes=None, shape=None, device=None):
    """Checks that ``t`` is a tensor with ``dims`` dimensions, a dtype in ``dtypes``, a shape
    matching ``shape`` (None entries are free) and on ``device``. Returns ``t``."""
    if not isinstance(t, torch.Tensor):
        raise TypeError("Expected %s to be a torch.Tensor but got %s" % (name, _desc(t)))
    if dims is not None and t.dim() != dims:
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")" if shape else "%d-D" % dims
        raise ValueError("Expected %s of shape %s but got %s" % (name, want, _desc(t)))
    if shape is not None:
        for i, s in enumerate(shape):
            if s is not None and t.shape[i] != s:
                want = "(" + ", ".join("?" if x is None else str(x) for x in shape) + ")"
                raise ValueError("Expected %s of shape %s but got %s" % (name, want, _desc(t)))
    if dtypes is not None and t.dtype not in dtypes:
        raise TypeError("Expected %s of dtype %s but got %s" % (
            name, " or ".join(str(d) for d in dtypes), _desc(t)))
    if device is not None and t.device != torch.device(device):
        raise ValueError("Expected %s on %s (the device of the other inputs) but got %s" % (
            name, device, _desc(t)))
    return t


def finite(name, t):
    """Raises ValueError if ``t`` holds NaN or Inf (one min/max pass: NaN propagates)."""
    if t.is_floating_point() and t.numel():
        lo, hi = torch.aminmax(t.detach())
        if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError("Expected %s to be finite but it holds %d NaN/Inf values" % (name, bad))
    return t


def index_range(name, t, n):
    """Raises ValueError unless every entry of integer tensor ``t`` is in [0, n)."""
    if t.numel() == 0:
        return t
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= n:
        raise ValueError("Expected %s to hold indices in [0, %d) but got values in [%d, %d]" % (
            name, n, lo, hi))
    return t


FLOATS = (torch.float32, torch.float64)
INTS = (torch.int32, torch.int64)


def device(name, d):
    """The torch.device of ``d`` (a device, a string such as ``"cpu"``, ``"cuda:0"``, or None for
    the CPU), checked to be usable here; ValueError naming ``name`` otherwise."""
    if d is None:
        return torch.device("cpu")
    try:
        dev = torch.device(d)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError("Expected %s to be a device such as 'cpu' or 'cuda' but got %r" % (name, d)) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("Expected %s cpu (torch %s has no usable CUDA device) but got %r"
                             % (name, torch.__version__, d))
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError("Expected %s to name one of the %d CUDA devices but got %r"
                             % (name, torch.cuda.device_count(), d))
    elif dev.type != "cpu":
        raise ValueError("Expected %s cpu or cuda (what gshell's kernels run on) but got %r" % (name, d))
    return dev


def integer(name, x, lo=None, hi=None):
    """``x`` as an int, checked to be an integer (not a bool, not a float with a fraction) in
    [lo, hi]; TypeError/ValueError naming ``name`` otherwise."""
    import numbers

    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError("Expected %s to be an integer but got %r" % (name, x))
    x = int(x)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        want = ">= %d" % lo if hi is None else ("<= %d" % hi if lo is None else "in [%d, %d]" % (lo, hi))
        raise ValueError("Expected %s to be an integer %s but got %d" % (name, want, x))
    return x


def real(name, x, lo=None, hi=None, lo_open=False):
    """``x`` as a finite float in [lo, hi] (or (lo, hi] with ``lo_open``); a string or bool is a
    TypeError, NaN/Inf and values out of range a ValueError, naming ``name``."""
    import math
    import numbers

    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError("Expected %s to be a number but got %r" % (name, x))
    x = float(x)
    if not math.isfinite(x):
        raise ValueError("Expected a finite %s but got %r" % (name, x))
    if (lo is not None and (x < lo or lo_open and x == lo)) or (hi is not None and x > hi):
        if hi is None:
            want = "%s %g" % (">" if lo_open else ">=", lo)
        elif lo is None:
            want = "<= %g" % hi
        else:
            want = "in %s%g, %g]" % ("(" if lo_open else "[", lo, hi)
        raise ValueError("Expected %s %s but got %r" % (name, want, x))
    return x

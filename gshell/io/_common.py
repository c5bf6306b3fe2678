"""Array checks and conversions shared by the format modules.

torch is not imported here: a tensor can only be passed in once torch is loaded, so it is looked
up in ``sys.modules`` (reading and writing files with NumPy arrays never loads torch).
"""
import sys

import numpy as np


def _is_tensor(x):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _describe(x):
    if _is_tensor(x):
        return "a tensor of shape %s, dtype %s on %s" % (tuple(x.shape), x.dtype, x.device)
    if isinstance(x, np.ndarray):
        return "an array of shape %s, dtype %s" % (x.shape, x.dtype)
    return "%s" % type(x).__name__


def _to_numpy(name, x):
    """torch tensor (any device, grad or not) or numpy array -> numpy array."""
    if _is_tensor(x):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError("Expected %s to be a torch.Tensor or numpy.ndarray but got %s" % (name, _describe(x)))


def _check_float_array(name, x, shape_desc, shape_ok, orig):
    if not (np.issubdtype(x.dtype, np.floating)):
        raise TypeError("Expected %s to have a floating dtype (float16/32/64) but got %s" % (name, _describe(orig)))
    if not shape_ok(x.shape):
        raise ValueError("Expected %s of shape %s but got %s" % (name, shape_desc, _describe(orig)))
    if x.size and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise ValueError("Expected finite values in %s but got %d NaN/Inf entries in %s" % (name, bad, _describe(orig)))


def _mesh_arrays(verts, faces):
    """Validated float32 (V, 3) and int64 (F, 3) arrays (same rules as write_ply)."""
    v = _to_numpy("verts", verts)
    _check_float_array("verts", v, "(V, 3)", lambda s: len(s) == 2 and s[1] == 3, verts)
    f = _to_numpy("faces", faces)
    if f.dtype == np.bool_ or not np.issubdtype(f.dtype, np.integer):
        raise TypeError("Expected faces to have an integer dtype but got %s" % _describe(faces))
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError("Expected faces of shape (F, 3) but got %s" % _describe(faces))
    if f.size and (int(f.min()) < 0 or int(f.max()) >= v.shape[0]):
        raise ValueError("Expected faces to index vertices in [0, %d) but got indices in [%d, %d]"
                         % (v.shape[0], int(f.min()), int(f.max())))
    return v.astype(np.float32), f.astype(np.int64)


def _fan(polys):
    """list of index lists -> (F, 3) int64 triangle fans."""
    tris = [(p[0], p[i], p[i + 1]) for p in polys for i in range(1, len(p) - 1)]
    return np.array(tris, dtype=np.int64).reshape(-1, 3)


def _out_tensors(v, f, device):
    """(V, 3) float32 and (F, 3) int64 tensors on ``device`` from arrays."""
    import torch

    from gshell import _checks

    device = _checks.device("device", device)
    return (torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(device),
            torch.from_numpy(np.ascontiguousarray(f, dtype=np.int64)).to(device))

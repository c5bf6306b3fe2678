"""Reading photographs and masks for the dataset readers: linear RGB, alpha, area downscaling.

Conventions:
- Colour files (8-bit and 16-bit PNG, JPEG, anything Pillow reads) are taken as sRGB-encoded and
  converted to linear RGB with the exact piecewise sRGB curve (embedded ICC profiles and PNG gAMA
  chunks are ignored; so is EXIF orientation: pixels are used as stored, as COLMAP does).
- A single-channel (grayscale) photograph is refused: the reconstruction needs colour.
- Alpha is linear coverage; colour is stored straight (not premultiplied) in PNG, so the readers
  premultiply the *linear* colour by the mask.
- Downscaling averages areas exactly (each output pixel is the mean of the input area it covers,
  fractional pixels weighted by their overlap) on linear premultiplied values.
"""
import math
import os

import numpy as np

__all__ = ["srgb_to_linear", "read_rgb", "read_mask", "downscale", "downscaled_size",
           "scale_intrinsics", "load_photo"]

_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def srgb_to_linear(x):
    """The sRGB electro-optical transfer function (IEC 61966-2-1), exact piecewise.

    Args:
        x: array of encoded values in [0, 1].
    Returns:
        float array of linear values: ``x / 12.92`` for ``x <= 0.04045``, else
        ``((x + 0.055) / 1.055) ** 2.4``.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4)


def _png16(path, im):
    """(H, W, C) uint16 of a 16-bit-per-channel RGB(A) PNG, or None if ``im`` is not one.

    Pillow opens these files as 8-bit images (it keeps the high byte of each sample). The
    zlib/filter decoding is byte-wise, so decoding the same data a second time as little-endian
    yields the low bytes, and the two halves give the exact 16-bit values."""
    from PIL import Image

    if im.format != "PNG":
        return None
    tile = getattr(im, "_gshell_tile", None)
    if not tile or not isinstance(tile[0].args, str) or tile[0].args not in ("RGB;16B", "RGBA;16B"):
        return None
    rawmode = tile[0].args
    try:
        hi = np.asarray(im, dtype=np.uint16)
        lo_im = Image.open(path)
        lo_im.tile = [t._replace(args=rawmode[:-1] + "L") for t in lo_im.tile]
        lo = np.asarray(lo_im, dtype=np.uint16)
        lo_im.close()
    except Exception:  # an unusual layout (interlaced, a Pillow change): keep the 8-bit values
        return None
    if lo.shape != hi.shape:
        return None
    return hi * np.uint16(256) + lo


def _load(path, what):
    """(array (H, W, C) uint8 or uint16, number of channels) of any image file Pillow reads."""
    from PIL import Image

    if not os.path.isfile(path):
        raise FileNotFoundError("Expected %s file %s but it does not exist" % (what, path))
    try:
        im = Image.open(path)
        tile = list(im.tile) if getattr(im, "tile", None) else None
        im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError("Expected a readable %s file but could not read %s: %s" % (what, path, e)) from None
    im._gshell_tile = tile
    return im


def read_rgb(path):
    """Reads a colour photograph as linear RGB and its alpha channel.

    Args:
        path: an RGB or RGBA image file (PNG 8/16-bit, JPEG, ...).
    Returns:
        rgb (H, W, 3) float32 linear, straight (not premultiplied); alpha (H, W) float32 in
        [0, 1], or None when the file has no alpha channel.
    Raises:
        FileNotFoundError: the file is missing. ValueError: unreadable, or grayscale.
    """
    im = _load(path, "image")
    with im:
        if im.mode in _GRAY_MODES:
            raise ValueError("Expected a colour (RGB or RGBA) photograph but got a single-channel "
                             "(grayscale, mode %s) image %s" % (im.mode, path))
        a16 = _png16(path, im)
        if a16 is not None:
            a, top = a16, 65535.0
        else:
            alpha = im.mode in ("RGBA", "RGBa", "PA") or (im.mode in ("P", "RGB") and
                                                          "transparency" in im.info)
            a, top = np.asarray(im.convert("RGBA" if alpha else "RGB")), 255.0
    rgb = _lut(a.dtype)[a[..., :3]]
    alpha = (a[..., 3] * np.float32(1 / top)) if a.shape[-1] == 4 else None
    return rgb, alpha


_LUTS = {}


def _lut(dtype):
    """sRGB-to-linear float32 table of every 8- or 16-bit code (exact, and fast to apply)."""
    bits = 16 if dtype == np.uint16 else 8
    if bits not in _LUTS:
        top = (1 << bits) - 1
        _LUTS[bits] = srgb_to_linear(np.arange(top + 1) / top).astype(np.float32)
    return _LUTS[bits]


def read_mask(path):
    """Reads a mask image: its alpha channel if it has one, else the mean of its channels.

    Args:
        path: a grayscale, RGB or RGBA image (8 or 16 bit).
    Returns:
        (H, W) float32 in [0, 1] (values / 255 or / 65535; not sRGB-decoded).
    """
    im = _load(path, "mask")
    with im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            return (np.asarray(im, dtype=np.float64) / 65535.0).astype(np.float32)
        if im.mode in ("I", "F"):
            a = np.asarray(im, dtype=np.float64)
            top = 65535.0 if a.max(initial=0) > 255 else 255.0
            return np.clip(a / top, 0, 1).astype(np.float32)
        a16 = _png16(path, im)
        if a16 is not None:
            a, top = a16, 65535.0
        elif im.mode in ("1", "L"):
            a, top = np.asarray(im.convert("L"))[..., None], 255.0
        elif im.mode in ("LA", "La", "RGBA", "RGBa", "PA") or "transparency" in im.info:
            a, top = np.asarray(im.convert("RGBA")), 255.0
        else:
            a, top = np.asarray(im.convert("RGB")), 255.0
    a = a.astype(np.float64) / top
    m = a[..., 3] if a.shape[-1] == 4 else a.mean(-1)
    return m.astype(np.float32)


def downscaled_size(size, factor):
    """(H', W') of an (H, W) image downscaled by ``factor`` (>= 1): ``floor(n / factor + 0.5)``,
    at least 1."""
    h, w = size
    f = float(factor)
    return max(1, int(math.floor(h / f + 0.5))), max(1, int(math.floor(w / f + 0.5)))


def _area_axis(x, n_out, axis):
    """Exact area averaging of ``x`` along ``axis`` to ``n_out`` samples (pixels are boxes)."""
    n = x.shape[axis]
    if n_out == n:
        return x
    if n % n_out == 0:  # whole blocks
        k = n // n_out
        shape = x.shape[:axis] + (n_out, k) + x.shape[axis + 1:]
        return x.reshape(shape).mean(axis=axis + 1)
    xm = np.moveaxis(x, axis, 0).astype(np.float64)
    cum = np.concatenate([np.zeros((1,) + xm.shape[1:]), np.cumsum(xm, axis=0)], 0)
    b = np.arange(n_out + 1) * (n / n_out)  # output pixel boundaries in input pixels
    i = np.minimum(np.floor(b).astype(np.int64), n - 1)
    frac = (b - i).reshape((-1,) + (1,) * (xm.ndim - 1))
    integral = cum[i] + frac * xm[i]  # integral of the box-sampled signal from 0 to b
    out = (integral[1:] - integral[:-1]) / (n / n_out)
    return np.moveaxis(out, 0, axis).astype(x.dtype)


def downscale(img, factor):
    """Downscales an image by exact area averaging.

    Args:
        img: (H, W) or (H, W, C) float array (linear, premultiplied values).
        factor: a number >= 1 (integer or not); the output size is :func:`downscaled_size`.
    Returns:
        float array (H', W'[, C]) of the same dtype.
    """
    f = float(factor)
    if not (math.isfinite(f) and f >= 1):
        raise ValueError("Expected downscale >= 1 but got %r" % (factor,))
    h, w = img.shape[:2]
    h2, w2 = downscaled_size((h, w), f)
    return _area_axis(_area_axis(img, h2, 0), w2, 1)


def scale_intrinsics(K, size, new_size):
    """The intrinsics of an image resampled from ``size`` (H, W) to ``new_size`` (H', W') with
    the same field of view, pixel centres at integer coordinates: ``x' = (x + 0.5) s - 0.5``.

    Args:
        K: (3, 3) float64. Returns: (3, 3) float64.
    """
    (h, w), (h2, w2) = size, new_size
    sx, sy = w2 / w, h2 / h
    S = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
    return S @ np.asarray(K, np.float64)


def load_photo(path, mask_path=None, factor=1, fallback_mask_path=None):
    """A photograph as the readers store it: linear RGB premultiplied by its mask, downscaled.

    Args:
        path: the colour image.
        mask_path: an optional mask file (see :func:`read_mask`); it wins over the image's alpha.
        factor: downscale factor >= 1.
        fallback_mask_path: a mask file used only when the image has no alpha channel.
    Returns:
        dict with ``rgb`` (H', W', 3) float32 premultiplied, ``mask`` (H', W') float32 in [0, 1]
        (ones when neither a mask file nor alpha exists), ``has_mask`` bool, ``size`` (H, W) of
        the file before downscaling.
    """
    rgb, alpha = read_rgb(path)
    h, w = rgb.shape[:2]
    if mask_path is None and alpha is None:
        mask_path = fallback_mask_path
    if mask_path is not None:
        mask = read_mask(mask_path)
        if mask.shape != (h, w):
            raise ValueError("Expected mask %s of the size of its image %s (%dx%d) but got %dx%d"
                             % (mask_path, path, w, h, mask.shape[1], mask.shape[0]))
        has_mask, where = True, mask_path
    elif alpha is not None:
        mask, has_mask, where = alpha, True, path + " (alpha)"
    else:
        mask, has_mask, where = np.ones((h, w), np.float32), False, None
    if has_mask and not mask.max(initial=0) > 0:
        raise ValueError("Expected the mask of %s to cover some pixels but %s is all zero"
                         % (path, where))
    rgb *= mask[..., None]
    if float(factor) != 1:
        rgb, mask = downscale(rgb, factor), downscale(mask, factor)
    return {"rgb": np.ascontiguousarray(rgb, np.float32), "mask": np.ascontiguousarray(mask, np.float32),
            "has_mask": has_mask, "size": (h, w)}


def load_photos(paths, mask_paths=None, factor=1, fallback_mask_paths=None):
    """Loads a set of photographs of one size with :func:`load_photo`.

    Args:
        paths: N image files. mask_paths, fallback_mask_paths: N mask files or None each (or None).
        factor: downscale factor >= 1.
    Returns:
        rgb (N, H', W', 3) float32 premultiplied, mask (N, H', W') float32, has_mask (N,) bool
        numpy array, and the (H, W) of the files.
    Raises:
        ValueError naming the first file whose size differs from the first one's.
    """
    n = len(paths)
    mask_paths = [None] * n if mask_paths is None else mask_paths
    fallback_mask_paths = [None] * n if fallback_mask_paths is None else fallback_mask_paths
    rgb = mask = None
    has, size0 = np.zeros(n, bool), None
    for i, (p, mp, fp) in enumerate(zip(paths, mask_paths, fallback_mask_paths)):
        ph = load_photo(p, mp, factor, fp)
        if size0 is None:
            size0 = ph["size"]
            h, w = ph["mask"].shape
            rgb, mask = np.empty((n, h, w, 3), np.float32), np.empty((n, h, w), np.float32)
        elif ph["size"] != size0:
            raise ValueError("Expected every image of the set to be %dx%d (as %s) but %s is %dx%d"
                             % (size0[1], size0[0], paths[0], p, ph["size"][1], ph["size"][0]))
        rgb[i], mask[i], has[i] = ph["rgb"], ph["mask"], ph["has_mask"]
    return rgb, mask, has, size0

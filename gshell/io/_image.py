"""Texture images in and out (Pillow, imported when used)."""
import io
import os

import numpy as np


def read_image(path):
    """(H, W, 3 or 4) uint8 array of an image file (grey and palette images become RGB or RGBA).

    Raises:
        ValueError: the file is missing or not an image Pillow reads, naming it.
        ImportError: Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Reading textures needs Pillow: pip install pillow") from None
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise ValueError("Expected the texture image %r to exist but it does not" % p)
    try:
        with Image.open(p) as im:
            im = im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" and "transparency" in im.info
                            else "RGB")
            a = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError("Malformed texture image %r: %s" % (p, e)) from None
    if a.ndim != 3 or a.shape[2] == 4 and (a[..., 3] == 255).all():
        a = a[..., :3] if a.ndim == 3 else a
    return np.ascontiguousarray(a)


def encode_png(image):
    """PNG bytes of an (H, W, 3 or 4) uint8 array."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Writing textures needs Pillow: pip install pillow") from None
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()

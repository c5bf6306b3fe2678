"""Textured outputs of a reconstruction: a UV atlas, textures baked from a field over the surface,
the files a viewer opens, and Radiance HDR images for the light.

- :func:`uv_atlas` unwraps a mesh with xatlas (https://github.com/jpcy/xatlas), splitting the
  vertices along the chart seams.
- :func:`bake_textures` rasterizes the triangles in UV space with gshell's rasterizer, evaluates a
  field (the material network of the reconstruction) at the 3-D point under every texel centre and
  dilates the result past the chart borders, so that bilinear and mipmapped lookups near a seam do
  not fetch background.
- :func:`save_textured` writes ``<stem>.glb`` (glTF 2.0 metallic-roughness material) and
  ``<stem>.obj`` + ``.mtl`` + PNGs (the MTL PBR extension), all or nothing.
- :func:`write_hdr` / :func:`read_hdr`: Radiance RGBE ``.hdr`` images (the environment light).

UV conventions: ``uv`` follows OBJ and :mod:`gshell.io` (u to the right, v up, (0, 0) at the
bottom-left corner of the image). Texture arrays are stored as images are: row 0 is the top row,
so texel (row i, column j) covers u in [j, j + 1] / W and v in [H - 1 - i, H - i] / H. glTF puts
the UV origin at the top-left corner; :func:`save_textured` writes ``(u, 1 - v)`` there.
"""
import os
import re
import struct
import tempfile

import numpy as np
import torch

from gshell import _checks

__all__ = ["uv_atlas", "bake_textures", "save_textured", "write_hdr", "read_hdr"]

_NEED_XATLAS = ("uv_atlas needs xatlas (https://github.com/jpcy/xatlas): pip install xatlas "
                "(or pip install gshell-mesh[recon])")


# ----------------------------------------------------------------------------- input checks
def _mesh_checks(verts, faces, min_faces=1):
    _checks.tensor("verts", verts, dims=2, dtypes=_checks.FLOATS, shape=(None, 3))
    _checks.tensor("faces", faces, dims=2, dtypes=_checks.INTS, shape=(None, 3), device=verts.device)
    if faces.shape[0] < min_faces:
        raise ValueError("Expected faces with at least %d triangle but got %s" % (min_faces, _checks._desc(faces)))
    _checks.finite("verts", verts)
    _checks.index_range("faces", faces, verts.shape[0])


def _uv_checks(uv, verts):
    _checks.tensor("uv", uv, dims=2, dtypes=_checks.FLOATS, shape=(verts.shape[0], 2), device=verts.device)
    _checks.finite("uv", uv)
    if uv.numel():
        lo, hi = float(uv.detach().min()), float(uv.detach().max())
        if lo < 0 or hi > 1:
            raise ValueError("Expected uv in [0, 1] (one atlas, no tiling) but got values in [%g, %g]" % (lo, hi))


# ----------------------------------------------------------------------------- atlas
def uv_atlas(verts, faces, resolution=1024, padding=2):
    """Unwraps a triangle mesh into one UV atlas with xatlas.

    Vertices on a chart seam are duplicated (one copy per chart), so the result has one ``uv`` per
    vertex. Faces keep their order and winding: ``new_verts[new_faces[i]]`` is
    ``verts[faces[i]]``. Charts are packed for a square texture of ``resolution`` texels with
    ``padding`` texels between them and never overlap; the uv keep the charts' aspect (one texel is
    square), so part of the square may stay empty.

    Args:
        verts: (V, 3) float32|float64 tensor, finite, on any device.
        faces: (F, 3) int32|int64 tensor on verts' device, F >= 1.
        resolution: int in [16, 16384], the texture size the charts are packed for.
        padding: int in [0, 64], texels left between charts at that resolution (keep it at least
            1 for bilinear filtering).
    Returns:
        new_verts: (V', 3) tensor in verts' dtype and device (the used vertices, seams duplicated).
        new_faces: (F, 3) int64 tensor indexing new_verts.
        uv: (V', 2) float32 tensor in [0, 1] (OBJ convention: v up, origin at the image's
            bottom-left).
        vmap: (V',) int64 tensor, the original vertex of each new vertex
            (``new_verts == verts[vmap]``).
    Raises:
        ImportError: xatlas is not installed.
        TypeError, ValueError: invalid inputs, naming the argument.
    """
    _mesh_checks(verts, faces)
    resolution = _checks.integer("resolution", resolution, lo=16, hi=16384)
    padding = _checks.integer("padding", padding, lo=0, hi=64)
    try:
        import xatlas
    except ImportError:
        raise ImportError(_NEED_XATLAS) from None
    v = np.ascontiguousarray(verts.detach().cpu().numpy().astype(np.float32))
    f = np.ascontiguousarray(faces.detach().cpu().numpy().astype(np.uint32))
    atlas = xatlas.Atlas()
    atlas.add_mesh(v, f)
    chart_options = xatlas.ChartOptions()
    pack_options = xatlas.PackOptions()
    pack_options.resolution = resolution
    pack_options.padding = padding
    pack_options.bilinear = True
    atlas.generate(chart_options, pack_options)
    if atlas.atlas_count != 1:  # texels_per_unit is left 0, so xatlas sizes one atlas to fit
        raise RuntimeError("xatlas packed the charts into %d atlases instead of one" % atlas.atlas_count)
    vmap, new_f, uv = atlas[0]
    if new_f.shape[0] != f.shape[0]:
        raise RuntimeError("xatlas returned %d faces for %d" % (new_f.shape[0], f.shape[0]))
    # xatlas normalizes u by the atlas width and v by its height: rescale to a square texture
    w, h = float(atlas.width), float(atlas.height)
    side = max(w, h)
    uv = np.clip(uv.astype(np.float64) * np.array([w / side, h / side]), 0.0, 1.0)
    vmap_t = torch.from_numpy(vmap.astype(np.int64)).to(verts.device)
    return (verts.detach().index_select(0, vmap_t),
            torch.from_numpy(new_f.astype(np.int64)).to(verts.device),
            torch.from_numpy(uv.astype(np.float32)).to(verts.device), vmap_t)


# ----------------------------------------------------------------------------- baking
def _grow_ids(ids, steps):
    """Spreads triangle ids (R, R) int64 (0: none) into empty texels, ``steps`` rings deep: an
    empty texel next to filled ones takes the largest id among its 8 neighbours."""
    import torch.nn.functional as F

    x = ids.to(torch.float64)[None, None]   # ids < 2^24 + 1: exact in float64 (and float32)
    for _ in range(steps):
        grown = F.max_pool2d(x, 3, stride=1, padding=1)
        new = (x == 0) & (grown > 0)
        if not bool(new.any()):
            break
        x = torch.where(new, grown, x)
    return x[0, 0].round().long()


def _closest_weights(q, a, b, c):
    """Barycentric weights (K, 3) of the point of each 2-D triangle (a, b, c) (K, 2) closest to
    ``q`` (K, 2): q's own weights inside, the closest point of the nearest edge outside."""
    corners = torch.stack([a, b, c], 1)                      # (K, 3, 2)
    best_d = torch.full(q.shape[:1], float("inf"), dtype=q.dtype, device=q.device)
    best_w = q.new_zeros((q.shape[0], 3))
    for i, j in ((0, 1), (1, 2), (2, 0)):
        p0, p1 = corners[:, i], corners[:, j]
        e = p1 - p0
        t = (((q - p0) * e).sum(1) / (e * e).sum(1).clamp_min(1e-30)).clamp(0, 1)
        d = (p0 + t[:, None] * e - q).pow(2).sum(1)
        closer = d < best_d
        w = q.new_zeros((q.shape[0], 3))
        w[:, i], w[:, j] = 1 - t, t
        best_d = torch.where(closer, d, best_d)
        best_w = torch.where(closer[:, None], w, best_w)
    # inside: the point's own barycentrics (the edge projection would move it to the border)
    den = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
    l1 = ((q - a)[:, 0] * (c - a)[:, 1] - (q - a)[:, 1] * (c - a)[:, 0]) / torch.where(den == 0, 1.0, den)
    l2 = ((b - a)[:, 0] * (q - a)[:, 1] - (b - a)[:, 1] * (q - a)[:, 0]) / torch.where(den == 0, 1.0, den)
    inside = (den != 0) & (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
    own = torch.stack([1 - l1 - l2, l1, l2], 1)
    return torch.where(inside[:, None], own, best_w)


def bake_textures(verts, faces, uv, fn, resolution=1024, padding=4, backend="auto", chunk=65536):
    """Bakes a field over the surface into textures addressed by ``uv``.

    The triangles are rasterized in UV space (clip position (2u - 1, 2v - 1, 0, 1)) with
    :func:`gshell.render.rasterize`; the 3-D position under each covered texel centre is
    interpolated with :func:`gshell.render.interpolate` and passed to ``fn`` in chunks, without
    gradients. Texels whose centre no triangle covers are filled ``padding`` texels deep around
    each chart: such a texel takes a neighbouring texel's triangle and is evaluated at the point
    of that triangle closest (in UV) to its centre, so the chart's border values extend outwards
    and filtered lookups along seams stay on the surface's values.

    Args:
        verts: (V, 3) float32|float64 tensor, finite, on cpu or cuda (positions passed to ``fn``).
        faces: (F, 3) int32|int64 tensor on verts' device, 1 <= F < 2^24.
        uv: (V, 2) float32|float64 tensor on verts' device, in [0, 1] (OBJ convention, from
            :func:`uv_atlas`); triangles should not overlap in UV space.
        fn: callable ``fn(points) -> dict``: points (P, 3) in verts' dtype and device; the dict
            maps a texture name to a (P, C) or (P,) float tensor (e.g. ``{"albedo": (P, 3),
            "roughness": (P, 1)}``), the same names and channels for every call.
        resolution: int in [1, 16384], the texture size R.
        padding: int in [0, 1024], how many texels around the covered ones are filled (edge
            extension; keep it below half the gap between charts, see :func:`uv_atlas`).
        backend: "auto", "gshell" or "nvdiffrast" (see :func:`gshell.render.rasterize`).
        chunk: int >= 1, points per call of ``fn``.
    Returns:
        textures: dict name -> (R, R, C) float32 tensor on verts' device, image layout (row 0 at
            v = 1); texels neither covered nor within ``padding`` of a covered one are 0.
        mask: (R, R) bool tensor, texels whose centre a triangle covers.
    Raises:
        TypeError, ValueError: invalid inputs or an ``fn`` result of the wrong kind, naming it;
            ValueError when no texel centre is covered (resolution too small for the charts).

    Example:
        >>> v2, f2, uv, _ = uv_atlas(verts, faces)
        >>> tex, mask = bake_textures(v2, f2, uv, lambda p: {"albedo": material(p)[:, :3]})
    """
    from gshell.render import interpolate, rasterize

    _mesh_checks(verts, faces)
    _uv_checks(uv, verts)
    if not callable(fn):
        raise TypeError("Expected fn to be a callable points (P, 3) -> dict name -> (P, C) tensor but got %s"
                        % type(fn).__name__)
    R = _checks.integer("resolution", resolution, lo=1, hi=16384)
    padding = _checks.integer("padding", padding, lo=0, hi=1024)
    chunk = _checks.integer("chunk", chunk, lo=1)
    with torch.no_grad():
        uvf = uv.detach().float()
        pos = torch.cat([uvf * 2 - 1, torch.zeros_like(uvf[:, :1]), torch.ones_like(uvf[:, :1])], 1)[None]
        rast = rasterize(pos.contiguous(), faces, (R, R), backend=backend)
        points, _ = interpolate(verts.detach(), rast, faces, backend=backend)
        # raster row r is v = (r + 0.5) / R (row 0 at the bottom): flip to image rows
        rast, points = rast[0].flip(0), points[0].flip(0).to(verts.dtype)
        ids = rast[..., 3].round().long()                  # triangle id + 1, 0 where uncovered
        mask = ids > 0
        if not bool(mask.any()):
            raise ValueError("Expected the uv triangles to cover texel centres but none of the %d x %d "
                             "covers any (degenerate uv, or resolution too small)" % (R, R))
        # padding: each texel near a chart takes a neighbour's triangle and the point of that
        # triangle (in uv) closest to its centre: the chart's border values, extended outwards
        grown = _grow_ids(ids, padding)
        ring = (grown > 0) & ~mask
        filled = mask | ring
        rows, cols = ring.nonzero(as_tuple=True)
        q = torch.stack([(cols.to(torch.float64) + 0.5) / R, 1 - (rows.to(torch.float64) + 0.5) / R], 1)
        tri = faces.long()[grown[ring] - 1]                 # (K, 3)
        t2 = uv.detach().to(torch.float64)
        w = _closest_weights(q, t2[tri[:, 0]], t2[tri[:, 1]], t2[tri[:, 2]]).to(verts.dtype)
        points[ring] = (verts.detach()[tri] * w[..., None]).sum(1)
        pts = points[filled]
        out = {}
        for s in range(0, pts.shape[0], chunk):
            part = pts[s:s + chunk]
            res = fn(part)
            if not isinstance(res, dict) or not res:
                raise TypeError("Expected fn to return a non-empty dict name -> (P, C) tensor but got %s"
                                % (type(res).__name__ if not isinstance(res, dict) else "an empty dict"))
            if out and set(res) != set(out):
                raise ValueError("Expected fn to return the same names for every chunk (%s) but got %s"
                                 % (sorted(out), sorted(res)))
            for name, val in res.items():
                arg = "fn(points)[%r]" % (name,)
                if not isinstance(name, str):
                    raise TypeError("Expected fn to return str names but got %r" % (name,))
                _checks.tensor(arg, val, dtypes=_checks.FLOATS + (torch.float16, torch.bfloat16))
                if val.dim() == 1:
                    val = val[:, None]
                if val.dim() != 2 or val.shape[0] != part.shape[0] or val.shape[1] < 1:
                    raise ValueError("Expected %s of shape (%d, C) or (%d,) but got %s"
                                     % (arg, part.shape[0], part.shape[0], _checks._desc(val)))
                _checks.finite(arg, val)
                if name not in out:
                    out[name] = torch.empty((pts.shape[0], val.shape[1]), dtype=torch.float32, device=verts.device)
                elif out[name].shape[1] != val.shape[1]:
                    raise ValueError("Expected %s with %d channels as in the first chunk but got %s"
                                     % (arg, out[name].shape[1], _checks._desc(val)))
                out[name][s:s + part.shape[0]] = val.detach().to(device=verts.device, dtype=torch.float32)
        names = list(out)
        widths = [out[n].shape[1] for n in names]
        tex = torch.zeros((R, R, sum(widths)), dtype=torch.float32, device=verts.device)
        tex[filled] = torch.cat([out[n] for n in names], 1)
        textures = dict(zip(names, (t.contiguous() for t in tex.split(widths, dim=2))))
    return textures, mask


# ----------------------------------------------------------------------------- colour
def _to_numpy(name, x, kind="float"):
    if isinstance(x, torch.Tensor):
        a = x.detach().cpu().numpy()
    elif isinstance(x, np.ndarray):
        a = x
    else:
        raise TypeError("Expected %s to be a torch.Tensor or numpy.ndarray but got %s" % (name, type(x).__name__))
    if kind == "float" and not np.issubdtype(a.dtype, np.floating):
        raise TypeError("Expected %s of a floating dtype but got dtype %s" % (name, a.dtype))
    if kind == "int" and (not np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise TypeError("Expected %s of an integer dtype but got dtype %s" % (name, a.dtype))
    if kind == "float" and a.size and not np.isfinite(a).all():
        raise ValueError("Expected %s to be finite but it holds NaN/Inf" % name)
    return a


def _image(name, x, channels):
    """(H, W, channels) float64 array of a float image in [0, 1] (clamped); a single channel may
    come as (H, W)."""
    a = _to_numpy(name, x)
    if channels == 1 and a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] != channels or min(a.shape[:2]) < 1:
        want = "(H, W, 3)" if channels == 3 else "(H, W) or (H, W, 1)"
        raise ValueError("Expected %s of shape %s but got shape %s" % (name, want, tuple(a.shape)))
    return np.clip(a.astype(np.float64), 0, 1)


def _u8(a):
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


def _smooth_normals(v, f):
    """Area-weighted unit vertex normals, shared by the vertices at one position (so a UV seam,
    where the vertices are duplicated, does not show)."""
    _, weld = np.unique(v, axis=0, return_inverse=True)
    weld = weld.reshape(-1)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    ids = weld[f].reshape(-1)                      # each face's normal goes to its 3 corners
    w = np.repeat(fn, 3, axis=0)
    acc = np.stack([np.bincount(ids, w[:, k], minlength=weld.max() + 1) for k in range(3)], 1)
    n = acc[weld]
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.maximum(length, 1e-300), np.array([0.0, 0.0, 1.0]))


# ----------------------------------------------------------------------------- files
def _glb_bytes(v, f, n, uv, albedo_png, mr_png, name):
    """A GLB file (bytes): one primitive with POSITION, NORMAL, TEXCOORD_0 and one
    metallic-roughness material with two embedded PNG textures."""
    import json

    def pad(b, fill=b"\0"):
        return b + fill * (-len(b) % 4)

    blobs, views = [], []

    def view(data, target=None):
        off = sum(len(b) for b in blobs)
        views.append({"buffer": 0, "byteOffset": off, "byteLength": len(data)})
        if target is not None:
            views[-1]["target"] = target
        blobs.append(pad(data))
        return len(views) - 1

    tex = np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1)  # glTF: origin at the image's top-left
    accessors = [
        {"bufferView": view(v.astype("<f4").tobytes(), 34962), "componentType": 5126, "count": len(v),
         "type": "VEC3", "min": v.min(0).tolist(), "max": v.max(0).tolist()},
        {"bufferView": view(n.astype("<f4").tobytes(), 34962), "componentType": 5126, "count": len(v),
         "type": "VEC3"},
        {"bufferView": view(tex.astype("<f4").tobytes(), 34962), "componentType": 5126, "count": len(v),
         "type": "VEC2"},
        {"bufferView": view(f.astype("<u4").tobytes(), 34963), "componentType": 5125, "count": int(f.size),
         "type": "SCALAR"},
    ]
    images = [{"bufferView": view(albedo_png), "mimeType": "image/png", "name": name + "_albedo"},
              {"bufferView": view(mr_png), "mimeType": "image/png", "name": name + "_metallic_roughness"}]
    doc = {
        "asset": {"version": "2.0", "generator": "gshell"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2},
                                                  "indices": 3, "material": 0, "mode": 4}]}],
        "materials": [{"name": name, "doubleSided": True,
                       "pbrMetallicRoughness": {"baseColorTexture": {"index": 0},
                                                "metallicRoughnessTexture": {"index": 1},
                                                "baseColorFactor": [1.0, 1.0, 1.0, 1.0],
                                                "metallicFactor": 1.0, "roughnessFactor": 1.0}}],
        # linear filtering with mipmaps; clamp: an atlas does not tile
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "textures": [{"sampler": 0, "source": 0}, {"sampler": 0, "source": 1}],
        "images": images,
        "buffers": [{"byteLength": sum(len(b) for b in blobs)}],
        "bufferViews": views, "accessors": accessors,
    }
    js = pad(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    binary = b"".join(blobs)
    return b"".join([struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(js) + 8 + len(binary)),
                     struct.pack("<I4s", len(js), b"JSON"), js, struct.pack("<I4s", len(binary), b"BIN\0"),
                     binary])


def _obj_text(v, f, n, uv, stem):
    lines = ["# written by gshell", "mtllib %s.mtl" % stem, "o %s" % stem]
    lines += ["v %.9g %.9g %.9g" % tuple(p) for p in v.tolist()]
    lines += ["vt %.9g %.9g" % tuple(t) for t in uv.tolist()]
    lines += ["vn %.6g %.6g %.6g" % tuple(d) for d in n.tolist()]
    lines += ["usemtl %s" % stem]
    lines += ["f %d/%d/%d %d/%d/%d %d/%d/%d" % (a, a, a, b, b, b, c, c, c) for a, b, c in (f + 1).tolist()]
    return "\n".join(lines) + "\n"


def _mtl_text(stem, rough_mean, metal_mean):
    # Pr/Pm and map_Pr/map_Pm are the MTL PBR extension
    # (http://exocortex.com/blog/extending_wavefront_mtl_to_support_pbr), read by Blender's C++
    # OBJ importer (3.4: map_Pr -> Roughness, map_Pm -> Metallic of the Principled BSDF, the
    # scalars as its defaults), tinyobjloader, assimp and three.js. Ns carries the mean
    # roughness for readers without it (Blender's older importers map Ns in 0..1000 to
    # roughness 1 - sqrt(Ns / 1000)).
    ns = 1000.0 * (1.0 - rough_mean) ** 2
    return "\n".join([
        "# written by gshell: base colour (sRGB) and the PBR extension (roughness, metallic: linear)",
        "newmtl %s" % stem,
        "Ka 0 0 0", "Kd 1 1 1", "Ks 0.5 0.5 0.5", "Ns %.6g" % ns, "Ni 1.5", "d 1", "illum 2",
        "Pr %.6g" % rough_mean, "Pm %.6g" % metal_mean,
        "map_Kd %s_albedo.png" % stem,
        "map_Pr %s_roughness.png" % stem,
        "map_Pm %s_metallic.png" % stem,
    ]) + "\n"


def _write_all(files):
    """Writes ``files`` [(path, bytes)] all or none: every file goes to a temporary file beside
    its destination first (synced); only when all are written are they renamed into place, in
    order. On any failure the temporary files and the files this call created are removed."""
    staged, placed = [], []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, data in files:
            folder = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
            staged.append((tmp, path, os.path.exists(path)))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~umask)
        for tmp, path, existed in staged:
            os.replace(tmp, path)
            placed.append((path, existed))
    except BaseException:
        for tmp, _, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        for path, existed in placed:
            if not existed:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        raise


def save_textured(out_dir, verts, faces, uv, albedo, roughness, metallic, stem="mesh"):
    """Writes a textured mesh as ``<stem>.glb`` and ``<stem>.obj`` with its MTL and PNGs.

    - ``<stem>.glb``: glTF 2.0 with one metallic-roughness material: ``baseColorTexture`` is the
      albedo encoded in sRGB, ``metallicRoughnessTexture`` holds roughness in G and metallic in B
      (linear; R is 255), ``doubleSided`` is true (reconstructions are open surfaces), smooth
      vertex normals, TEXCOORD_0 = (u, 1 - v) (glTF's origin is the image's top-left).
    - ``<stem>.obj`` + ``<stem>.mtl`` + ``<stem>_albedo.png`` (sRGB RGB, ``map_Kd``),
      ``<stem>_roughness.png`` and ``<stem>_metallic.png`` (linear grey, ``map_Pr``/``map_Pm`` of
      the MTL PBR extension, with the mean values as ``Pr``/``Pm`` and ``Ns``); ``vt`` in the OBJ
      convention (v up), ``vn`` smooth normals.

    Every file is encoded first and written beside its destination as a temporary file; they are
    renamed into place only once all are written, so a failure leaves no file, partial or new.
    Note that Blender reads the PNGs of an OBJ as sRGB colour (only its glTF importer marks the
    roughness/metallic image as non-colour data): the GLB is the faithful file.

    Args:
        out_dir: folder (created when missing; its parent must exist unless it is a relative
            path below the working directory).
        verts: (V, 3) float tensor or array, finite. faces: (F, 3) int tensor or array, F >= 1.
        uv: (V, 2) float tensor or array in [0, 1] (OBJ convention, e.g. from :func:`uv_atlas`).
        albedo: (H, W, 3) float tensor or array, linear RGB in [0, 1] (clamped), image layout
            (row 0 is v = 1, as :func:`bake_textures` returns).
        roughness: (H2, W2) or (H2, W2, 1) float in [0, 1] (clamped).
        metallic: float in [0, 1] (clamped), the same shape as ``roughness``.
        stem: file name stem: letters, digits, ``_``, ``-``, ``.`` (no spaces: MTL paths are
            whitespace separated).
    Returns:
        dict of the written paths: ``glb``, ``obj``, ``mtl``, ``albedo``, ``roughness``,
        ``metallic``.
    Raises:
        TypeError, ValueError: invalid inputs, naming the argument (before anything is written).
        OSError: the folder cannot be created or written (nothing is left behind).
        ImportError: Pillow is not installed (it encodes the PNGs).
    """
    from gshell._atomic import make_folder
    from gshell.io._image import encode_png

    if not isinstance(stem, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", stem):
        raise ValueError("Expected stem to be a file name stem of letters, digits, '_', '-', '.' but got %r" % (stem,))
    v = _to_numpy("verts", verts).astype(np.float64)
    f = _to_numpy("faces", faces, kind="int")
    t = _to_numpy("uv", uv).astype(np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 1:
        raise ValueError("Expected verts of shape (V, 3) with V >= 1 but got shape %s" % (tuple(v.shape),))
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] < 1:
        raise ValueError("Expected faces of shape (F, 3) with F >= 1 but got shape %s" % (tuple(f.shape),))
    if f.min() < 0 or f.max() >= v.shape[0]:
        raise ValueError("Expected faces to hold indices in [0, %d) but got values in [%d, %d]"
                         % (v.shape[0], f.min(), f.max()))
    if t.shape != (v.shape[0], 2):
        raise ValueError("Expected uv of shape (%d, 2) (one per vertex) but got shape %s"
                         % (v.shape[0], tuple(t.shape)))
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError("Expected uv in [0, 1] but got values in [%g, %g]" % (t.min(), t.max()))
    alb = _image("albedo", albedo, 3)
    rough = _image("roughness", roughness, 1)[..., 0]
    metal = _image("metallic", metallic, 1)[..., 0]
    if rough.shape != metal.shape:
        raise ValueError("Expected roughness and metallic of one shape (they share the glTF "
                         "metallicRoughnessTexture) but got %s and %s" % (rough.shape, metal.shape))
    f = f.astype(np.int64)
    n = _smooth_normals(v, f)
    from gshell.render.color import linear_to_srgb

    albedo_png = encode_png(_u8(linear_to_srgb(torch.from_numpy(np.clip(alb, 0, 1))).numpy()))
    rough_png = encode_png(_u8(rough))
    metal_png = encode_png(_u8(metal))
    mr = np.stack([np.full(rough.shape, 255, np.uint8), _u8(rough), _u8(metal)], -1)
    glb = _glb_bytes(v.astype(np.float32), f, n, t, albedo_png, encode_png(mr), stem)
    obj = _obj_text(v, f, n, t, stem).encode("ascii")
    mtl = _mtl_text(stem, float(rough.mean()), float(metal.mean())).encode("ascii")

    folder = os.fspath(out_dir)
    created = make_folder(folder)
    paths = {k: os.path.join(folder, stem + s) for k, s in
             [("albedo", "_albedo.png"), ("roughness", "_roughness.png"), ("metallic", "_metallic.png"),
              ("mtl", ".mtl"), ("obj", ".obj"), ("glb", ".glb")]}
    try:
        _write_all([(paths["albedo"], albedo_png), (paths["roughness"], rough_png), (paths["metallic"], metal_png),
                    (paths["mtl"], mtl), (paths["obj"], obj), (paths["glb"], glb)])
    except OSError as e:
        if created:
            try:
                os.rmdir(folder)
            except OSError:
                pass
        msg = "Expected a writable folder out_dir but writing in %r failed: %s" % (folder, e.strerror or e)
        raise (type(e)(e.errno, msg) if e.errno is not None else type(e)(msg)) from e
    return paths


# ----------------------------------------------------------------------------- Radiance HDR
def write_hdr(path, image):
    """Writes a Radiance RGBE image (``.hdr``, flat scanlines, the ``-Y H +X W`` orientation:
    row 0 is the top), atomically.

    Each pixel keeps an 8-bit mantissa per channel and a shared exponent: the largest channel has
    a relative error below 1/128 (values are truncated, and read back at the texel's centre,
    as Radiance does), smaller channels an absolute error below 1/128 of the largest. Values
    below 1e-32 become 0.

    Args:
        path: destination file (its folder must exist).
        image: (H, W, 3) float tensor or array, linear RGB, finite, >= 0 and < 2^127.
    Raises:
        TypeError, ValueError: the image is not (H, W, 3), not finite, negative or too large.
    """
    from gshell._atomic import write_bytes

    a = _to_numpy("image", image).astype(np.float64)
    if a.ndim != 3 or a.shape[2] != 3 or min(a.shape[:2]) < 1:
        raise ValueError("Expected image of shape (H, W, 3) but got shape %s" % (tuple(a.shape),))
    if a.size and a.min() < 0:
        raise ValueError("Expected image >= 0 (RGBE holds no negative values) but got a minimum of %g" % a.min())
    m = a.max(2)
    if m.size and m.max() >= 2.0 ** 127:
        raise ValueError("Expected image values below 2^127 (the largest RGBE exponent) but got %g" % m.max())
    mant, e = np.frexp(m)
    ok = m >= 1e-32
    scale = np.where(ok, mant * 256.0 / np.where(ok, m, 1.0), 0.0)
    rgbe = np.zeros(a.shape[:2] + (4,), np.uint8)
    rgbe[..., :3] = np.clip(np.floor(a * scale[..., None]), 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(ok, e + 128, 0).astype(np.uint8)
    h, w = a.shape[:2]
    header = ("#?RADIANCE\n# written by gshell\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (h, w)).encode("ascii")
    write_bytes(path, [header, rgbe.tobytes()])


def _hdr_scanline(data, pos, width, name, row):
    """One scanline (width, 4) uint8 at ``data[pos:]`` (flat or new-style run-length encoded);
    returns it and the position after it."""
    head = data[pos:pos + 4]
    if 8 <= width <= 0x7FFF and len(head) == 4 and head[0] == 2 and head[1] == 2 and not head[2] & 0x80:
        if (head[2] << 8 | head[3]) != width:
            raise ValueError("Malformed HDR file %r: scanline %d has length %d, expected %d"
                             % (name, row, head[2] << 8 | head[3], width))
        pos += 4
        line = np.empty((4, width), np.uint8)
        for c in range(4):
            x = 0
            while x < width:
                if pos >= len(data):
                    raise ValueError("Malformed HDR file %r: data ends in scanline %d" % (name, row))
                count = data[pos]
                if count > 128:
                    count -= 128
                    if x + count > width or pos + 1 >= len(data):
                        raise ValueError("Malformed HDR file %r: bad run in scanline %d" % (name, row))
                    line[c, x:x + count] = data[pos + 1]
                    pos += 2
                else:
                    if count == 0 or x + count > width or pos + 1 + count > len(data):
                        raise ValueError("Malformed HDR file %r: bad run in scanline %d" % (name, row))
                    line[c, x:x + count] = np.frombuffer(data, np.uint8, count, pos + 1)
                    pos += 1 + count
                x += count
        return line.T, pos
    end = pos + 4 * width
    if end > len(data):
        raise ValueError("Malformed HDR file %r: data ends in scanline %d" % (name, row))
    line = np.frombuffer(data, np.uint8, 4 * width, pos).reshape(width, 4)
    if (line[:, :3] == 1).all(1).any():
        raise ValueError("Unsupported HDR file %r: old-style run-length encoding in scanline %d" % (name, row))
    return line, end


def read_hdr(path):
    """Reads a Radiance RGBE image (``.hdr``/``.pic``): flat or run-length encoded scanlines,
    any of the eight orientations of the resolution line. ``EXPOSURE`` lines are ignored (as
    most readers do).

    Args:
        path: a Radiance file.
    Returns:
        (H, W, 3) float32 tensor (CPU), linear RGB, row 0 at the top.
    Raises:
        ValueError: the file is missing, not a Radiance RGBE file, or malformed, naming it.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise ValueError("Expected the HDR file %r to exist but it does not" % p)
    with open(p, "rb") as fh:
        data = fh.read()
    if not data.startswith(b"#?"):
        raise ValueError("Expected a Radiance HDR file (starting with '#?') but %r starts with %r" % (p, data[:10]))
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise ValueError("Malformed HDR file %r: the header has no end" % p)
        line = data[pos:nl].strip()
        pos = nl + 1
        if not line:
            break
        if line.startswith(b"FORMAT=") and line[7:] != b"32-bit_rle_rgbe":
            raise ValueError("Unsupported HDR file %r: FORMAT=%s (only 32-bit_rle_rgbe)"
                             % (p, line[7:].decode("ascii", "replace")))
    nl = data.find(b"\n", pos)
    words = data[pos:nl if nl >= 0 else len(data)].split()
    if len(words) != 4 or words[0][1:] not in (b"X", b"Y") or words[2][1:] not in (b"X", b"Y") \
            or words[0][1:] == words[2][1:] or words[0][:1] not in b"+-" or words[2][:1] not in b"+-" \
            or not words[1].isdigit() or not words[3].isdigit():
        raise ValueError("Malformed HDR file %r: bad resolution line %r" % (p, data[pos:pos + 40]))
    pos = nl + 1
    n_lines, width = int(words[1]), int(words[3])
    if n_lines < 1 or width < 1 or n_lines * width > 1 << 30:
        raise ValueError("Malformed HDR file %r: resolution %d x %d" % (p, n_lines, width))
    rgbe = np.empty((n_lines, width, 4), np.uint8)
    for r in range(n_lines):
        rgbe[r], pos = _hdr_scanline(data, pos, width, p, r)
    e = rgbe[..., 3].astype(np.int32)
    f = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0)
    img = ((rgbe[..., :3].astype(np.float64) + 0.5) * f[..., None]).astype(np.float32)
    # orientation: the first word names the scanline axis; '-Y' is top to bottom, '+X' left to right
    if words[0][1:] == b"X":                 # scanlines are columns
        img = img.transpose(1, 0, 2)
        ydir, xdir = words[2][:1], words[0][:1]
    else:
        ydir, xdir = words[0][:1], words[2][:1]
    if ydir == b"+":
        img = img[::-1]
    if xdir == b"-":
        img = img[:, ::-1]
    return torch.from_numpy(np.ascontiguousarray(img))

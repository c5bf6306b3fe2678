"""Image-set readers (gshell.recon.datasets): each format written here as a tiny scene of a
sphere, its cameras checked against the format's own projection definition."""
import json
import os
import struct
import zlib

import numpy as np
import pytest
import torch

from gshell.recon.datasets import Dataset, carve_bbox, detect_format, load_dataset, to_grid_frame
from gshell.recon.datasets import _images
from gshell.recon.datasets._cameras import make_views

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

W, H = 32, 24
CENTER = np.array([0.1, -0.05, 0.2])
RADIUS = 0.35
POINTS = np.array([CENTER, CENTER + [RADIUS, 0, 0], CENTER + [0, -RADIUS, 0],
                   CENTER + [0, 0, RADIUS], CENTER + [0.2, 0.1, -0.15]])


# ------------------------------------------------------------------------------ the scene
def look_at_cv(eye, target=CENTER, up=(0.0, 0.0, 1.0)):
    """OpenCV world-to-camera (x right, y down, z forward) looking from eye at target."""
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    w2c = np.eye(4)
    w2c[:3, :3] = np.stack([x, y, z])
    w2c[:3, 3] = -w2c[:3, :3] @ eye
    return w2c


def cameras(n, dist=2.0, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        az = 2 * np.pi * i / n + 0.1 * rng.standard_normal()
        el = 0.5 * np.sin(1.7 * i) + 0.1
        eye = CENTER + dist * np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
        out.append(look_at_cv(eye, CENTER + 0.03 * rng.standard_normal(3)))
    return out


def render(K, w2c, w=W, h=H):
    """(rgb uint8 (h, w, 3), mask bool (h, w)) of the sphere; K with pixel centres at integers."""
    j, i = np.mgrid[0:h, 0:w]
    pix = np.stack([i, j, np.ones_like(i)], -1).reshape(-1, 3).astype(np.float64)
    d = pix @ np.linalg.inv(K).T @ w2c[:3, :3]  # world ray directions
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    c = -w2c[:3, :3].T @ w2c[:3, 3]
    oc = c - CENTER
    b = (d * oc).sum(1)
    disc = b * b - (oc * oc).sum() + RADIUS ** 2
    hit = disc > 0
    tt = -b - np.sqrt(np.maximum(disc, 0))
    n = (c + tt[:, None] * d - CENTER) / RADIUS
    rgb = np.clip(0.5 + 0.45 * n, 0, 1) * hit[:, None]
    return (rgb * 255 + 0.5).astype(np.uint8).reshape(h, w, 3), hit.reshape(h, w)


def pixels_from_views(views, X, to_grid=True):
    """(N, P, 2) pixel positions of world points X through mvp (clip -> NDC -> pixel, y down),
    and the same through K, w2c."""
    Xw = np.c_[X, np.ones(len(X))]
    g = np.linalg.inv(views.to_world.double().numpy()) @ Xw.T if to_grid else Xw.T
    h, w = views.resolution
    clip = views.mvp.double().numpy() @ g  # (N, 4, P)
    ndc = clip[:, :2] / clip[:, 3:4]
    px = np.stack([((ndc[:, 0] + 1) * w - 1) / 2, ((ndc[:, 1] + 1) * h - 1) / 2], -1)
    cam = views.w2c.double().numpy() @ g
    k = views.K.double().numpy() @ cam[:, :3]
    return px, np.moveaxis(k[:, :2] / k[:, 2:3], 1, 2)


def save_png(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path)


def write_png16(path, a):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour)."""
    h, w, c = a.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------------------ writers
def gl_c2w(w2c):
    return np.linalg.inv(w2c) @ np.diag([1.0, -1, -1, 1])


def write_synthetic(root, n_train=4, n_test=2, angle_x=1.0):
    """NeRF-synthetic layout: RGBA PNGs, camera_angle_x, file_path without extension."""
    fx = 0.5 * W / np.tan(0.5 * angle_x)
    K = np.array([[fx, 0, W / 2 - 0.5], [0, fx, H / 2 - 0.5], [0, 0, 1]])
    cams = cameras(n_train + n_test + 1)
    splits = {"train": cams[:n_train], "test": cams[n_train:n_train + n_test],
              "val": cams[n_train + n_test:]}
    for split, cs in splits.items():
        frames = []
        for i, w2c in enumerate(cs):
            rgb, m = render(K, w2c)
            save_png(os.path.join(root, split, "r_%d.png" % i),
                     np.dstack([rgb, (m * 255).astype(np.uint8)]))
            frames.append({"file_path": "./%s/r_%d" % (split, i), "rotation": 0.0,
                           "transform_matrix": gl_c2w(w2c).tolist()})
        with open(os.path.join(root, "transforms_%s.json" % split), "w") as f:
            json.dump({"camera_angle_x": angle_x, "frames": frames}, f)
    return splits


NS = {"fl_x": 30.0, "fl_y": 26.0, "cx": 17.3, "cy": 10.1, "w": W, "h": H}


def write_nerfstudio(root, n=6, **extra):
    """nerfstudio layout: transforms.json with fl_x != fl_y, off-centre cx, cy, JPEG images and
    mask_path PNG masks."""
    K = np.array([[NS["fl_x"], 0, NS["cx"] - 0.5], [0, NS["fl_y"], NS["cy"] - 0.5], [0, 0, 1]])
    cams = cameras(n, seed=1)
    frames = []
    for i, w2c in enumerate(cams):
        rgb, m = render(K, w2c)
        os.makedirs(os.path.join(root, "images"), exist_ok=True)
        Image.fromarray(rgb).save(os.path.join(root, "images", "frame_%05d.jpg" % i), quality=95)
        save_png(os.path.join(root, "masks", "frame_%05d.png" % i), (m * 255).astype(np.uint8))
        frames.append({"file_path": "images/frame_%05d.jpg" % i,
                       "mask_path": "masks/frame_%05d.png" % i,
                       "transform_matrix": gl_c2w(w2c).tolist()})
    meta = dict(NS, camera_model="OPENCV", k1=0.0, k2=0.0, p1=0.0, p2=0.0, frames=frames)
    meta.update(extra)
    with open(os.path.join(root, "transforms.json"), "w") as f:
        json.dump(meta, f)
    return cams


def blender_expected(c2w, X, fx, fy, cx, cy):
    """Pixel (integer centres) of world points X by the Blender/instant-ngp definition."""
    Xc = (np.linalg.inv(c2w) @ np.c_[X, np.ones(len(X))].T)[:3]  # OpenGL camera: looks down -Z
    u = cx + fx * Xc[0] / -Xc[2]
    v = cy - fy * Xc[1] / -Xc[2]
    return np.stack([u, v], -1) - 0.5


NEUS_K = np.array([[30.0, 0.2, 16.8], [0, 26.0, 9.6], [0, 0, 1]])


def write_neus(root, n=6, mask_mode="folder"):
    cams = cameras(n, seed=2)
    data = {}
    for i, w2c in enumerate(cams):
        rgb, m = render(NEUS_K, w2c)
        if mask_mode == "folder":
            save_png(os.path.join(root, "image", "%03d.png" % i), rgb)
            save_png(os.path.join(root, "mask", "%03d.png" % i),
                     np.repeat((m * 255).astype(np.uint8)[..., None], 3, -1))
        else:
            save_png(os.path.join(root, "image", "%03d.png" % i),
                     np.dstack([rgb, (m * 255).astype(np.uint8)]))
        P = np.eye(4)
        P[:3, :4] = NEUS_K @ w2c[:3]
        data["world_mat_%d" % i] = P * (-2.0 if i == 1 else 1.0)  # P is defined up to scale
        S = np.diag([0.5, 0.5, 0.5, 1.0])
        S[:3, 3] = CENTER
        data["scale_mat_%d" % i] = S
    np.savez(os.path.join(root, "cameras_sphere.npz"), **data)
    return data


def write_colmap(root, n=6, model="PINHOLE", params=(30.0, 26.0, 17.3, 10.1), text=False,
                 masks=True, sub=os.path.join("sparse", "0")):
    import pycolmap

    rec = pycolmap.Reconstruction()
    cam = pycolmap.Camera.create_from_model_name(1, model, 30.0, W, H)
    cam.params = list(params)
    rec.add_camera_with_trivial_rig(cam)
    fx, fy, cx, cy = (params[0], params[0], params[1], params[2]) if model.startswith("SIMPLE") \
        else params[:4]
    K = np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1]])
    for i, w2c in enumerate(cameras(n, seed=3)):
        name = "img_%02d.png" % i
        rgb, m = render(K, w2c)
        save_png(os.path.join(root, "images", name), rgb)
        if masks:
            save_png(os.path.join(root, "masks", name + ".png"), (m * 255).astype(np.uint8))
        im = pycolmap.Image(name=name, camera_id=1, image_id=i + 1)
        rec.add_image_with_trivial_frame(im, pycolmap.Rigid3d(w2c[:3]))
    rng = np.random.default_rng(0)
    for _ in range(40):
        d = rng.standard_normal(3)
        rec.add_point3D(CENTER + RADIUS * d / np.linalg.norm(d), pycolmap.Track())
    out = os.path.join(root, sub)
    os.makedirs(out, exist_ok=True)
    (rec.write_text if text else rec.write)(out)
    return rec


# ------------------------------------------------------------------------------ images
def test_srgb_reference():
    x = _images.srgb_to_linear(np.array([0.0, 0.02, 0.04045, 0.5, 1.0]))
    np.testing.assert_allclose(x, [0.0, 0.02 / 12.92, 0.0031308049, 0.2140411405, 1.0], rtol=1e-7, atol=1e-10)


def test_png16_jpeg_and_masks(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 65536, (H, W, 4)).astype(np.uint16)
    write_png16(str(tmp_path / "c16.png"), a[..., :3])
    write_png16(str(tmp_path / "c16a.png"), a)
    rgb, alpha = _images.read_rgb(str(tmp_path / "c16.png"))
    assert alpha is None and rgb.dtype == np.float32 and rgb.shape == (H, W, 3)
    np.testing.assert_allclose(rgb, _images.srgb_to_linear(a[..., :3] / 65535.0), atol=1e-6)
    rgb, alpha = _images.read_rgb(str(tmp_path / "c16a.png"))
    np.testing.assert_allclose(alpha, a[..., 3] / 65535.0, atol=1e-6)
    np.testing.assert_allclose(_images.read_mask(str(tmp_path / "c16a.png")), a[..., 3] / 65535.0, atol=1e-6)
    Image.fromarray(a[..., 0]).save(tmp_path / "m16.png")  # 16-bit grayscale mask
    np.testing.assert_allclose(_images.read_mask(str(tmp_path / "m16.png")), a[..., 0] / 65535.0, atol=1e-6)
    rgb8 = np.zeros((H, W, 3), np.uint8) + np.array([200, 100, 50], np.uint8)
    Image.fromarray(rgb8).save(tmp_path / "c.jpg", quality=95)
    rgb, alpha = _images.read_rgb(str(tmp_path / "c.jpg"))
    assert alpha is None
    ref = np.broadcast_to(_images.srgb_to_linear(rgb8 / 255.0), rgb.shape)
    np.testing.assert_allclose(rgb, ref, atol=0.01)
    Image.fromarray(rgb8).save(tmp_path / "m.png")  # an RGB mask: the mean of the channels
    np.testing.assert_allclose(_images.read_mask(str(tmp_path / "m.png")), 350 / 3 / 255, atol=1e-6)


def test_downscale_area():
    x = np.arange(4 * 6, dtype=np.float32).reshape(4, 6)
    np.testing.assert_allclose(_images.downscale(x, 2), x.reshape(2, 2, 3, 2).mean((1, 3)))
    row = np.array([[3.0, 6.0, 9.0]])
    np.testing.assert_allclose(_images.downscale(row, 1.5), [[(3 + 0.5 * 6) / 1.5, (0.5 * 6 + 9) / 1.5]])
    y = np.random.default_rng(0).random((24, 32, 3))
    z = _images.downscale(y, 1.7)
    assert z.shape == (14, 19, 3)
    np.testing.assert_allclose(z.mean((0, 1)), y.mean((0, 1)), rtol=1e-9)
    with pytest.raises(ValueError, match="downscale"):
        _images.downscale(y, 0.5)


# ------------------------------------------------------------------------------ readers
def check_cameras(views, expected, atol=2e-3):
    px, pk = pixels_from_views(views, POINTS)
    np.testing.assert_allclose(pk, expected, atol=atol)
    np.testing.assert_allclose(px, expected, atol=atol)


def test_blender_synthetic(tmp_path):
    splits = write_synthetic(str(tmp_path))
    ds = load_dataset(str(tmp_path))
    assert isinstance(ds, Dataset) and ds.format == "blender" and ds.has_masks
    assert len(ds.train) == 4 and len(ds.test) == 2  # val is not trained on
    assert ds.train.names == ["r_0", "r_1", "r_2", "r_3"] and ds.test.names == ["r_0", "r_1"]
    assert ds.train.rgb.shape == (4, H, W, 3) and ds.train.mask.shape == (4, H, W)
    assert ds.train.y_down and ds.train.rgb.dtype == torch.float32
    fx = 0.5 * W / np.tan(0.5)
    for views, cams in ((ds.train, splits["train"]), (ds.test, splits["test"])):
        exp = np.stack([blender_expected(gl_c2w(w2c), POINTS, fx, fx, W / 2, H / 2) for w2c in cams])
        check_cameras(views, exp)
    # premultiplied: no colour outside the mask; campos consistent with w2c
    assert float(ds.train.rgb[ds.train.mask == 0].abs().max()) == 0
    R, t = ds.train.w2c[:, :3, :3], ds.train.w2c[:, :3, 3]
    campos = -(R.transpose(1, 2) @ t[..., None])[..., 0]
    torch.testing.assert_close(ds.train.campos, campos, atol=1e-5, rtol=0)


def test_blender_nerfstudio_and_downscale(tmp_path):
    cams = write_nerfstudio(str(tmp_path))
    ds = load_dataset(str(tmp_path))
    assert len(ds.train) == 5 and len(ds.test) == 1 and ds.test.names == ["frame_00000"]
    exp = np.stack([blender_expected(gl_c2w(w), POINTS, NS["fl_x"], NS["fl_y"], NS["cx"], NS["cy"])
                    for w in cams])
    check_cameras(ds.train, exp[1:])
    check_cameras(ds.test, exp[:1])
    # the mask came from mask_path; JPEG colour is linear and premultiplied
    assert ds.has_masks and set(np.unique(ds.train.mask.numpy())) <= {0.0, 1.0}
    for factor in (2, 1.5):
        d2 = load_dataset(str(tmp_path), downscale=factor, bbox=ds.bbox)
        h2, w2 = _images.downscaled_size((H, W), factor)
        assert d2.train.resolution == (h2, w2) and d2.train.rgb.shape[1:3] == (h2, w2)
        sx, sy = w2 / W, h2 / H
        e2 = np.stack([(exp[1:, ..., 0] + 0.5) * sx - 0.5, (exp[1:, ..., 1] + 0.5) * sy - 0.5], -1)
        check_cameras(d2.train, e2)
    # max_views: evenly spaced training subset, test kept whole
    d3 = load_dataset(str(tmp_path), max_views=2, bbox=ds.bbox)
    assert d3.train.names == ["frame_00001", "frame_00005"] and len(d3.test) == 1


def test_neus(tmp_path):
    data = write_neus(str(tmp_path))
    ds = load_dataset(str(tmp_path))
    assert ds.format == "neus" and ds.has_masks
    np.testing.assert_allclose(ds.bbox, [CENTER - 0.5, CENTER + 0.5])
    assert ds.test.names == ["000"] and ds.train.names == ["001", "002", "003", "004", "005"]
    exp = []
    for i in range(6):
        p = np.c_[POINTS, np.ones(len(POINTS))] @ data["world_mat_%d" % i][:3].T
        exp.append(p[:, :2] / p[:, 2:])
    exp = np.stack(exp)
    check_cameras(ds.train, exp[1:])
    check_cameras(ds.test, exp[:1])
    # the box centre is the grid's origin, its side 0.9
    g = np.linalg.inv(ds.train.to_world.double().numpy()) @ np.r_[CENTER + 0.5, 1]
    np.testing.assert_allclose(g[:3], [0.45, 0.45, 0.45], atol=1e-6)


def test_neus_alpha_masks(tmp_path):
    write_neus(str(tmp_path), mask_mode="alpha")
    ds = load_dataset(str(tmp_path), downscale=2)
    assert ds.has_masks and ds.train.resolution == (H // 2, W // 2)


def test_colmap_binary_with_masks(tmp_path):
    pytest.importorskip("pycolmap")
    rec = write_colmap(str(tmp_path))
    ds = load_dataset(str(tmp_path))
    assert ds.format == "colmap" and ds.has_masks
    ims = sorted(rec.images.values(), key=lambda im: im.name)
    exp = np.stack([np.stack([np.asarray(im.project_point(X)).reshape(2) for X in POINTS])
                    for im in ims]) - 0.5  # COLMAP: centre of the top-left pixel at (0.5, 0.5)
    check_cameras(ds.train, exp[1:])
    check_cameras(ds.test, exp[:1])
    assert ds.test.names == ["img_00"]
    lo, hi = ds.bbox
    assert np.all(lo <= CENTER - RADIUS) and np.all(hi >= CENTER + RADIUS)
    # masks named by the image stem (masks/img_00.png) are found too
    for i in range(6):
        os.rename(os.path.join(str(tmp_path), "masks", "img_%02d.png.png" % i),
                  os.path.join(str(tmp_path), "masks", "img_%02d.png" % i))
    d2 = load_dataset(str(tmp_path), bbox=ds.bbox)
    assert d2.has_masks
    torch.testing.assert_close(d2.train.mask, ds.train.mask)


def test_colmap_text_without_masks(tmp_path):
    pytest.importorskip("pycolmap")
    write_colmap(str(tmp_path), text=True, masks=False, sub="sparse", model="SIMPLE_RADIAL",
                 params=(28.0, 16.1, 11.9, 0.0))  # zero distortion: a pinhole
    ds = load_dataset(str(tmp_path))
    assert not ds.has_masks and float(ds.train.mask.min()) == 1.0
    lo, hi = ds.bbox  # from the sparse points
    assert np.all(lo <= CENTER - 0.8 * RADIUS) and np.all(hi >= CENTER + 0.8 * RADIUS)
    assert np.all(hi - lo < 4 * RADIUS)


def test_colmap_distortion_refused(tmp_path):
    pytest.importorskip("pycolmap")
    write_colmap(str(tmp_path), model="OPENCV", params=(30.0, 26.0, 17.3, 10.1, 0.1, 0, 0, 0))
    with pytest.raises(ValueError, match="OPENCV.*image_undistorter"):
        load_dataset(str(tmp_path))


def test_detect_format(tmp_path):
    import gshell.recon

    assert gshell.recon.load_dataset is load_dataset and gshell.recon.Dataset is Dataset
    with pytest.raises(ValueError, match="transforms.*cameras_sphere.npz.*sparse"):
        detect_format(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_dataset(str(tmp_path / "nope"))
    write_neus(str(tmp_path / "n"), n=2)
    assert detect_format(str(tmp_path / "n")) == "neus"
    write_nerfstudio(str(tmp_path / "b"), n=2)
    assert detect_format(str(tmp_path / "b")) == "blender"
    (tmp_path / "c" / "sparse").mkdir(parents=True)
    (tmp_path / "c" / "sparse" / "cameras.txt").write_text("")
    assert detect_format(str(tmp_path / "c")) == "colmap"


# ------------------------------------------------------------------------------ box and frame
def memory_views(n=12, w=64, h=48):
    K = np.array([[50.0, 0, 31.0], [0, 46.0, 22.5], [0, 0, 1]])
    cams = cameras(n, dist=2.2, seed=4)
    masks = np.stack([render(K, c, w, h)[1] for c in cams]).astype(np.float32)
    return make_views(np.repeat(K[None], n, 0), np.stack(cams), np.zeros(masks.shape + (3,), np.float32),
                      masks, ["v%d" % i for i in range(n)])


def test_carve_bbox():
    views = memory_views()
    lo, hi = carve_bbox(views, margin=0.0)
    assert np.all(lo <= CENTER - RADIUS) and np.all(hi >= CENTER + RADIUS)
    assert np.all(hi - lo <= 2 * RADIUS * 1.35), (lo, hi)
    lo2, hi2 = carve_bbox(views, margin=0.1)
    np.testing.assert_allclose(hi2 - lo2, (hi - lo) + 0.2 * (hi - lo).max(), rtol=1e-9)
    empty = make_views(views.K.numpy(), views.w2c.numpy(), views.rgb.numpy(),
                       np.zeros_like(views.mask.numpy()), views.names)
    with pytest.raises(ValueError, match="v0"):
        carve_bbox(empty)


def test_to_grid_frame_round_trip():
    views = memory_views(n=4)
    box = np.stack([CENTER - [0.4, 0.3, 0.5], CENTER + [0.4, 0.3, 0.5]])
    g = to_grid_frame(views, box, extent=0.9)
    T = g.to_world.double().numpy()
    np.testing.assert_allclose(np.diag(T)[:3], 1.0 / 0.9, rtol=1e-6)  # uniform, no rotation
    gp = np.linalg.inv(T) @ np.c_[POINTS, np.ones(len(POINTS))].T
    np.testing.assert_allclose((T @ gp)[:3].T, POINTS, atol=1e-6)
    corner = np.linalg.inv(T) @ np.r_[box[1], 1]
    np.testing.assert_allclose(corner[:3], [0.36, 0.27, 0.45], atol=1e-6)
    before = pixels_from_views(views, POINTS, to_grid=False)
    after = pixels_from_views(g, POINTS)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-3)
    # the clip planes bracket the grid cube: every grid point in front lands in (-1, 1) NDC depth
    cube = np.array(np.meshgrid([-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5])).reshape(3, -1).T
    clip = g.mvp.double().numpy() @ np.c_[cube, np.ones(8)].T
    z = clip[:, 2] / clip[:, 3]
    assert np.all(np.abs(z) < 1)
    R = g.w2c[:, :3, :3]
    torch.testing.assert_close(R, views.w2c[:, :3, :3])


# ------------------------------------------------------------------------------ bad inputs
def _edit_json(path, fn):
    with open(path) as f:
        meta = json.load(f)
    fn(meta)
    with open(path, "w") as f:
        json.dump(meta, f)


def test_bad_blender_inputs(tmp_path):
    root = str(tmp_path)
    write_synthetic(root, n_train=3, n_test=1)
    tj = os.path.join(root, "transforms_train.json")
    os.remove(os.path.join(root, "train", "r_1.png"))
    with pytest.raises(FileNotFoundError, match="r_1"):
        load_dataset(root)
    with open(os.path.join(root, "train", "r_1.png"), "wb") as f:
        f.write(b"not a png")
    with pytest.raises(ValueError, match="r_1.png"):
        load_dataset(root)
    save_png(os.path.join(root, "train", "r_1.png"), np.zeros((H, W), np.uint8))  # grayscale
    with pytest.raises(ValueError, match="single-channel.*r_1.png"):
        load_dataset(root)
    save_png(os.path.join(root, "train", "r_1.png"), np.zeros((H + 2, W, 4), np.uint8) + 255)
    with pytest.raises(ValueError, match="r_1.png is 32x26"):
        load_dataset(root)
    save_png(os.path.join(root, "train", "r_1.png"), np.zeros((H, W, 4), np.uint8))  # alpha all 0
    with pytest.raises(ValueError, match="r_1.png.*all zero"):
        load_dataset(root)
    save_png(os.path.join(root, "train", "r_1.png"), np.zeros((H, W, 4), np.uint8) + 255)

    def scale(meta):
        meta["frames"][0]["transform_matrix"] = (np.array(meta["frames"][0]["transform_matrix"])
                                                 @ np.diag([2.0, 2, 2, 1])).tolist()
    _edit_json(tj, scale)
    with pytest.raises(ValueError, match="transforms_train.json.*rotation"):
        load_dataset(root)
    _edit_json(tj, lambda m: m["frames"][0].__setitem__("transform_matrix", [[float("nan")] * 4] * 4))
    with pytest.raises(ValueError, match="finite.*transforms_train.json"):
        load_dataset(root)
    _edit_json(tj, lambda m: m["frames"][0].pop("transform_matrix"))
    with pytest.raises(ValueError, match="transform_matrix.*transforms_train.json"):
        load_dataset(root)
    with open(tj, "w") as f:
        f.write('{"frames": [')
    with pytest.raises(ValueError, match="JSON.*transforms_train.json"):
        load_dataset(root)


def test_bad_nerfstudio_inputs(tmp_path):
    root = str(tmp_path)
    write_nerfstudio(root, n=3, k1=0.05)
    with pytest.raises(ValueError, match="transforms.json.*distortion k1=0.05"):
        load_dataset(root)
    _edit_json(os.path.join(root, "transforms.json"),
               lambda m: [m.pop(k) for k in ("k1", "fl_x", "fl_y")])
    with pytest.raises(ValueError, match="focal length.*transforms.json"):
        load_dataset(root)


def test_bad_neus_inputs(tmp_path):
    root = str(tmp_path)
    data = write_neus(root, n=3)
    npz = os.path.join(root, "cameras_sphere.npz")
    np.savez(npz, **{k: v for k, v in data.items() if k != "world_mat_2"})
    with pytest.raises(ValueError, match="cameras_sphere.npz.*2 cameras for 3 images"):
        load_dataset(root)
    bad = dict(data, world_mat_1=data["world_mat_1"] * np.nan)
    np.savez(npz, **bad)
    with pytest.raises(ValueError, match="finite world_mat_1.*cameras_sphere.npz"):
        load_dataset(root)
    np.savez(npz, **data)
    save_png(os.path.join(root, "mask", "001.png"), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(ValueError, match="001.png.*all zero"):
        load_dataset(root)
    os.remove(os.path.join(root, "mask", "001.png"))
    with pytest.raises(ValueError, match="2 masks for 3 images"):
        load_dataset(root)

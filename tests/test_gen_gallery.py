"""The sample gallery of gshell.gen.gallery: a PNG of rows x columns tiles with shaded meshes,
back faces tinted, blank tiles for empty meshes, framed neighbour tiles, atomic writes; and
nearest_shapes finds the nearest reference by Chamfer distance."""
import math
import os

import numpy as np
import pytest
import torch

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from gshell.gen.collection import make_garment  # noqa: E402
from gshell.gen.gallery import CAMERAS, nearest_shapes, render_gallery  # noqa: E402

RES = 64


@pytest.fixture(scope="module")
def garments():
    return {k: make_garment(k, 0, res=16)[:2] for k in ("shirt", "skirt", "hood", "trousers")}


def _square(flip=False):
    """A square in the plane z = 0, facing +z (the front camera) unless flipped."""
    a = 0.3
    v = np.array([[-a, -a, 0], [a, -a, 0], [a, a, 0], [-a, a, 0]], np.float32)
    f = np.array([[0, 1, 2], [0, 2, 3]], np.int64)
    return v, (f[:, ::-1].copy() if flip else f)


def _tiles(path, res=RES):
    img = np.asarray(Image.open(path).convert("RGB")).astype(np.int32)
    rows, cols = img.shape[0] // res, img.shape[1] // res
    return img, [[img[r * res:(r + 1) * res, c * res:(c + 1) * res] for c in range(cols)] for r in range(rows)]


def _bluish(t):
    """Pixels of front faces: blue over red."""
    return int(((t[..., 2] - t[..., 0]) > 10).sum())


def _reddish(t):
    """Pixels of back faces: red over blue."""
    return int(((t[..., 0] - t[..., 2]) > 10).sum())


def test_grid_shape_and_every_mesh_tile_is_drawn(tmp_path, garments):
    ms = list(garments.values())
    path = tmp_path / "g.png"
    assert render_gallery(ms, path, views=3, res=RES) == (4, 3)
    img, tiles = _tiles(path)
    assert img.shape == (4 * RES, 3 * RES, 3)
    for row in tiles:
        for t in row:
            inner = t[2:-2, 2:-2]
            assert (inner != 255).any(axis=-1).sum() > 40         # a shape, not background
            assert _bluish(inner) > 20
            assert (t[0] == 255).all() and (t[:, 0] == 255).all()  # framed in background: the box fits
    # different cameras see different pictures
    assert not np.array_equal(tiles[0][0], tiles[0][1]) and not np.array_equal(tiles[0][1], tiles[0][2])

    # every view, torch tensors as input, bigger tiles
    path6 = tmp_path / "g6.png"
    tv = [(torch.from_numpy(v), torch.from_numpy(f)) for v, f in ms[:2]]
    assert render_gallery(tv, path6, views=len(CAMERAS), res=80) == (2, 8)
    assert len(CAMERAS) == 8 and Image.open(path6).size == (8 * 80, 2 * 80)
    _, t6 = _tiles(path6, 80)
    for row in t6:
        assert all((t != 255).any(axis=-1).sum() > 40 for t in row)
        assert len({t.tobytes() for t in row}) == 8


def test_back_faces_are_tinted(tmp_path):
    path = tmp_path / "sq.png"
    render_gallery([_square(), _square(flip=True)], path, views=1, res=RES)
    _, tiles = _tiles(path)
    front, back = tiles[0][0], tiles[1][0]
    assert _bluish(front) > 500 and _reddish(front) == 0
    assert _reddish(back) > 500 and _bluish(back) == 0
    # the same pixels are covered either way
    assert np.array_equal((front != 255).any(-1), (back != 255).any(-1))


def test_open_mesh_shows_its_inside(tmp_path, garments):
    path = tmp_path / "hood.png"
    render_gallery([garments["hood"]], path, views=1, res=RES)   # the front camera looks into the hood
    _, tiles = _tiles(path)
    assert _reddish(tiles[0][0]) > 50 and _bluish(tiles[0][0]) > 20


def test_empty_meshes_get_blank_tiles(tmp_path, garments):
    empties = [(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)),
               (torch.rand(5, 3), torch.zeros(0, 3, dtype=torch.int64))]        # vertices, no faces
    path = tmp_path / "e.png"
    assert render_gallery([garments["skirt"]] + empties, path, views=2, res=RES) == (3, 2)
    _, tiles = _tiles(path)
    assert _bluish(tiles[0][0]) > 20
    for r in (1, 2):
        for t in tiles[r]:
            assert (t[..., 0] == t[..., 1]).all() and (t[..., 1] == t[..., 2]).all()   # grey only
            assert (t != 255).all()                      # not background: marked as blank
            assert len(np.unique(t[..., 0])) > 1        # the note is written


def test_neighbour_column_and_titles(tmp_path, garments):
    ms = [garments["shirt"], garments["skirt"], garments["hood"]]
    path = tmp_path / "n.png"
    got = render_gallery(ms, path, views=2, res=RES, titles=["shirt", "skirt", ""],
                         neighbours=[garments["trousers"], None, garments["hood"]])
    assert got == (3, 3)
    img, tiles = _tiles(path)
    assert img.shape == (3 * RES, 3 * RES, 3)
    for r in range(3):
        t = tiles[r][2]
        for edge in (t[0], t[-1], t[:, 0], t[:, -1]):       # the frame
            assert (edge == (40, 140, 90)).all()
    assert _bluish(tiles[0][2][3:-3, 3:-3]) > 20                       # the trousers are drawn
    none = tiles[1][2][3:-3, 3:-3]
    assert (none[..., 0] == none[..., 2]).all() and (none != 255).all()  # "no neighbour": blank
    # the neighbour tile is the three-quarter view of the neighbour
    alone = tmp_path / "alone.png"
    render_gallery([garments["hood"]], alone, views=2, res=RES)
    _, a = _tiles(alone)
    border = max(2, RES // 48)
    diff = np.abs(a[0][1] - tiles[2][2])[border:-border, border:-border].any(-1)
    assert diff.sum() < 0.05 * diff.size           # the same picture but for the "nearest" label
    # titles are drawn in the first tile's top-left corner only
    plain = tmp_path / "plain.png"
    render_gallery(ms, plain, views=2, res=RES, neighbours=[garments["trousers"], None, garments["hood"]])
    _, p = _tiles(plain)
    assert not np.array_equal(p[0][0][:16], tiles[0][0][:16])
    assert np.array_equal(p[0][1], tiles[0][1]) and np.array_equal(p[2][0], tiles[2][0])


def test_bad_inputs_are_refused_and_leave_no_file(tmp_path, garments):
    g = garments["skirt"]
    path = tmp_path / "x.png"
    bad_calls = [
        (TypeError, "meshes", dict(meshes=g)),                                # not a list
        (ValueError, "meshes", dict(meshes=[])),
        (TypeError, r"meshes\[1\]", dict(meshes=[g, make_garment("hood", 0, res=16)])),   # 3-tuple
        (ValueError, r"meshes\[0\] faces", dict(meshes=[(g[0], g[1] + 10 ** 6)])),
        (ValueError, r"meshes\[0\] verts.*finite", dict(meshes=[(np.full((3, 3), np.nan), [[0, 1, 2]])])),
        (ValueError, r"meshes\[0\] verts", dict(meshes=[(g[0][:, :2], g[1])])),
        (ValueError, r"meshes\[0\] faces", dict(meshes=[(g[0], g[1].astype(np.float32))])),
        (ValueError, "views", dict(meshes=[g], views=0)),
        (ValueError, "views", dict(meshes=[g], views=len(CAMERAS) + 1)),
        (TypeError, "views", dict(meshes=[g], views=2.0)),
        (ValueError, "res", dict(meshes=[g], res=8)),
        (ValueError, "titles", dict(meshes=[g], titles=["a", "b"])),
        (TypeError, "titles", dict(meshes=[g], titles=[3])),
        (ValueError, "neighbours", dict(meshes=[g], neighbours=[g, g])),
        (TypeError, r"neighbours\[0\]", dict(meshes=[g], neighbours=[g[0]])),
    ]
    for exc, match, kw in bad_calls:
        with pytest.raises(exc, match=match):
            render_gallery(path=path, **kw)
        assert not path.exists()
    with pytest.raises(ValueError, match="png"):
        render_gallery([g], tmp_path / "x.jpg")
    with pytest.raises(FileNotFoundError):
        render_gallery([g], tmp_path / "missing" / "x.png")
    assert sorted(os.listdir(tmp_path)) == []

    # an existing picture is untouched by a failed call; a failed write leaves no temporary file
    render_gallery([g], path, views=1, res=RES)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        render_gallery([g, (g[0], g[1] - 1)], path, views=1, res=RES)
    assert path.read_bytes() == before
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OSError):
        render_gallery([g], tmp_path / "dir.png", views=1, res=RES)     # rendered, then the rename fails
    assert sorted(os.listdir(tmp_path)) == ["dir.png", "x.png"]


def test_nearest_shapes_finds_the_translated_copy(garments):
    shirt, skirt, hood, trousers = (garments[k] for k in ("shirt", "skirt", "hood", "trousers"))
    shift = np.float32([0.02, -0.01, 0.0])
    reference = [skirt, (torch.from_numpy(hood[0] + shift), torch.from_numpy(hood[1])), trousers, shirt]
    generated = [hood, shirt, (np.zeros((0, 3)), np.zeros((0, 3), np.int64)), (skirt[0] * 1.02, skirt[1])]
    idx, dist = nearest_shapes(generated, reference, n_points=1024, seed=0)
    assert idx.dtype == np.int64 and dist.dtype == np.float64 and idx.shape == dist.shape == (4,)
    assert idx.tolist() == [1, 3, -1, 0]
    assert math.isinf(dist[2])
    # the translated copy is at about |shift|^2 (plus sampling noise): far nearer than any other shape
    assert dist[0] < 3 * float((shift ** 2).sum()) + 1e-3
    idx2, dist2 = nearest_shapes(generated, reference, n_points=1024, seed=0)
    assert np.array_equal(idx, idx2) and np.array_equal(dist, dist2)
    _, dist3 = nearest_shapes(generated, reference, n_points=1024, seed=1)
    assert not np.array_equal(dist[:2], dist3[:2])

    with pytest.raises(ValueError, match=r"reference\[1\]"):
        nearest_shapes([hood], [skirt, (np.zeros((0, 3)), np.zeros((0, 3), np.int64))])
    with pytest.raises(ValueError, match="generated"):
        nearest_shapes([], [skirt])
    with pytest.raises(TypeError, match="reference"):
        nearest_shapes([hood], skirt)
    with pytest.raises(ValueError, match="n_points"):
        nearest_shapes([hood], [skirt], n_points=0)

"""Photometric reconstruction: the committed photographs of assets/photo_skirt (rendered by
Blender's Cycles, an independent renderer), a short run that must lower the image loss and the
Chamfer distance, and the command's outputs (textured GLB/OBJ, light, test renders, metrics)."""
import json
import os

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSET = os.path.join(ROOT, "assets", "photo_skirt")


def _tiny_config(**kw):
    from gshell.recon import ReconConfig

    base = dict(grid_res=(16,), steps=(40,), image_res=(48,), views_per_step=2, outside_views=8,
                visibility_every=20, surface="open")
    base.update(kw)
    return ReconConfig(**base)


def test_photometric_reconstruction_lowers_image_loss_and_chamfer():
    from gshell import metrics
    from gshell.io import load_mesh
    from gshell.recon import reconstruct
    from gshell.recon.datasets import load_dataset

    ds = load_dataset(ASSET, downscale=4, max_views=12)
    assert ds.train.rgb is not None and ds.train.depth is None
    gt_v, gt_f = load_mesh(os.path.join(ASSET, "mesh_gt.ply"))
    res0 = reconstruct(ds.train, _tiny_config(steps=(1,)), quiet=True)
    res = reconstruct(ds.train, _tiny_config(steps=(80,)), quiet=True)
    first = np.mean([h["rgb"] for h in res.history[:5]])
    last = np.mean([h["rgb"] for h in res.history[-5:]])
    assert last < 0.7 * first, (first, last)
    c0 = metrics.chamfer_distance(res0.verts, res0.faces, gt_v, gt_f, n=20000)
    c1 = metrics.chamfer_distance(res.verts, res.faces, gt_v, gt_f, n=20000)
    assert c1 < 0.7 * c0, (c0, c1)
    # the result is in the dataset's coordinates: its box is near the ground truth's
    lo, hi = res.verts.min(0).values, res.verts.max(0).values
    glo, ghi = gt_v.min(0).values, gt_v.max(0).values
    assert torch.allclose(lo, glo, atol=0.1) and torch.allclose(hi, ghi, atol=0.1), (lo, hi, glo, ghi)


def test_reconstruct_images_command_writes_every_output(tmp_path):
    import trimesh

    from gshell.cli import main

    out = tmp_path / "photo"
    argv = ["reconstruct", "--images", ASSET, "--gt", os.path.join(ASSET, "mesh_gt.ply"),
            "--downscale", "4", "--max-views", "8", "--grid-res", "16", "--steps", "12",
            "--image-res", "40", "--texture-res", "64", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    for name in ("mesh.ply", "mesh.glb", "mesh.obj", "mesh.mtl", "light.hdr", "metrics.json",
                 "comparison.png"):
        assert (out / name).is_file(), name
    with open(os.path.join(ASSET, "transforms_test.json")) as fh:
        test_names = sorted(os.path.basename(f["file_path"]) for f in json.load(fh)["frames"])
    assert sorted(p[:-4] for p in os.listdir(out / "test")) == test_names
    from PIL import Image

    with Image.open(out / "test" / (test_names[0] + ".png")) as im:
        assert im.mode == "RGBA" and im.size == (64, 64)
    rep = json.loads((out / "metrics.json").read_text())
    for key in ("chamfer", "fscore", "normal_consistency", "boundary_loops_pred"):
        assert key in rep
    # the default surface="auto" ran both kinds and says which it kept
    assert set(rep["surface_scores"]) == {"open", "closed"} and rep["surface"] in rep["surface_scores"]
    assert np.isfinite(rep["test"]["psnr"]) and 0 < rep["test"]["ssim"] <= 1
    scene = trimesh.load(out / "mesh.glb")
    geom = list(scene.geometry.values())[0]
    assert geom.visual.material.baseColorTexture is not None
    assert geom.visual.uv.shape == (len(geom.vertices), 2)
    # a second run into the same folder refuses without --force
    assert main(argv) != 0


def test_reconstruct_images_resume(tmp_path, monkeypatch):
    """A run resumed from its step-3 or step-9 checkpoint ends where the uninterrupted run ends."""
    import shutil

    from gshell.recon import pipeline, reconstruct
    from gshell.recon.datasets import load_dataset

    ds = load_dataset(ASSET, downscale=8, max_views=4)
    cfg = _tiny_config(grid_res=(12, 16), steps=(6, 6), image_res=(24, 24), checkpoint_every=3)
    save = pipeline._save_checkpoint

    def keep_copies(path, geo, step, *a, **kw):
        save(path, geo, step, *a, **kw)
        shutil.copy(path, str(tmp_path / ("step%d.pt" % step)))

    monkeypatch.setattr(pipeline, "_save_checkpoint", keep_copies)
    full = reconstruct(ds.train, cfg, out_dir=str(tmp_path), quiet=True)
    for step in (3, 9):  # inside the first stage and inside the second
        os.makedirs(tmp_path / str(step))
        shutil.copy(str(tmp_path / ("step%d.pt" % step)), str(tmp_path / str(step) / "checkpoint.pt"))
        again = reconstruct(ds.train, cfg, out_dir=str(tmp_path / str(step)), quiet=True, resume=True)
        assert torch.equal(again.faces, full.faces) and torch.allclose(again.verts, full.verts), step
        assert len(again.history) == len(full.history)
    with pytest.raises(ValueError, match="same settings"):
        other = _tiny_config(grid_res=(12, 16), steps=(6, 6), image_res=(24, 24), checkpoint_every=3, seed=3)
        reconstruct(ds.train, other, out_dir=str(tmp_path / "3"), quiet=True, resume=True)


def test_reconstruct_auto_resumes_inside_its_closed_run(tmp_path, monkeypatch):
    """surface="auto" keeps one checkpoint per kind: interrupted in the closed run (the open
    one finished), it resumes both and ends where the uninterrupted run ends."""
    import shutil

    from gshell.recon import pipeline, reconstruct
    from gshell.recon.datasets import load_dataset

    ds = load_dataset(ASSET, downscale=8, max_views=4)
    cfg = _tiny_config(grid_res=(12,), steps=(9,), image_res=(24,), checkpoint_every=3,
                       surface="auto", fill_every=3, carve_start=0.0)
    save = pipeline._save_checkpoint

    def keep_copies(path, geo, step, *a, **kw):
        save(path, geo, step, *a, **kw)
        shutil.copy(path, str(tmp_path / ("%s.%d" % (os.path.basename(path), step))))

    monkeypatch.setattr(pipeline, "_save_checkpoint", keep_copies)
    full = reconstruct(ds.train, cfg, out_dir=str(tmp_path), quiet=True)
    assert set(full.scores) == {"open", "closed"}
    os.makedirs(tmp_path / "again")
    shutil.copy(str(tmp_path / "checkpoint_open.pt.9"), str(tmp_path / "again" / "checkpoint_open.pt"))
    shutil.copy(str(tmp_path / "checkpoint_closed.pt.3"), str(tmp_path / "again" / "checkpoint_closed.pt"))
    again = reconstruct(ds.train, cfg, out_dir=str(tmp_path / "again"), quiet=True, resume=True)
    assert again.surface == full.surface and again.scores == pytest.approx(full.scores)
    assert torch.equal(again.faces, full.faces) and torch.allclose(again.verts, full.verts)


@pytest.mark.parametrize("argv, message", [
    (["--images", "nope_dir"], "not a folder"),
    (["--images", ASSET, "--bbox", "0,0,1"], "6 numbers"),
    (["--images", ASSET, "--downscale", "0.5"], "--downscale"),
    (["--images", ASSET, "mesh.ply"], "one of"),
])
def test_reconstruct_images_command_errors(tmp_path, capsys, argv, message):
    from gshell.cli import main

    assert main(["reconstruct"] + argv + ["--out", str(tmp_path / "o")]) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not os.listdir(tmp_path / "o")

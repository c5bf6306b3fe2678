"""The end-to-end reconstruction job behind ``gshell reconstruct`` and ``make demo``: load targets,
reconstruct, write the mesh, a comparison picture and the metrics."""
import json
import os
import time

import torch

from gshell._atomic import write_bytes
from gshell.recon.pipeline import ReconConfig, reconstruct
from gshell.recon.report import comparison_image, save_png
from gshell.recon.views import load_neus, normalize_mesh, synthetic_views

__all__ = ["run"]

FORMATS = ("ply", "obj", "glb")


def _load_mesh(path):
    from gshell.io import load_mesh

    if not os.path.exists(path):
        raise FileNotFoundError("Expected a mesh file but %r does not exist" % path)
    verts, faces = load_mesh(path)
    if faces.shape[0] == 0:
        raise ValueError("Expected a target mesh with faces but %r has none" % path)
    return verts.float(), faces.long()


def run(out_dir, mesh=None, neus=None, images=None, gt=None, n_views=24, config=None,
        formats=("ply",), quiet=False, device="cpu", backend="auto", log=print, downscale=1,
        max_views=None, bbox=None, resume=False, texture_res=1024):
    """Reconstructs a mesh and writes it with its report into ``out_dir``.

    Sources (exactly one): ``mesh`` (any format gshell.io reads; its renderings are the targets),
    ``neus`` (a NeuS scene folder, masks only) or ``images`` (a calibrated image set in any
    format :func:`gshell.recon.datasets.load_dataset` reads: photometric reconstruction with a
    learned material and light).

    Writes ``mesh.<fmt>`` and ``comparison.png``; with ``images`` also ``mesh.glb``, ``mesh.obj``
    (+ ``.mtl``, textures), ``light.hdr``, ``test/<frame>.png`` and ``metrics.json`` (PSNR and
    SSIM on the test views); with a target mesh (``mesh``, or ``gt`` for image sets: in the
    dataset's coordinates) ``metrics.json`` holds the surface metrics too.

    Returns:
        dict: the metrics plus ``seconds`` and the written ``files``.
    """
    from gshell import _checks, metrics
    from gshell._atomic import make_folder
    from gshell.io import save_mesh

    if sum(x is not None for x in (mesh, neus, images)) != 1:
        raise ValueError("Expected exactly one of a target mesh, a NeuS folder or an image set")
    if gt is not None and mesh is not None:
        raise ValueError("Expected gt only with an image set or a NeuS folder (a target mesh is "
                         "its own ground truth)")
    for f in formats:
        if f not in FORMATS:
            raise ValueError("Expected output formats among %s but got %r" % (", ".join(FORMATS), f))
    cfg = config if config is not None else ReconConfig()
    device = _checks.device("device", device)
    t0 = time.perf_counter()
    dataset = None
    if gt is not None:
        gt = _load_mesh(gt)
    if mesh is not None:
        gt = _load_mesh(mesh)
        verts, to_world = normalize_mesh(gt[0])
        views = synthetic_views(verts.to(device), gt[1].to(device), n_views=n_views,
                                resolution=max(cfg.image_res), backend=backend)
        views.to_world = to_world
        log("targets: %s, %d views at %d^2 (rendered)" % (mesh, n_views, max(cfg.image_res)))
    elif neus is not None:
        views = load_neus(neus, max_views=n_views).to(device)
        log("targets: %s, %d views at %dx%d" % (neus, len(views), views.resolution[1], views.resolution[0]))
    else:
        from gshell.recon.datasets import load_dataset

        dataset = load_dataset(images, downscale=downscale, max_views=max_views, bbox=bbox)
        if not dataset.has_masks:
            raise ValueError("Expected masks (an alpha channel or a masks/ folder) in %s: "
                             "reconstruction needs the object's silhouettes" % images)
        views = dataset.train.to(device)
        log("targets: %s (%s), %d train and %d test views at %dx%d" % (
            images, dataset.format, len(views), len(dataset.test), views.resolution[1],
            views.resolution[0]))
    make_folder(out_dir)  # only once every input has been read
    result = reconstruct(views, cfg, out_dir=out_dir, quiet=quiet, backend=backend, resume=resume)
    files = []
    for f in formats:
        path = os.path.join(out_dir, "mesh.%s" % f)
        save_mesh(path, result.verts, result.faces)
        files.append(path)
    # picture in the grid frame (where the views live)
    inv = torch.linalg.inv(views.to_world.to(result.verts))
    grid_verts = result.verts @ inv[:3, :3].T + inv[:3, 3]
    png = os.path.join(out_dir, "comparison.png")
    save_png(png, comparison_image(views, grid_verts, result.faces, n=6, backend=backend))
    files.append(png)
    report = {"seconds_optimisation": result.seconds, "faces": int(result.faces.shape[0]),
              "vertices": int(result.verts.shape[0]), "surface": result.surface}
    if result.scores:
        report["surface_scores"] = result.scores
        log("surface: %s (training image loss %s)" % (result.surface, ", ".join(
            "%s %.5f" % kv for kv in sorted(result.scores.items()))))
    if result.material is not None and result.faces.shape[0]:
        from gshell.recon.outputs import save_appearance, write_test_renders

        files += save_appearance(out_dir, result, texture_res=texture_res, backend=backend)
        if len(dataset.test):
            test = write_test_renders(out_dir, result, dataset.test, backend=backend)
            files += test.pop("files")
            report["test"] = test
            log("test views: PSNR %.2f dB, SSIM %.4f (%s)" % (test["psnr"], test["ssim"], test["background"]))
    if gt is not None and result.faces.shape[0]:
        m = metrics.compare_meshes(result.verts, result.faces, gt[0], gt[1], n=100000)
        report.update(m)
    if gt is not None or "test" in report:
        path = os.path.join(out_dir, "metrics.json")
        write_bytes(path, [json.dumps(report, indent=2).encode("utf-8")])
        files.append(path)
    report["seconds"] = time.perf_counter() - t0
    report["files"] = files
    return report

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


def run(out_dir, mesh=None, neus=None, n_views=24, config=None, formats=("ply",), quiet=False,
        device="cpu", backend="auto", log=print):
    """Reconstructs a mesh from a target mesh's renderings (``mesh``, any format gshell.io reads) or from a NeuS
    scene folder (``neus``), and writes ``mesh.<fmt>``, ``comparison.png`` and, with a target
    mesh, ``metrics.json`` into ``out_dir``.

    Returns:
        dict: metrics (with a target mesh) plus ``seconds`` and the written ``files``.
    """
    from gshell import _checks, metrics
    from gshell._atomic import make_folder
    from gshell.io import save_mesh

    if (mesh is None) == (neus is None):
        raise ValueError("Expected exactly one of a target mesh or a NeuS folder")
    for f in formats:
        if f not in FORMATS:
            raise ValueError("Expected output formats among %s but got %r" % (", ".join(FORMATS), f))
    cfg = config if config is not None else ReconConfig()
    device = _checks.device("device", device)
    make_folder(out_dir)
    t0 = time.perf_counter()
    gt = None
    if mesh is not None:
        gt = _load_mesh(mesh)
        verts, to_world = normalize_mesh(gt[0])
        views = synthetic_views(verts.to(device), gt[1].to(device), n_views=n_views,
                                resolution=max(cfg.image_res), backend=backend)
        views.to_world = to_world
        log("targets: %s, %d views at %d^2 (rendered)" % (mesh, n_views, max(cfg.image_res)))
    else:
        views = load_neus(neus, max_views=n_views).to(device)
        log("targets: %s, %d views at %dx%d" % (neus, len(views), views.resolution[1], views.resolution[0]))
    result = reconstruct(views, cfg, out_dir=out_dir, quiet=quiet, backend=backend)
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
              "vertices": int(result.verts.shape[0])}
    if gt is not None and result.faces.shape[0]:
        m = metrics.compare_meshes(result.verts, result.faces, gt[0], gt[1], n=100000)
        report.update(m)
        path = os.path.join(out_dir, "metrics.json")
        write_bytes(path, [json.dumps(report, indent=2).encode("utf-8")])
        files.append(path)
    report["seconds"] = time.perf_counter() - t0
    report["files"] = files
    return report

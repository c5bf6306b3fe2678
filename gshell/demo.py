"""The demo: extract a G-Shell mesh from an analytic SDF/mSDF pair, write it as PLY, print statistics.

The SDF is a sphere of radius 0.35 (negative inside) and the mSDF is ``0.2 - z``, so the open
mesh is the part of the sphere below z = 0.2: a bowl with one circular boundary loop.

Run it with ``gshell demo [--res 64] [--out out/demo.ply]`` (:mod:`gshell.cli.demo`),
``python -m gshell.demo`` or ``gshell.demo.run()``.
"""
import math
import os
import sys
import time

RADIUS = 0.35
CUT_Z = 0.2


def _analytic_fields(p):
    sdf = p.norm(dim=-1) - RADIUS
    msdf = CUT_Z - p[:, 2]
    return sdf, msdf


def _surface_area(verts, faces):
    if faces.shape[0] == 0:
        return 0.0
    v = verts[faces]
    return float(0.5 * (v[:, 1] - v[:, 0]).cross(v[:, 2] - v[:, 0], dim=-1).norm(dim=-1).sum())


def _signed_volume(verts, faces):
    v = verts[faces].double()
    return float((v[:, 0] * v[:, 1].cross(v[:, 2], dim=-1)).sum() / 6.0)


def run(res=64, out="out/demo.ply", device="cpu", verbose=True, stream=None):
    """Runs the demo and returns its statistics.

    Args:
        res: grid resolution (cubes per axis), >= 2.
        out: path of the mesh to write, in the format of its extension (PLY keeps the per-vertex
            msdf; a missing folder is made as :func:`gshell._atomic.make_folder` says), or None to skip writing.
        device: "cpu" or "cuda".
        verbose: print the statistics.
        stream: where to print (default sys.stdout).
    Returns:
        dict with the grid size, vertex/face counts, boundary loops, closedness, areas, timings.
    """
    import torch

    import gshell
    import gshell.io
    from gshell._atomic import make_folder
    from gshell import _checks
    from gshell.topology import edge_face_counts

    stream = stream or sys.stdout
    if isinstance(res, bool) or not isinstance(res, int) or res < 2:
        raise ValueError("Expected res to be an integer >= 2 but got %r" % (res,))
    device = _checks.device("device", device)
    fmt = gshell.io.format_of(out) if out else None  # an unknown extension fails before the work

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    t0 = time.perf_counter()
    grid = gshell.TetGrid.regular(res, device=device)
    grid.kernel_tables()  # static topology, once per grid
    sync()
    t_grid = time.perf_counter() - t0

    p = grid.vertices
    sdf, msdf = _analytic_fields(p)
    gshell.gshell_extract(p, sdf, msdf, grid)  # warm-up (first-call overheads)
    sync()
    t0 = time.perf_counter()
    result = gshell.gshell_extract(p, sdf, msdf, grid)
    sync()
    t_extract = time.perf_counter() - t0

    wv, wf = result.watertight_verts.detach(), result.watertight_faces
    ov, of = result.verts.detach(), result.faces
    counts = torch.from_numpy(edge_face_counts(wf, wv.shape[0])[1])
    closed = bool(wf.shape[0] > 0 and (counts == 2).all())
    ocounts = torch.from_numpy(edge_face_counts(of, ov.shape[0])[1])
    radius_err = float((wv.norm(dim=-1) - RADIUS).abs().max()) if wv.shape[0] else float("nan")
    stats = {
        "res": res,
        "device": str(device),
        "grid_vertices": grid.num_vertices,
        "grid_tets": grid.num_tets,
        "watertight_vertices": int(wv.shape[0]),
        "watertight_faces": int(wf.shape[0]),
        "watertight_closed": closed,
        "watertight_area": _surface_area(wv, wf),
        "watertight_volume": _signed_volume(wv, wf),
        "open_vertices": int(ov.shape[0]),
        "open_faces": int(of.shape[0]),
        "open_boundary_edges": int((ocounts == 1).sum()),
        "open_nonmanifold_edges": int((ocounts > 2).sum()),
        "boundary_loops": int(result.boundary_loops),
        "open_area": _surface_area(ov, of),
        "max_radius_error": radius_err,
        "time_grid_s": t_grid,
        "time_extract_s": t_extract,
        "out": None,
    }
    t0 = time.perf_counter()
    if out:
        make_folder(os.path.dirname(os.fspath(out)) or ".")
        lost = gshell.io.save_mesh(out, ov, of, attributes={"msdf": result.msdf.detach()})
        stats["out"] = os.fspath(out)
        stats["out_format"] = fmt
        stats["out_msdf"] = not lost
        stats["out_bytes"] = os.path.getsize(out)
    stats["time_write_s"] = time.perf_counter() - t0
    if verbose:
        _print_stats(stats, stream)
    return stats


def _print_stats(s, stream):
    h = 1.0 / s["res"]
    sphere_area = 4 * math.pi * RADIUS ** 2
    bowl_area = 2 * math.pi * RADIUS * (RADIUS + CUT_Z)
    sphere_vol = 4 / 3 * math.pi * RADIUS ** 3
    lines = [
        "gshell demo: sphere r=%.2f (SDF), kept where msdf = %.1f - z > 0 (an open bowl)" % (RADIUS, CUT_Z),
        "  grid            res %d: %d vertices, %d tets (%s), spacing %.4f"
        % (s["res"], s["grid_vertices"], s["grid_tets"], s["device"], h),
        "  watertight mesh %d vertices, %d faces, closed: %s (every edge in exactly 2 faces)"
        % (s["watertight_vertices"], s["watertight_faces"], "yes" if s["watertight_closed"] else "NO"),
        "                  area %.4f (sphere %.4f), volume %.5f (sphere %.5f, > 0: outward normals)"
        % (s["watertight_area"], sphere_area, s["watertight_volume"], sphere_vol),
        "                  max | |v| - r | = %.2e (grid spacing^2 = %.2e)" % (s["max_radius_error"], h * h),
        "  open mesh       %d vertices, %d faces, %d boundary loop(s) (%d boundary edges, %d non-manifold)"
        % (s["open_vertices"], s["open_faces"], s["boundary_loops"], s["open_boundary_edges"],
           s["open_nonmanifold_edges"]),
        "                  area %.4f (analytic bowl %.4f)" % (s["open_area"], bowl_area),
        "  time            grid %.1f ms, extraction %.1f ms, write %.1f ms"
        % (1e3 * s["time_grid_s"], 1e3 * s["time_extract_s"], 1e3 * s["time_write_s"]),
    ]
    if s["out"]:
        what = "binary PLY with a per-vertex 'msdf' property" if s["out_format"] == "ply" else \
            "%s%s" % (s["out_format"].upper(), "" if s["out_msdf"] else ", without the msdf")
        lines.append("  wrote           %s (%d bytes; %s)" % (s["out"], s["out_bytes"], what))
    print("\n".join(lines), file=stream)


if __name__ == "__main__":  # python -m gshell.demo [--res 64] [--out out/demo.ply]: the same as gshell demo
    from gshell.cli import main

    sys.exit(main(["demo"] + sys.argv[1:]))

"""Benchmark: differentiable rendering (rasterize + interpolate + antialias, forward and backward)
of a displaced UV sphere of 100,352 triangles in 8 views.

Prints one markdown table; times are medians after warm-up (CUDA: CUDA events). On CUDA, nvdiffrast
is timed too when it is installed.

    python scripts/bench_render.py                  # CPU, 256^2 and 512^2
    python scripts/bench_render.py --device cuda    # CUDA: gshell's kernel and nvdiffrast
"""
import argparse
import math
import os
import sys

import torch

from gshell.render import antialias, edge_topology, interpolate, rasterize, transform_pos, views_on_sphere
from gshell.render import _backend

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import timeit  # noqa: E402


def icosphere(level):
    """Unit icosphere subdivided ``level`` times: (V, 3) float32, (20 * 4^level, 3) int64."""
    t = (1 + math.sqrt(5)) / 2
    v = torch.tensor([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                      [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]],
                     dtype=torch.float64)
    f = torch.tensor([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
                      [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
                      [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]])
    v = v / v.norm(dim=-1, keepdim=True)
    for _ in range(level):
        e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).sort(-1).values
        uniq, inv = torch.unique(e, dim=0, return_inverse=True)
        mid = v[uniq].mean(1)
        mid = mid / mid.norm(dim=-1, keepdim=True)
        m = inv.view(3, -1).T + v.shape[0]  # midpoints of edges 01, 12, 20
        v = torch.cat([v, mid])
        a, b, c = f.unbind(-1)
        m01, m12, m20 = m.unbind(-1)
        f = torch.cat([torch.stack(x, -1) for x in ((a, m01, m20), (b, m12, m01), (c, m20, m12), (m01, m12, m20))])
    return v, f


def vertex_normals(v, f):
    n = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vn = torch.zeros_like(v).index_add_(0, f.reshape(-1), n.repeat_interleave(3, 0))
    return vn / vn.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def uv_sphere(rows, cols):
    """Unit sphere with ``rows`` latitude bands and ``cols`` longitude segments:
    2 cols (rows - 1) triangles."""
    th = torch.linspace(0, math.pi, rows + 1, dtype=torch.float64)[1:-1]
    ph = torch.arange(cols, dtype=torch.float64) * (2 * math.pi / cols)
    t, p = torch.meshgrid(th, ph, indexing="ij")
    ring = torch.stack([t.sin() * p.cos(), t.cos(), t.sin() * p.sin()], -1).reshape(-1, 3)
    v = torch.cat([torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), ring,
                   torch.tensor([[0.0, -1.0, 0.0]], dtype=torch.float64)])
    j = torch.arange(cols)
    jn = (j + 1) % cols
    faces = [torch.stack([torch.zeros_like(j), 1 + jn, 1 + j], -1)]
    for r in range(rows - 2):
        a, b = 1 + r * cols, 1 + (r + 1) * cols
        faces += [torch.stack([a + j, a + jn, b + j], -1), torch.stack([a + jn, b + jn, b + j], -1)]
    last, pole = 1 + (rows - 2) * cols, v.shape[0] - 1
    faces.append(torch.stack([last + j, last + jn, torch.full_like(j, pole)], -1))
    return v, torch.cat(faces)


def make_mesh(device):
    v, f = uv_sphere(225, 224)  # 100,352 triangles
    disp = 0.06 * torch.sin(9 * v[:, 0]) * torch.cos(7 * v[:, 1]) + 0.03 * torch.sin(13 * v[:, 2])
    v = v * (1 + disp)[:, None] * 0.8
    return v.float().to(device), f.to(device)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--res", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--repeats", type=int)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available")
    repeats = args.repeats or (5 if device.type == "cpu" else 20)
    print("device: %s, torch %s, threads %d" % (
        torch.cuda.get_device_name() if device.type == "cuda" else "cpu", torch.__version__,
        torch.get_num_threads()))
    verts, faces = make_mesh(device)
    normals = vertex_normals(verts, faces)
    tri = faces.int()
    topo = edge_topology(tri)
    mvp, eye = views_on_sphere(args.views, radius=2.6, device=device)
    g = torch.Generator().manual_seed(0)
    colors0 = torch.rand(verts.shape[0], 3, generator=g).to(device)
    light = torch.nn.functional.normalize(torch.tensor([0.3, 0.8, 0.5], device=device), dim=0)
    backends = ["gshell"]
    if device.type == "cuda" and _backend.nvdiffrast() is not None:
        backends.append("nvdiffrast")
    elif device.type == "cuda":
        print("nvdiffrast not installed: skipped")
    rows = []
    for res in args.res:
        for be in backends:
            def render(v, colors, need_grad):
                pos = transform_pos(mvp, v)
                rast = rasterize(pos, tri, (res, res), backend=be)
                attr = torch.cat([normals, colors], -1)
                feat, _ = interpolate(attr, rast, tri, backend=be)
                n, c = feat[..., :3], feat[..., 3:]
                shade = c * (0.3 + 0.7 * (n * light).sum(-1, keepdim=True).clamp_min(0))
                return antialias(shade, rast, pos, tri, topology_hash=topo, backend=be), rast

            with torch.no_grad():
                target, rast0 = render(verts * 1.01, colors0.flip(-1), False)

            def rast_only():
                with torch.no_grad():
                    return rasterize(transform_pos(mvp, verts), tri, (res, res), backend=be)

            def fwd():
                with torch.no_grad():
                    return render(verts, colors0, False)

            def fwd_bwd():
                v = verts.detach().requires_grad_(True)
                c = colors0.detach().requires_grad_(True)
                img, _ = render(v, c, True)
                loss = (img - target).square().mean()
                loss.backward()
                return loss

            coverage = float((rast0[..., 3] > 0).float().mean())
            r = (res, be, timeit(rast_only, device, repeats), timeit(fwd, device, repeats),
                 timeit(fwd_bwd, device, repeats), coverage)
            rows.append(r)
            print("  ", r, flush=True)
    print()
    print("| device | backend | resolution | views | triangles | rasterize (ms) | render fwd (ms) | render fwd+bwd (ms) | coverage |")
    print("|---|---|---|---|---|---|---|---|---|")
    for res, be, ra, f, fb, cov in rows:
        print("| %s | %s | %d^2 | %d | %d | %.1f | %.1f | %.1f | %.0f%% |" % (
            device.type, be, res, args.views, faces.shape[0], ra, f, fb, 100 * cov))


if __name__ == "__main__":
    main()

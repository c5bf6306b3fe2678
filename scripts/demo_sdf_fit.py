"""Demo: fit the signed distance field of a mesh with a hash encoding + MLP and an Eikonal loss.

The mesh is a torus extracted with gshell.marching_cubes from its analytic SDF on a --grid^3 grid in
[-0.5, 0.5]^3. Training sees only the mesh: points sampled on its triangles (area-weighted) with the face
normals. The network is f(p) = |p| - 0.3 + MLP(encoding((p + 0.5))): a sphere initialisation plus a
learned correction, the encoding a gshell.SimplexHashEncoding or GridHashEncoding. The loss (IGR, Gropp et
al. 2020, with SIREN's off-surface term) is

    mean |f(surface)| + 0.1 * mean (1 - cos(grad f(surface), normal))
    + 0.1 * mean (|grad f(x)| - 1)^2 over surface and uniform points   (the Eikonal term)
    + 0.01 * mean exp(-100 |f(uniform)|)

so every step differentiates through the encoding's input gradient (its double backward). Reports the
loss during training and, at the end, on held-out surface samples: mean |f| (the mesh should be the zero
level set), and on uniform points: the mean error against the analytic torus SDF and the fraction of points
with the right sign.

    python scripts/demo_sdf_fit.py                          # both lattices, CPU, about a minute
    python scripts/demo_sdf_fit.py --lattice simplex --steps 600 --device cuda
"""
import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gshell  # noqa: E402

R_MAJOR, R_MINOR = 0.25, 0.1


def torus_sdf(p):
    q = torch.stack([p[..., :2].norm(dim=-1) - R_MAJOR, p[..., 2]], -1)
    return q.norm(dim=-1) - R_MINOR


def torus_mesh(n):
    x = torch.linspace(-0.5, 0.5, n)
    grid = torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1)
    verts, faces = gshell.marching_cubes(torus_sdf(grid))
    return verts.detach(), faces


def sample_surface(verts, faces, n, gen):
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    cross = torch.linalg.cross(b - a, c - a)
    area = cross.norm(dim=-1)
    idx = torch.multinomial(area, n, replacement=True, generator=gen)
    u, v = torch.rand(n, generator=gen), torch.rand(n, generator=gen)
    flip = u + v > 1
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    pts = a[idx] + u[:, None] * (b[idx] - a[idx]) + v[:, None] * (c[idx] - a[idx])
    normals = cross[idx] / area[idx, None].clamp_min(1e-12)
    return pts, normals


class SDFNet(torch.nn.Module):
    def __init__(self, encoding, hidden=64):
        super().__init__()
        self.encoding = encoding
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(encoding.output_dim, hidden), torch.nn.Softplus(beta=100),
            torch.nn.Linear(hidden, hidden), torch.nn.Softplus(beta=100),
            torch.nn.Linear(hidden, 1))
        with torch.no_grad():  # start as the sphere
            self.mlp[-1].weight.mul_(0.1)
            self.mlp[-1].bias.zero_()

    def forward(self, p):
        return p.norm(dim=-1) - 0.3 + self.mlp(self.encoding(p + 0.5)).squeeze(-1)


def value_and_grad(net, p, create_graph):
    p = p.detach().requires_grad_(True)
    f = net(p)
    (g,) = torch.autograd.grad(f.sum(), p, create_graph=create_graph)
    return f, g


def fit(lattice, verts, faces, args):
    dev = args.device
    cls = gshell.SimplexHashEncoding if lattice == "simplex" else gshell.GridHashEncoding
    enc = cls(3, n_levels=args.levels, n_features_per_level=2, log2_hashmap_size=args.log2_hashmap_size,
              base_resolution=8, per_level_scale=1.5, seed=0)
    torch.manual_seed(0)
    net = SDFNet(enc).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.99), eps=1e-15)
    gen = torch.Generator().manual_seed(1)
    verts_c, faces_c = verts.cpu(), faces.cpu()
    t0 = time.perf_counter()
    log = []
    for step in range(1, args.steps + 1):
        surf, normals = (t.to(dev) for t in sample_surface(verts_c, faces_c, args.batch, gen))
        unif = (torch.rand(args.batch, 3, generator=gen) - 0.5).to(dev)
        opt.zero_grad(set_to_none=True)
        fs, gs = value_and_grad(net, surf, True)
        fu, gu = value_and_grad(net, unif, True)
        l_surf = fs.abs().mean()
        l_normal = (1 - torch.nn.functional.cosine_similarity(gs, normals, dim=-1)).mean()
        l_eik = (torch.cat([gs, gu]).norm(dim=-1) - 1).square().mean()
        l_off = torch.exp(-100 * fu.abs()).mean()
        loss = l_surf + 0.1 * l_normal + 0.1 * l_eik + 0.01 * l_off
        loss.backward()
        opt.step()
        if step == 1 or step % max(args.steps // 10, 1) == 0 or step == args.steps:
            log.append((step, float(loss), float(l_surf), float(l_eik)))
            print("  %-7s step %4d  loss %.5f  |f| on surface %.5f  eikonal %.5f" % ((lattice,) + log[-1]),
                  flush=True)
    elapsed = time.perf_counter() - t0
    # Held-out evaluation.
    gen = torch.Generator().manual_seed(2)
    surf, _ = sample_surface(verts_c, faces_c, 20000, gen)
    unif = torch.rand(20000, 3, generator=gen) - 0.5
    with torch.no_grad():
        f_surf = net(surf.to(dev)).cpu()
        f_unif = net(unif.to(dev)).cpu()
    true = torus_sdf(unif)
    near = true.abs() < 0.1
    return dict(elapsed=elapsed, loss=log[-1][1], surf=float(f_surf.abs().mean()),
                err=float((f_unif - true).abs().mean()), err_near=float((f_unif - true)[near].abs().mean()),
                sign=float(((f_unif > 0) == (true > 0)).float().mean()), rows=enc.table.shape[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lattice", default="both", choices=["simplex", "grid", "both"])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=1024, help="surface points and uniform points per step")
    ap.add_argument("--levels", type=int, default=8)
    ap.add_argument("--log2-hashmap-size", type=int, default=15)
    ap.add_argument("--grid", type=int, default=64, help="marching cubes resolution of the torus mesh")
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available")
    verts, faces = torus_mesh(args.grid)
    print("torus mesh: %d vertices, %d faces (marching cubes %d^3); %d steps x (%d surface + %d uniform) "
          "points on %s" % (verts.shape[0], faces.shape[0], args.grid, args.steps, args.batch, args.batch,
                            args.device), flush=True)
    lattices = ["simplex", "grid"] if args.lattice == "both" else [args.lattice]
    results = {lat: fit(lat, verts, faces, args) for lat in lattices}
    print()
    print("| lattice | table rows | time (s) | final loss | mean abs f on surface | mean abs error vs "
          "analytic SDF | same, within 0.1 of surface | right sign |")
    print("|---|---|---|---|---|---|---|---|")
    for lat, r in results.items():
        print("| %s | %d | %.1f | %.5f | %.5f | %.5f | %.5f | %.2f%% |" % (
            lat, r["rows"], r["elapsed"], r["loss"], r["surf"], r["err"], r["err_near"], 100 * r["sign"]))
    if not all(math.isfinite(r["loss"]) for r in results.values()):
        sys.exit("non-finite loss")


if __name__ == "__main__":
    main()

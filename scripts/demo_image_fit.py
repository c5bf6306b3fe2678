"""Demo: fit a photograph with a multiresolution hash encoding + a small MLP, simplex lattice against grid.

The image is one of scikit-image's bundled photographs (``astronaut``: RGB, or ``camera``: grey),
downscaled to --size x --size. Each pixel centre (u, v) in [0, 1]^2 is encoded by
gshell.SimplexHashEncoding or gshell.GridHashEncoding (same levels, features and table size), a two-layer
MLP maps the features to colour, and Adam fits all pixels (full batch) for --steps steps. The two runs
start from the same MLP initialisation. Prints PSNR (dB, on the whole image) against training steps for
both lattices in one markdown table, and the time each took.

    python scripts/demo_image_fit.py                      # 128 x 128 astronaut, CPU, under ~2 minutes
    python scripts/demo_image_fit.py --size 256 --steps 2000 --device cuda --save out/fit
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gshell  # noqa: E402


def load_image(name, size):
    from skimage import data, transform
    img = getattr(data, name)()
    img = img.astype(np.float32) / 255.0
    if img.ndim == 2:
        img = img[..., None]
    h, w = img.shape[:2]
    s = min(h, w)  # centre square crop, then resize
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    img = transform.resize(img, (size, size), anti_aliasing=True).astype(np.float32)
    return torch.from_numpy(img)


def psnr(pred, target):
    mse = float((pred - target).square().mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


class Field(torch.nn.Module):
    def __init__(self, encoding, out_dim, hidden=64):
        super().__init__()
        self.encoding = encoding
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(encoding.output_dim, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, out_dim))

    def forward(self, x):
        return torch.sigmoid(self.mlp(self.encoding(x)))


def fit(lattice, coords, target, args, checkpoints):
    cls = gshell.SimplexHashEncoding if lattice == "simplex" else gshell.GridHashEncoding
    # Finest level at the image resolution.
    scale = math.exp(math.log(args.size / args.base_resolution) / max(args.levels - 1, 1))
    enc = cls(2, n_levels=args.levels, n_features_per_level=2, log2_hashmap_size=args.log2_hashmap_size,
              base_resolution=args.base_resolution, per_level_scale=max(scale, 1.0), seed=0)
    torch.manual_seed(0)
    model = Field(enc, target.shape[1]).to(args.device)
    opt = torch.optim.Adam([{"params": model.encoding.parameters(), "weight_decay": 0.0},
                            {"params": model.mlp.parameters(), "weight_decay": 1e-6}],
                           lr=args.lr, betas=(0.9, 0.99), eps=1e-15)
    curve = {}
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = (model(coords) - target).square().mean()
        loss.backward()
        opt.step()
        if step in checkpoints:
            with torch.no_grad():
                curve[step] = psnr(model(coords), target)
    if args.device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        final = model(coords)
    hashed = sum(enc.hashed)
    return curve, elapsed, final, enc.table.shape[0], hashed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default="astronaut", choices=["astronaut", "camera", "coffee", "chelsea"])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--levels", type=int, default=12)
    ap.add_argument("--log2-hashmap-size", type=int, default=10,
                    help="table entries per level: below the pixel count, so fine levels hash")
    ap.add_argument("--base-resolution", type=float, default=4)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--save", help="write <prefix>_target.png, _simplex.png, _grid.png (needs imageio)")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available")
    img = load_image(args.image, args.size)
    n = args.size
    u = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    coords = torch.stack(torch.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2).to(args.device)
    target = img.reshape(n * n, -1).to(args.device)
    checkpoints = sorted({s for s in (10, 25, 50, 100, 200, 300, 500, 1000, 2000, 5000) if s < args.steps}
                         | {args.steps})
    print("%s %dx%d (%d channels), %d levels x 2 features, 2^%d table, %d steps on %s, torch threads %d" % (
        args.image, n, n, target.shape[1], args.levels, args.log2_hashmap_size, args.steps, args.device,
        torch.get_num_threads()), flush=True)
    results = {}
    for lattice in ("simplex", "grid"):
        curve, elapsed, final, rows, hashed = fit(lattice, coords, target, args, checkpoints)
        results[lattice] = (curve, elapsed, final)
        print("  %-7s %.1f s, %d table rows (%d of %d levels hashed), final PSNR %.2f dB" % (
            lattice, elapsed, rows, hashed, args.levels, curve[args.steps]), flush=True)
    print()
    print("| step | simplex PSNR (dB) | grid PSNR (dB) |")
    print("|---|---|---|")
    for s in checkpoints:
        print("| %d | %.2f | %.2f |" % (s, results["simplex"][0][s], results["grid"][0][s]))
    print("| time (s) | %.1f | %.1f |" % (results["simplex"][1], results["grid"][1]))
    if args.save:
        import imageio.v2 as imageio
        os.makedirs(os.path.dirname(args.save) or ".", exist_ok=True)
        for name, im in [("target", target)] + [(k, v[2]) for k, v in results.items()]:
            arr = (im.reshape(n, n, -1).clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
            imageio.imwrite("%s_%s.png" % (args.save, name), arr.squeeze(-1) if arr.shape[-1] == 1 else arr)
        print("wrote %s_{target,simplex,grid}.png" % args.save)


if __name__ == "__main__":
    main()

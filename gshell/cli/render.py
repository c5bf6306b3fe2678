"""``gshell render``: a turntable sheet of shaded views of a mesh."""
import argparse

from gshell.cli._helpers import CLIError, check_output, int_range, log, mesh_format, need_input


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "render", help="render a turntable sheet of shaded views of a mesh as PNG",
        parents=[common],
        description="Render VIEWS shaded views of a mesh (centred and scaled to fit, cameras spread over a "
                    "sphere) with gshell.render, tiled in a square sheet. Back faces are drawn in red.",
        epilog="examples:\n  gshell render bunny.obj bunny.png\n  gshell render cup.ply cup.png --views 16 --res 256",
        formatter_class=fmt)
    p.add_argument("input", metavar="IN", help="input mesh")
    p.add_argument("output", metavar="OUT", help="output .png")
    p.add_argument("--views", type=int_range(1, 64), default=8, metavar="N", help="number of views (default: 8)")
    p.add_argument("--res", type=int_range(16, 2048), default=256, metavar="R",
                   help="pixels per view side (default: 256)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run)


def run(args):
    import math

    import numpy as np
    import torch

    from gshell import io as gio
    from gshell.recon.report import save_png
    from gshell.recon.views import render_buffers
    from gshell.render import views_on_sphere

    need_input("render", args.input)
    mesh_format("render", args.input)
    if not args.output.lower().endswith(".png"):
        raise CLIError("gshell render: error: expected an output path ending in .png but got %r" % args.output)
    check_output("render", args.output, [args.input], args.force)
    verts, faces = gio.load_mesh(args.input)
    center = (verts.min(0).values + verts.max(0).values) / 2
    extent = float((verts.max(0).values - verts.min(0).values).max())
    verts = (verts - center) / (extent if extent > 0 else 1.0)  # largest side 1, centred
    mvp, eye = views_on_sphere(args.views, radius=2.4, fovy_deg=40.0)
    tiles = []
    base = torch.tensor([0.72, 0.76, 0.86])
    back = torch.tensor([0.85, 0.45, 0.40])
    for i in range(0, args.views, 4):
        b = render_buffers(verts, faces, mvp[i:i + 4], eye[i:i + 4], (args.res, args.res), antialias_mask=False)
        d = torch.nn.functional.normalize(eye[i:i + 4], dim=-1)[:, None, None, :]
        lam = (b["normal"] * d).sum(-1).abs()
        col = torch.where(b["front"][..., None], base, back) * (0.25 + 0.75 * lam)[..., None]
        m = b["covered"][..., None].float()
        img = col * m + (1 - m)
        tiles += list((img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)[:, ::-1])  # OpenGL rows
    cols = int(math.ceil(math.sqrt(args.views)))
    rows = int(math.ceil(args.views / cols))
    sheet = np.full((rows * args.res, cols * args.res, 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet[r * args.res:(r + 1) * args.res, c * args.res:(c + 1) * args.res] = t
    save_png(args.output, sheet)
    log(args, "wrote %s: %d views of %d faces, %dx%d pixels" % (args.output, args.views, faces.shape[0],
                                                                    sheet.shape[1], sheet.shape[0]))
    return 0

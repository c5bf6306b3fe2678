"""Naive float64 rasterizer: every pixel against every triangle, by solving a 3x3 system.

Independent of the kernel's edge-function formulation: for clip vertices v_i = (x_i, y_i, w_i)
(the columns of M) and the pixel centre p = (px, py, 1), lambda = M^-1 p; the point of the
triangle's plane seen through the pixel is M lambda / sum(lambda), with barycentrics
b = lambda / sum(lambda) and clip w = 1 / sum(lambda). Covered iff b >= 0, w > 0 and
-1 <= z/w <= 1 where z = sum(b_i z_i).
"""
import torch


def rasterize_ref(pos, tri, H, W):
    """Returns rast (B, H, W, 4) float64 (u, v, z/w, id + 1) and an ``ambiguous`` (B, H, W) bool
    mask of pixels whose id may legitimately differ (a pixel centre within 1e-5 (relative) of an
    edge or of the depth range bounds of some triangle, or two triangles within 1e-5 in depth)."""
    pos = pos.double()
    tri = tri.long()
    B = pos.shape[0]
    F = tri.shape[0]
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    p = torch.stack([(2 * xs + 1) / W - 1, (2 * ys + 1) / H - 1, torch.ones_like(xs)], -1).reshape(-1, 3)  # (P, 3)
    rast = torch.zeros(B, H * W, 4, dtype=torch.float64)
    ambiguous = torch.zeros(B, H * W, dtype=torch.bool)
    eps = 1e-5
    for b in range(B):
        q = pos[b][tri]  # (F, 3, 4)
        M = torch.stack([q[..., 0], q[..., 1], q[..., 3]], 1)  # (F, 3 rows x, y, w, 3 columns)
        det = torch.linalg.det(M)
        ok = det.abs() > 1e-300
        Minv = torch.linalg.inv(torch.where(ok[:, None, None], M, torch.eye(3, dtype=torch.float64)))
        lam = torch.einsum("fij,pj->pfi", Minv, p)  # (P, F, 3)
        s = lam.sum(-1)
        bary = lam / s[..., None]
        w = 1 / s
        zw = (bary * q[None, :, :, 2]).sum(-1) / w
        bmin = bary.min(-1).values
        cov = ok[None] & (bmin >= 0) & (w > 0) & (zw >= -1) & (zw <= 1)
        # near-boundary: barycentric within eps of 0 (scaled), or depth within eps of the range
        near = ok[None] & (w > 0) & (((bmin.abs() < eps) & (bmin > -eps)) |
                                     ((bmin >= -eps) & (((zw + 1).abs() < eps) | ((zw - 1).abs() < eps))))
        z32 = zw.float().double()  # the kernel compares depths rounded to float32
        z = torch.where(cov, z32, torch.full_like(zw, float("inf")))
        best = z.min(1).values
        fid = torch.arange(F).expand_as(z)
        arg = torch.where(z == best[:, None], fid, torch.full_like(fid, F)).min(1).values.clamp_max(F - 1)
        hit = torch.isfinite(best)
        z2 = z.clone()
        z2[torch.arange(z.shape[0]), arg] = float("inf")
        second = z2.min(1).values
        amb = near.any(1) | (hit & (second - best < eps) & (second != best))
        rows = torch.arange(z.shape[0])
        bb = bary[rows, arg]
        r = torch.stack([bb[:, 0], bb[:, 1], zw[rows, arg], (arg + 1).double()], -1)
        rast[b] = torch.where(hit[:, None], r, torch.zeros_like(r))
        ambiguous[b] = amb
    return rast.view(B, H, W, 4), ambiguous.view(B, H, W)

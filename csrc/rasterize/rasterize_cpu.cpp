// Rasterization on the CPU, deterministic and race-free:
//   1. bounding box of every (view, triangle) in parallel: its pixel rows [y0, y1] (or none);
//   2. per view, triangles binned into bands of kBandRows rows, in increasing id order;
//   3. at::parallel_for over (view, band): each task owns its band's pixels, walks its triangles
//      in id order with a float32 depth buffer (strict <, so ties keep the smaller id), testing
//      only the conservative span of each row (row_span) with the exact test (tri_eval).
#include <ATen/Parallel.h>

#include <limits>
#include <vector>

#include "rasterize/rasterize.h"

namespace gshell {
namespace {

constexpr int kBandRows = 8;

template <typename scalar_t>
void rasterize_impl(const at::Tensor& pos, const at::Tensor& tri, const RasterizeParams& p,
                    at::Tensor& rast) {
  const scalar_t* P = pos.data_ptr<scalar_t>();
  const int32_t* T = tri.data_ptr<int32_t>();
  scalar_t* R = rast.data_ptr<scalar_t>();
  const int64_t B = p.B, F = p.F, V = p.V;
  const int H = p.H, W = p.W;
  const int nb = (H + kBandRows - 1) / kBandRows;

  // 1. Rows covered by each (view, triangle): first and last band, -1 when none.
  std::vector<int32_t> band0(B * F), band1(B * F);
  at::parallel_for(0, B * F, 4096, [&](int64_t s, int64_t e) {
    double x[3], y[3], z[3], w[3];
    int x0, x1, y0, y1;
    for (int64_t k = s; k < e; ++k) {
      const int64_t b = k / F, f = k % F;
      const scalar_t* pb = P + b * V * 4;
      const int32_t* t = T + f * 3;
      tri_load(pb + 4 * t[0], pb + 4 * t[1], pb + 4 * t[2], x, y, z, w);
      if (tri_bbox(x, y, z, w, H, W, x0, x1, y0, y1)) {
        band0[k] = y0 / kBandRows;
        band1[k] = y1 / kBandRows;
      } else {
        band0[k] = -1;
        band1[k] = -2;
      }
    }
  });

  // 2. Bins per view: offsets (B, nb + 1) into one list of triangle ids, in increasing id order.
  std::vector<int64_t> offset(B * (nb + 1));
  std::vector<std::vector<int32_t>> bins(B);
  at::parallel_for(0, B, 1, [&](int64_t s, int64_t e) {
    for (int64_t b = s; b < e; ++b) {
      int64_t* off = offset.data() + b * (nb + 1);
      std::fill(off, off + nb + 1, 0);
      const int32_t* b0 = band0.data() + b * F;
      const int32_t* b1 = band1.data() + b * F;
      for (int64_t f = 0; f < F; ++f)
        for (int32_t j = b0[f]; j <= b1[f]; ++j) ++off[j + 1];
      for (int j = 0; j < nb; ++j) off[j + 1] += off[j];
      std::vector<int32_t>& list = bins[b];
      list.resize(off[nb]);
      std::vector<int64_t> fill(off, off + nb);
      for (int64_t f = 0; f < F; ++f)
        for (int32_t j = b0[f]; j <= b1[f]; ++j) list[fill[j]++] = static_cast<int32_t>(f);
    }
  });

  // 3. Bands.
  std::vector<double> xs(W);
  for (int x = 0; x < W; ++x) xs[x] = pixel_ndc(x, W);
  at::parallel_for(0, B * nb, 1, [&](int64_t s, int64_t e) {
    std::vector<float> zbuf(static_cast<size_t>(kBandRows) * W);
    TriSetup st;
    for (int64_t task = s; task < e; ++task) {
      const int64_t b = task / nb;
      const int band = static_cast<int>(task % nb);
      const int r0 = band * kBandRows, r1 = std::min(H, r0 + kBandRows) - 1;
      std::fill(zbuf.begin(), zbuf.end(), std::numeric_limits<float>::infinity());
      const scalar_t* pb = P + b * V * 4;
      scalar_t* rb = R + b * int64_t(H) * W * 4;
      const int64_t* off = offset.data() + b * (nb + 1);
      const int32_t* list = bins[b].data();
      for (int64_t k = off[band]; k < off[band + 1]; ++k) {
        const int32_t f = list[k];
        const int32_t* t = T + int64_t(f) * 3;
        if (!tri_setup(pb + 4 * t[0], pb + 4 * t[1], pb + 4 * t[2], H, W, st)) continue;
        const int ya = std::max(r0, st.y0), yb = std::min(r1, st.y1);
        for (int y = ya; y <= yb; ++y) {
          const double py = pixel_ndc(y, H);
          int xa, xb;
          row_span(st, py, W, xa, xb);
          float* zrow = zbuf.data() + static_cast<size_t>(y - r0) * W;
          scalar_t* out = rb + (int64_t(y) * W) * 4;
          for (int x = xa; x <= xb; ++x) {
            double u, v, zd;
            float zw;
            if (!tri_eval(st, xs[x], py, u, v, zd, zw) || !(zw < zrow[x])) continue;
            zrow[x] = zw;
            write_rast(out + int64_t(x) * 4, u, v, zd, f);
          }
        }
      }
    }
  });
}

}  // namespace

at::Tensor rasterize_cpu(const at::Tensor& pos, const at::Tensor& tri, int64_t height, int64_t width) {
  const RasterizeParams p{pos.size(0), pos.size(1), tri.size(0), static_cast<int>(height),
                          static_cast<int>(width)};
  at::Tensor rast = at::zeros({p.B, height, width, 4}, pos.options());
  if (p.B == 0 || p.F == 0) return rast;
  AT_DISPATCH_FLOATING_TYPES(pos.scalar_type(), "rasterize_cpu",
                             [&] { rasterize_impl<scalar_t>(pos, tri, p, rast); });
  return rast;
}

}  // namespace gshell

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "hash_encoding/hash_encoding.h"
#include "hash_encoding/lattice.h"

namespace gshell {
namespace {

// Points are processed in blocks, level by level. For each (block, level) the corners' table rows
// and weights are computed first, then the table is read (or written) in a tight loop that
// prefetches the rows a few corners ahead: the lookups are random, so the time goes into memory
// latency, and this keeps many of them in flight.
constexpr int64_t kBlock = 512;
constexpr int kPrefetch = 16;

template <int D, bool SIMPLEX>
constexpr int num_corners() { return SIMPLEX ? D + 1 : (1 << D); }

template <int D, bool SIMPLEX, bool WITH_GRAD, typename scalar_t>
struct CornerBuffer {
  static constexpr int C = num_corners<D, SIMPLEX>();
  std::vector<int64_t> rows;
  std::vector<scalar_t> w, dw;
  CornerBuffer() : rows(kBlock * C + kPrefetch, 0), w(kBlock * C), dw(WITH_GRAD ? kBlock * C * D : 0) {}

  // Rows (element offsets into the table) and weights of the corners of points [b0, b1).
  void fill(const scalar_t* x, int64_t b0, int64_t b1, scalar_t scale, int32_t R, bool hashed,
            int64_t off, int64_t size, int F) {
    int64_t i = 0;
    for (int64_t b = b0; b < b1; ++b) {
      auto fn = [&](const int32_t* k, scalar_t wt, const scalar_t* d) {
        rows[i] = (off + corner_index<D>(k, R, hashed, size)) * F;
        w[i] = wt;
        if (WITH_GRAD)
          for (int j = 0; j < D; ++j) dw[i * D + j] = d[j];
        ++i;
      };
      if (SIMPLEX) simplex_corners<D, WITH_GRAD>(x + b * D, scale, fn);
      else grid_corners<D, WITH_GRAD>(x + b * D, scale, R, fn);
    }
    for (int j = 0; j < kPrefetch; ++j) rows[i + j] = rows[i > 0 ? i - 1 : 0];
  }
};

template <int D, bool SIMPLEX, typename scalar_t>
void forward_impl(const HashEncodingParams& p, const scalar_t* x, const scalar_t* table,
                  const scalar_t* scales, const HashLevels& lv, scalar_t* out) {
  const int F = p.features;
  constexpr int C = num_corners<D, SIMPLEX>();
  const int64_t n_blocks = (p.batch + kBlock - 1) / kBlock;
  at::parallel_for(0, n_blocks, 1, [&](int64_t k0, int64_t k1) {
    CornerBuffer<D, SIMPLEX, false, scalar_t> buf;
    for (int64_t blk = k0; blk < k1; ++blk) {
      const int64_t b0 = blk * kBlock, b1 = std::min(p.batch, b0 + kBlock);
      for (int l = 0; l < p.levels; ++l) {
        const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
        buf.fill(x, b0, b1, scales[l], lv.res[l], lv.hashed[l], off, size, F);
        const int64_t* rows = buf.rows.data();
        const scalar_t* w = buf.w.data();
        for (int64_t b = b0, i = 0; b < b1; ++b) {
          scalar_t* o = out + (b * p.levels + l) * F;
          for (int f = 0; f < F; ++f) o[f] = 0;
          for (int c = 0; c < C; ++c, ++i) {
            __builtin_prefetch(table + rows[i + kPrefetch]);
            const scalar_t* row = table + rows[i];
            for (int f = 0; f < F; ++f) o[f] += w[i] * row[f];
          }
        }
      }
    }
  });
}

template <int D, bool SIMPLEX, typename scalar_t>
void backward_impl(const HashEncodingParams& p, const scalar_t* g, const scalar_t* x,
                   const scalar_t* table, const scalar_t* scales, const HashLevels& lv,
                   scalar_t* grad_x, scalar_t* grad_table) {
  const int F = p.features;
  constexpr int C = num_corners<D, SIMPLEX>();
  const int64_t n_blocks = (p.batch + kBlock - 1) / kBlock;
  if (grad_table != nullptr) {
    // Levels own disjoint rows: one level per task, no atomics.
    at::parallel_for(0, p.levels, 1, [&](int64_t l0, int64_t l1) {
      CornerBuffer<D, SIMPLEX, false, scalar_t> buf;
      for (int64_t l = l0; l < l1; ++l) {
        const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
        for (int64_t blk = 0; blk < n_blocks; ++blk) {
          const int64_t b0 = blk * kBlock, b1 = std::min(p.batch, b0 + kBlock);
          buf.fill(x, b0, b1, scales[l], lv.res[l], lv.hashed[l], off, size, F);
          const int64_t* rows = buf.rows.data();
          const scalar_t* w = buf.w.data();
          for (int64_t b = b0, i = 0; b < b1; ++b) {
            const scalar_t* gb = g + (b * p.levels + l) * F;
            for (int c = 0; c < C; ++c, ++i) {
              __builtin_prefetch(grad_table + rows[i + kPrefetch], 1);
              scalar_t* row = grad_table + rows[i];
              for (int f = 0; f < F; ++f) row[f] += w[i] * gb[f];
            }
          }
        }
      }
    });
  }
  if (grad_x != nullptr) {
    at::parallel_for(0, n_blocks, 1, [&](int64_t k0, int64_t k1) {
      CornerBuffer<D, SIMPLEX, true, scalar_t> buf;
      for (int64_t blk = k0; blk < k1; ++blk) {
        const int64_t b0 = blk * kBlock, b1 = std::min(p.batch, b0 + kBlock);
        for (int64_t i = b0 * D; i < b1 * D; ++i) grad_x[i] = 0;
        for (int l = 0; l < p.levels; ++l) {
          const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
          buf.fill(x, b0, b1, scales[l], lv.res[l], lv.hashed[l], off, size, F);
          const int64_t* rows = buf.rows.data();
          const scalar_t* dw = buf.dw.data();
          for (int64_t b = b0, i = 0; b < b1; ++b) {
            const scalar_t* gb = g + (b * p.levels + l) * F;
            scalar_t* acc = grad_x + b * D;
            for (int c = 0; c < C; ++c, ++i) {
              __builtin_prefetch(table + rows[i + kPrefetch]);
              const scalar_t* row = table + rows[i];
              scalar_t dot = 0;
              for (int f = 0; f < F; ++f) dot += row[f] * gb[f];
              for (int j = 0; j < D; ++j) acc[j] += dw[i * D + j] * dot;
            }
          }
        }
        for (int64_t b = b0; b < b1; ++b)
          for (int j = 0; j < D; ++j) {
            const scalar_t xj = x[b * D + j];
            if (!(xj >= scalar_t(0) && xj <= scalar_t(1))) grad_x[b * D + j] = 0;
          }
      }
    });
  }
}

// Corner rows, weights and, along each point's gg_x (zero along clamped coordinates), a = dw . v;
// with need_dw / need_hv also dw (D) and hv = H v (D) per corner.
template <int D, bool SIMPLEX, typename scalar_t>
struct HvpBuffer {
  static constexpr int C = num_corners<D, SIMPLEX>();
  const bool need_dw, need_hv;
  std::vector<int64_t> rows;
  std::vector<scalar_t> w, a, dw, hv;
  HvpBuffer(bool need_dw_, bool need_hv_)
      : need_dw(need_dw_), need_hv(need_hv_), rows(kBlock * C + kPrefetch, 0), w(kBlock * C),
        a(kBlock * C), dw(need_dw ? kBlock * C * D : 0), hv(need_hv ? kBlock * C * D : 0) {}

  void fill(const scalar_t* x, const scalar_t* gg_x, int64_t b0, int64_t b1, scalar_t scale,
            int32_t R, bool hashed, int64_t off, int64_t size, int F) {
    int64_t i = 0;
    for (int64_t b = b0; b < b1; ++b) {
      scalar_t v[D];
      for (int j = 0; j < D; ++j) {
        const scalar_t xj = x[b * D + j];
        v[j] = gg_x != nullptr && xj >= scalar_t(0) && xj <= scalar_t(1) ? gg_x[b * D + j]
                                                                         : scalar_t(0);
      }
      auto fn = [&](const int32_t* k, scalar_t wt, const scalar_t* d, scalar_t av,
                    const scalar_t* h) {
        rows[i] = (off + corner_index<D>(k, R, hashed, size)) * F;
        w[i] = wt;
        a[i] = av;
        if (need_dw)
          for (int j = 0; j < D; ++j) dw[i * D + j] = d[j];
        if (need_hv)
          for (int j = 0; j < D; ++j) hv[i * D + j] = h[j];
        ++i;
      };
      if (SIMPLEX) simplex_corners_hvp<D>(x + b * D, v, scale, fn);
      else grid_corners_hvp<D>(x + b * D, v, scale, R, fn);
    }
    for (int j = 0; j < kPrefetch; ++j) rows[i + j] = rows[i > 0 ? i - 1 : 0];
  }
};

// gg_x, gg_table: nullptr when zero; dg, dx, dt: nullptr when not requested (dt zero-filled).
template <int D, bool SIMPLEX, typename scalar_t>
void backward_backward_impl(const HashEncodingParams& p, const scalar_t* gg_x,
                            const scalar_t* gg_t, const scalar_t* g, const scalar_t* x,
                            const scalar_t* table, const scalar_t* scales, const HashLevels& lv,
                            scalar_t* dg, scalar_t* dx, scalar_t* dt) {
  const int F = p.features;
  constexpr int C = num_corners<D, SIMPLEX>();
  const int64_t n_blocks = (p.batch + kBlock - 1) / kBlock;
  // The Hessian term of dx: the grid's weights only (the simplex's are piecewise linear).
  const bool hess = dx != nullptr && gg_x != nullptr && !SIMPLEX && D > 1;
  const bool dx_gt = dx != nullptr && gg_t != nullptr;
  if (dg != nullptr || dx != nullptr) {
    at::parallel_for(0, n_blocks, 1, [&](int64_t k0, int64_t k1) {
      HvpBuffer<D, SIMPLEX, scalar_t> buf(dx_gt, hess);
      for (int64_t blk = k0; blk < k1; ++blk) {
        const int64_t b0 = blk * kBlock, b1 = std::min(p.batch, b0 + kBlock);
        if (dx != nullptr)
          for (int64_t i = b0 * D; i < b1 * D; ++i) dx[i] = 0;
        for (int l = 0; l < p.levels; ++l) {
          const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
          buf.fill(x, gg_x, b0, b1, scales[l], lv.res[l], lv.hashed[l], off, size, F);
          const int64_t* rows = buf.rows.data();
          const scalar_t *w = buf.w.data(), *a = buf.a.data(), *dw = buf.dw.data(),
                         *hv = buf.hv.data();
          for (int64_t b = b0, i = 0; b < b1; ++b) {
            const int64_t bl = (b * p.levels + l) * F;
            const scalar_t* gb = g + bl;
            scalar_t* o = dg != nullptr ? dg + bl : nullptr;
            if (o != nullptr)
              for (int f = 0; f < F; ++f) o[f] = 0;
            scalar_t* acc = dx != nullptr ? dx + b * D : nullptr;
            for (int c = 0; c < C; ++c, ++i) {
              __builtin_prefetch(table + rows[i + kPrefetch]);
              const scalar_t* row = table + rows[i];
              const scalar_t* grow = gg_t != nullptr ? gg_t + rows[i] : nullptr;
              if (o != nullptr) {
                if (gg_x != nullptr)
                  for (int f = 0; f < F; ++f) o[f] += a[i] * row[f];
                if (grow != nullptr)
                  for (int f = 0; f < F; ++f) o[f] += w[i] * grow[f];
              }
              if (hess) {
                scalar_t dot = 0;
                for (int f = 0; f < F; ++f) dot += row[f] * gb[f];
                for (int j = 0; j < D; ++j) acc[j] += hv[i * D + j] * dot;
              }
              if (dx_gt) {
                scalar_t dot = 0;
                for (int f = 0; f < F; ++f) dot += grow[f] * gb[f];
                for (int j = 0; j < D; ++j) acc[j] += dw[i * D + j] * dot;
              }
            }
          }
        }
        if (dx != nullptr)
          for (int64_t b = b0; b < b1; ++b)
            for (int j = 0; j < D; ++j) {
              const scalar_t xj = x[b * D + j];
              if (!(xj >= scalar_t(0) && xj <= scalar_t(1))) dx[b * D + j] = 0;
            }
      }
    });
  }
  if (dt != nullptr && gg_x != nullptr) {
    // As the table backward: levels own disjoint rows, one level per task, no atomics.
    at::parallel_for(0, p.levels, 1, [&](int64_t l0, int64_t l1) {
      HvpBuffer<D, SIMPLEX, scalar_t> buf(false, false);
      for (int64_t l = l0; l < l1; ++l) {
        const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
        for (int64_t blk = 0; blk < n_blocks; ++blk) {
          const int64_t b0 = blk * kBlock, b1 = std::min(p.batch, b0 + kBlock);
          buf.fill(x, gg_x, b0, b1, scales[l], lv.res[l], lv.hashed[l], off, size, F);
          const int64_t* rows = buf.rows.data();
          const scalar_t* a = buf.a.data();
          for (int64_t b = b0, i = 0; b < b1; ++b) {
            const scalar_t* gb = g + (b * p.levels + l) * F;
            for (int c = 0; c < C; ++c, ++i) {
              __builtin_prefetch(dt + rows[i + kPrefetch], 1);
              scalar_t* row = dt + rows[i];
              for (int f = 0; f < F; ++f) row[f] += a[i] * gb[f];
            }
          }
        }
      }
    });
  }
}

}  // namespace

at::Tensor hash_encoding_forward_cpu(const at::Tensor& x, const at::Tensor& table,
                                     const at::Tensor& offsets, const at::Tensor& scales,
                                     const at::Tensor& res, const at::Tensor& hashed, bool simplex) {
  const HashEncodingParams p = hash_encoding_params(x, table, scales, simplex);
  at::Tensor out = at::empty({p.batch, p.levels * p.features}, x.options());
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_forward_cpu", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      constexpr int d = decltype(D)::value;
      auto fn = simplex ? forward_impl<d, true, scalar_t> : forward_impl<d, false, scalar_t>;
      fn(p, x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(), lv,
         out.data_ptr<scalar_t>());
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> hash_encoding_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& table,
    const at::Tensor& offsets, const at::Tensor& scales, const at::Tensor& res,
    const at::Tensor& hashed, bool simplex, bool need_x, bool need_table) {
  const HashEncodingParams p = hash_encoding_params(x, table, scales, simplex);
  at::Tensor grad_x = need_x ? at::empty_like(x) : at::empty({0}, x.options());
  at::Tensor grad_table = need_table ? at::zeros_like(table) : at::empty({0}, table.options());
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_backward_cpu", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      constexpr int d = decltype(D)::value;
      auto fn = simplex ? backward_impl<d, true, scalar_t> : backward_impl<d, false, scalar_t>;
      fn(p, grad_out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(),
         scales.data_ptr<scalar_t>(), lv, need_x ? grad_x.data_ptr<scalar_t>() : nullptr,
         need_table ? grad_table.data_ptr<scalar_t>() : nullptr);
    });
  });
  return {grad_x, grad_table};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> hash_encoding_backward_backward_cpu(
    const at::Tensor& gg_x, const at::Tensor& gg_table, const at::Tensor& grad_out,
    const at::Tensor& x, const at::Tensor& table, const at::Tensor& offsets,
    const at::Tensor& scales, const at::Tensor& res, const at::Tensor& hashed, bool simplex,
    bool need_grad_out, bool need_x, bool need_table) {
  const HashEncodingParams p = hash_encoding_params(x, table, scales, simplex);
  at::Tensor dg = need_grad_out ? at::empty_like(grad_out) : at::empty({0}, x.options());
  at::Tensor dx = need_x ? at::empty_like(x) : at::empty({0}, x.options());
  at::Tensor dt = need_table ? at::zeros_like(table) : at::empty({0}, table.options());
  const bool has_gx = gg_x.numel() > 0, has_gt = gg_table.numel() > 0;
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_backward_backward_cpu", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      constexpr int d = decltype(D)::value;
      auto fn = simplex ? backward_backward_impl<d, true, scalar_t>
                        : backward_backward_impl<d, false, scalar_t>;
      fn(p, has_gx ? gg_x.data_ptr<scalar_t>() : nullptr,
         has_gt ? gg_table.data_ptr<scalar_t>() : nullptr, grad_out.data_ptr<scalar_t>(),
         x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(), lv,
         need_grad_out ? dg.data_ptr<scalar_t>() : nullptr,
         need_x ? dx.data_ptr<scalar_t>() : nullptr,
         need_table ? dt.data_ptr<scalar_t>() : nullptr);
    });
  });
  return {dg, dx, dt};
}

}  // namespace gshell

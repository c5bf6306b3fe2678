#include <ATen/Parallel.h>

#include <algorithm>

#include "hash_encoding/hash_encoding.h"
#include "hash_encoding/lattice.h"

namespace gshell {
namespace {

template <int D, bool WITH_GRAD, typename scalar_t, typename Fn>
inline void corners(bool simplex, const scalar_t* x, scalar_t scale, int32_t R, Fn&& fn) {
  if (simplex) simplex_corners<D, WITH_GRAD>(x, scale, fn);
  else grid_corners<D, WITH_GRAD>(x, scale, R, fn);
}

struct Levels {
  const int64_t* offsets;
  const int32_t* res;
  const uint8_t* hashed;
};

// Points are processed in blocks, level by level, so that a block's lookups stay in one level's
// table (a few MB) rather than sweeping every level's table for each point.
constexpr int64_t kBlock = 2048;

template <int D, typename scalar_t>
void forward_impl(const HashEncodingParams& p, const scalar_t* x, const scalar_t* table,
                  const scalar_t* scales, const Levels& lv, scalar_t* out) {
  const int F = p.features;
  const int64_t n_blocks = (p.batch + kBlock - 1) / kBlock;
  at::parallel_for(0, n_blocks, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t blk = k0; blk < k1; ++blk) {
      const int64_t b1 = std::min(p.batch, (blk + 1) * kBlock);
      for (int l = 0; l < p.levels; ++l) {
        const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
        for (int64_t b = blk * kBlock; b < b1; ++b) {
          scalar_t* o = out + (b * p.levels + l) * F;
          for (int f = 0; f < F; ++f) o[f] = 0;
          corners<D, false>(p.simplex, x + b * D, scales[l], lv.res[l],
                            [&](const int32_t* k, scalar_t w, const scalar_t*) {
                              const scalar_t* row =
                                  table + (off + corner_index<D>(k, lv.res[l], lv.hashed[l], size)) * F;
                              for (int f = 0; f < F; ++f) o[f] += w * row[f];
                            });
        }
      }
    }
  });
}

template <int D, typename scalar_t>
void backward_impl(const HashEncodingParams& p, const scalar_t* g, const scalar_t* x,
                   const scalar_t* table, const scalar_t* scales, const Levels& lv,
                   scalar_t* grad_x, scalar_t* grad_table) {
  const int F = p.features;
  if (grad_table != nullptr) {
    // Levels own disjoint rows: one level per task, no atomics.
    at::parallel_for(0, p.levels, 1, [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
        for (int64_t b = 0; b < p.batch; ++b) {
          const scalar_t* gb = g + (b * p.levels + l) * F;
          corners<D, false>(p.simplex, x + b * D, scales[l], lv.res[l],
                            [&](const int32_t* k, scalar_t w, const scalar_t*) {
                              scalar_t* row = grad_table +
                                  (off + corner_index<D>(k, lv.res[l], lv.hashed[l], size)) * F;
                              for (int f = 0; f < F; ++f) row[f] += w * gb[f];
                            });
        }
      }
    });
  }
  if (grad_x != nullptr) {
    const int64_t n_blocks = (p.batch + kBlock - 1) / kBlock;
    at::parallel_for(0, n_blocks, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t blk = k0; blk < k1; ++blk) {
        const int64_t b0 = blk * kBlock, b1 = std::min(p.batch, (blk + 1) * kBlock);
        for (int64_t i = b0 * D; i < b1 * D; ++i) grad_x[i] = 0;
        for (int l = 0; l < p.levels; ++l) {
          const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
          for (int64_t b = b0; b < b1; ++b) {
            const scalar_t* gb = g + (b * p.levels + l) * F;
            scalar_t* acc = grad_x + b * D;
            corners<D, true>(p.simplex, x + b * D, scales[l], lv.res[l],
                             [&](const int32_t* k, scalar_t, const scalar_t* dw) {
                               const scalar_t* row = table +
                                   (off + corner_index<D>(k, lv.res[l], lv.hashed[l], size)) * F;
                               scalar_t dot = 0;
                               for (int f = 0; f < F; ++f) dot += row[f] * gb[f];
                               for (int i = 0; i < D; ++i) acc[i] += dw[i] * dot;
                             });
          }
        }
        for (int64_t b = b0; b < b1; ++b)
          for (int i = 0; i < D; ++i) {
            const scalar_t xi = x[b * D + i];
            if (!(xi >= scalar_t(0) && xi <= scalar_t(1))) grad_x[b * D + i] = 0;
          }
      }
    });
  }
}

template <typename Fn>
void dispatch_dims(int d, Fn&& fn) {
  switch (d) {
    case 1: fn(std::integral_constant<int, 1>()); break;
    case 2: fn(std::integral_constant<int, 2>()); break;
    case 3: fn(std::integral_constant<int, 3>()); break;
    case 4: fn(std::integral_constant<int, 4>()); break;
    case 5: fn(std::integral_constant<int, 5>()); break;
    case 6: fn(std::integral_constant<int, 6>()); break;
    case 7: fn(std::integral_constant<int, 7>()); break;
    case 8: fn(std::integral_constant<int, 8>()); break;
    default: GSHELL_CHECK(false, "hash_encoding", "expected 1 to 8 input dimensions but got ", d);
  }
}

HashEncodingParams make_params(const at::Tensor& x, const at::Tensor& table,
                               const at::Tensor& scales, bool simplex) {
  return {x.size(0), static_cast<int>(x.size(1)), static_cast<int>(scales.size(0)),
          static_cast<int>(table.size(1)), simplex};
}

}  // namespace

at::Tensor hash_encoding_forward_cpu(const at::Tensor& x, const at::Tensor& table,
                                     const at::Tensor& offsets, const at::Tensor& scales,
                                     const at::Tensor& res, const at::Tensor& hashed, bool simplex) {
  const HashEncodingParams p = make_params(x, table, scales, simplex);
  at::Tensor out = at::empty({p.batch, p.levels * p.features}, x.options());
  const Levels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_forward_cpu", [&] {
    dispatch_dims(p.dims, [&](auto D) {
      forward_impl<decltype(D)::value>(p, x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(),
                                       scales.data_ptr<scalar_t>(), lv, out.data_ptr<scalar_t>());
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> hash_encoding_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& table,
    const at::Tensor& offsets, const at::Tensor& scales, const at::Tensor& res,
    const at::Tensor& hashed, bool simplex, bool need_x, bool need_table) {
  const HashEncodingParams p = make_params(x, table, scales, simplex);
  at::Tensor grad_x = need_x ? at::empty_like(x) : at::empty({0}, x.options());
  at::Tensor grad_table = need_table ? at::zeros_like(table) : at::empty({0}, table.options());
  const Levels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_backward_cpu", [&] {
    dispatch_dims(p.dims, [&](auto D) {
      backward_impl<decltype(D)::value>(
          p, grad_out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(),
          scales.data_ptr<scalar_t>(), lv, need_x ? grad_x.data_ptr<scalar_t>() : nullptr,
          need_table ? grad_table.data_ptr<scalar_t>() : nullptr);
    });
  });
  return {grad_x, grad_table};
}

}  // namespace gshell

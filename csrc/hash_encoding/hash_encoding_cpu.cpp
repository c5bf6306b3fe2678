#include <ATen/Parallel.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "hash_encoding/hash_encoding.h"
#include "hash_encoding/lattice.h"

namespace gshell {
namespace {

// Points are processed in blocks of kBlock. For each (block, level) the corners' table rows and
// weights are computed first, then the table is read (or written) in a tight loop that prefetches
// the rows a few corners ahead: the lookups are random, so the time goes into memory latency, and
// this keeps many of them in flight. Kernels that read the table walk the levels in the outer loop
// over a chunk of kChunk points, so that a run of lookups stays within one level's rows (4 MB for
// a 2^19 x 2 float32 level) rather than cycling through all levels' 64 MB for every block.
constexpr int64_t kBlock = 256;
constexpr int64_t kChunk = 8192;
constexpr int kPrefetch = 16;

template <int D, bool SIMPLEX>
constexpr int num_corners() { return SIMPLEX ? D + 1 : (1 << D); }

// One level's constants, hoisted out of the per-point loops.
template <typename scalar_t>
struct Level {
  int64_t off;    // first row of the level
  int64_t size;   // rows of the level
  scalar_t scale;
  int32_t R;
  bool hashed;
  Level(const HashLevels& lv, const scalar_t* scales, int l)
      : off(lv.offsets[l]), size(lv.offsets[l + 1] - lv.offsets[l]), scale(scales[l]),
        R(lv.res[l]), hashed(lv.hashed[l] != 0) {}
};

// Rows (element offsets into the table) and weights of the corners of n points, the same values
// as lattice.h's grid_corners / simplex_corners with corner_index, computed with less work: the
// corner rows incrementally (the grid's 2^D corners by doubling over the dimensions, the simplex's
// by one unit step per corner), the grid's weights by doubling (the same products in the same
// order), the simplex's order of the fractions by branch-free ranks (stable, descending).
// HASHED: xor of k_i * P_i masked to the level's size, else dense sum k_i (R+1)^i.
template <int D, bool SIMPLEX, bool HASHED, typename scalar_t>
void fill_rows_weights(const scalar_t* x, int64_t n, const Level<scalar_t>& lv, int F,
                       int64_t* rows, scalar_t* w) {
  constexpr int C = num_corners<D, SIMPLEX>();
  // Index arithmetic: uint32 wraps like corner_index's hash; int64 for dense sums.
  using idx_t = typename std::conditional<HASHED, uint32_t, int64_t>::type;
  idx_t stride[D];
  {
    int64_t s = 1;
    for (int i = 0; i < D; ++i) {
      stride[i] = HASHED ? static_cast<idx_t>(hash_prime(i)) : static_cast<idx_t>(s);
      s *= lv.R + 1;
    }
  }
  const uint32_t mask = static_cast<uint32_t>(lv.size - 1);
  auto term = [&](int i, int32_t k) -> idx_t {
    return HASHED ? static_cast<idx_t>(static_cast<uint32_t>(k) * static_cast<uint32_t>(stride[i]))
                  : static_cast<idx_t>(k) * stride[i];
  };
  auto combine = [](idx_t a, idx_t b) -> idx_t { return HASHED ? (a ^ b) : (a + b); };
  auto row_of = [&](idx_t h) -> int64_t {
    const int64_t r = HASHED ? static_cast<int64_t>(static_cast<uint32_t>(h) & mask)
                             : static_cast<int64_t>(h);
    return (lv.off + r) * F;
  };
  if (!SIMPLEX) {
    for (int64_t b = 0; b < n; ++b) {
      int32_t cell[D];
      scalar_t f[D];
      grid_cell<D>(x + b * D, lv.scale, lv.R, cell, f);
      idx_t h[C];
      scalar_t ww[C];
      h[0] = 0;
      ww[0] = 1;
      for (int i = 0; i < D; ++i) {
        const int half = 1 << i;
        const idx_t t0 = term(i, cell[i]), t1 = term(i, cell[i] + 1);
        const scalar_t f1 = f[i], f0 = scalar_t(1) - f[i];
        for (int j = 0; j < half; ++j) {
          h[j + half] = combine(h[j], t1);
          ww[j + half] = ww[j] * f1;
          h[j] = combine(h[j], t0);
          ww[j] = ww[j] * f0;
        }
      }
      for (int c = 0; c < C; ++c) {
        rows[b * C + c] = row_of(h[c]);
        w[b * C + c] = ww[c];
      }
    }
  } else {
    for (int64_t b = 0; b < n; ++b) {
      int32_t k[D];
      scalar_t f[D];
      simplex_cell<D>(x + b * D, lv.scale, k, f);
      // rank[i]: the position of dimension i in the stable descending order of the fractions.
      idx_t h = 0, step[D];
      scalar_t fs[D + 1];
      for (int i = 0; i < D; ++i) {
        int rank = 0;
        for (int j = 0; j < D; ++j)
          rank += j < i ? (f[j] >= f[i]) : (j > i ? (f[j] > f[i]) : 0);
        fs[rank] = f[i];
        h = combine(h, term(i, k[i]));
        // The unit step along i, taken by corner rank + 1.
        step[rank] = HASHED ? static_cast<idx_t>(term(i, k[i]) ^ term(i, k[i] + 1)) : stride[i];
      }
      fs[D] = 0;
      int64_t* rb = rows + b * C;
      scalar_t* wb = w + b * C;
      rb[0] = row_of(h);
      wb[0] = scalar_t(1) - fs[0];
      for (int c = 1; c <= D; ++c) {
        h = combine(h, step[c - 1]);
        rb[c] = row_of(h);
        wb[c] = fs[c - 1] - fs[c];
      }
    }
  }
}

template <int D, bool SIMPLEX, typename scalar_t>
void fill_rows_weights(const scalar_t* x, int64_t n, const Level<scalar_t>& lv, int F,
                       int64_t* rows, scalar_t* w) {
  if (lv.hashed) fill_rows_weights<D, SIMPLEX, true>(x, n, lv, F, rows, w);
  else fill_rows_weights<D, SIMPLEX, false>(x, n, lv, F, rows, w);
}

// Rows, weights and (WITH_GRAD) dw/dx of the corners of a block, through lattice.h.
template <int D, bool SIMPLEX, bool WITH_GRAD, typename scalar_t>
struct CornerBuffer {
  static constexpr int C = num_corners<D, SIMPLEX>();
  std::vector<int64_t> rows;
  std::vector<scalar_t> w, dw;
  CornerBuffer() : rows(kBlock * C + kPrefetch, 0), w(kBlock * C), dw(WITH_GRAD ? kBlock * C * D : 0) {}

  // Rows (element offsets into the table) and weights of the corners of points [b0, b1).
  void fill(const scalar_t* x, int64_t b0, int64_t b1, const Level<scalar_t>& lv, int F) {
    int64_t i = 0;
    if (!WITH_GRAD) {
      fill_rows_weights<D, SIMPLEX>(x + b0 * D, b1 - b0, lv, F, rows.data(), w.data());
      i = (b1 - b0) * C;
    } else {
      for (int64_t b = b0; b < b1; ++b) {
        auto fn = [&](const int32_t* k, scalar_t wt, const scalar_t* d) {
          rows[i] = (lv.off + corner_index<D>(k, lv.R, lv.hashed, lv.size)) * F;
          w[i] = wt;
          for (int j = 0; j < D; ++j) dw[i * D + j] = d[j];
          ++i;
        };
        if (SIMPLEX) simplex_corners<D, true>(x + b * D, lv.scale, fn);
        else grid_corners<D, true>(x + b * D, lv.scale, lv.R, fn);
      }
    }
    for (int j = 0; j < kPrefetch; ++j) rows[i + j] = rows[i > 0 ? i - 1 : 0];
  }
};

// Runs fn(l) for every level, each level on one thread, levels handed out in descending order
// (the hashed, largest levels first) as threads become free. A level's work never depends on
// which thread runs it, so the result does not either.
template <typename Fn>
void for_each_level(int levels, Fn&& fn) {
  std::atomic<int> next{levels - 1};
  at::parallel_for(0, std::min<int64_t>(levels, at::get_num_threads()), 1,
                   [&](int64_t, int64_t) {
                     for (int l = next--; l >= 0; l = next--) fn(l);
                   });
}

// out[b * out_stride + f] = sum_c w[b C + c] table[rows[b C + c] + f] for n points; FT: the
// number of features F when it is a compile-time constant, else 0.
template <int C, int FT, typename scalar_t>
inline void gather(int64_t n, int F, const int64_t* rows, const scalar_t* w,
                   const scalar_t* table, scalar_t* out, int64_t out_stride) {
  for (int64_t b = 0, i = 0; b < n; ++b) {
    scalar_t* o = out + b * out_stride;
    if constexpr (FT > 0) {
      scalar_t acc[FT] = {};
      for (int c = 0; c < C; ++c, ++i) {
        __builtin_prefetch(table + rows[i + kPrefetch]);
        const scalar_t* row = table + rows[i];
        for (int f = 0; f < FT; ++f) acc[f] += w[i] * row[f];
      }
      for (int f = 0; f < FT; ++f) o[f] = acc[f];
    } else {
      for (int f = 0; f < F; ++f) o[f] = 0;
      for (int c = 0; c < C; ++c, ++i) {
        __builtin_prefetch(table + rows[i + kPrefetch]);
        const scalar_t* row = table + rows[i];
        for (int f = 0; f < F; ++f) o[f] += w[i] * row[f];
      }
    }
  }
}

// table[rows[b C + c] + f] += w[b C + c] g[b * g_stride + f] for n points, in order.
template <int C, int FT, typename scalar_t>
inline void scatter(int64_t n, int F, const int64_t* rows, const scalar_t* w, const scalar_t* g,
                    int64_t g_stride, scalar_t* table) {
  for (int64_t b = 0, i = 0; b < n; ++b) {
    const scalar_t* gb = g + b * g_stride;
    if constexpr (FT > 0) {
      scalar_t gv[FT];
      for (int f = 0; f < FT; ++f) gv[f] = gb[f];
      for (int c = 0; c < C; ++c, ++i) {
        __builtin_prefetch(table + rows[i + kPrefetch], 1);
        scalar_t* row = table + rows[i];
        for (int f = 0; f < FT; ++f) row[f] += w[i] * gv[f];
      }
    } else {
      for (int c = 0; c < C; ++c, ++i) {
        __builtin_prefetch(table + rows[i + kPrefetch], 1);
        scalar_t* row = table + rows[i];
        for (int f = 0; f < F; ++f) row[f] += w[i] * gb[f];
      }
    }
  }
}

// Calls fn(std::integral_constant<int, FT>()) with FT = F for the usual feature counts (1, 2, 4,
// 8: the inner loops unroll), else FT = 0 (F at run time).
template <typename Fn>
void dispatch_features(int F, Fn&& fn) {
  switch (F) {
    case 1: fn(std::integral_constant<int, 1>()); break;
    case 2: fn(std::integral_constant<int, 2>()); break;
    case 4: fn(std::integral_constant<int, 4>()); break;
    case 8: fn(std::integral_constant<int, 8>()); break;
    default: fn(std::integral_constant<int, 0>());
  }
}

template <int D, bool SIMPLEX, int FT, typename scalar_t>
void forward_impl(const HashEncodingParams& p, const scalar_t* x, const scalar_t* table,
                  const scalar_t* scales, const HashLevels& lv, scalar_t* out) {
  const int F = p.features;
  constexpr int C = num_corners<D, SIMPLEX>();
  const int64_t n_chunks = (p.batch + kChunk - 1) / kChunk;
  at::parallel_for(0, n_chunks, 1, [&](int64_t k0, int64_t k1) {
    CornerBuffer<D, SIMPLEX, false, scalar_t> buf;
    for (int64_t chunk = k0; chunk < k1; ++chunk) {
      const int64_t c0 = chunk * kChunk, c1 = std::min(p.batch, c0 + kChunk);
      for (int l = 0; l < p.levels; ++l) {
        const Level<scalar_t> level(lv, scales, l);
        for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
          const int64_t b1 = std::min(c1, b0 + kBlock);
          buf.fill(x, b0, b1, level, F);
          gather<C, FT>(b1 - b0, F, buf.rows.data(), buf.w.data(), table,
                        out + (b0 * p.levels + l) * F, p.levels * F);
        }
      }
    }
  });
}

template <int D, bool SIMPLEX, int FT, typename scalar_t>
void backward_impl(const HashEncodingParams& p, const scalar_t* g, const scalar_t* x,
                   const scalar_t* table, const scalar_t* scales, const HashLevels& lv,
                   scalar_t* grad_x, scalar_t* grad_table) {
  const int F = p.features;
  constexpr int C = num_corners<D, SIMPLEX>();
  if (grad_table != nullptr) {
    // Levels own disjoint rows: one level per thread, no atomics. grad_table is uninitialised:
    // each level zeroes its rows first, which also brings them into cache for the scatter.
    for_each_level(p.levels, [&](int l) {
      CornerBuffer<D, SIMPLEX, false, scalar_t> buf;
      const Level<scalar_t> level(lv, scales, l);
      std::memset(grad_table + level.off * F, 0, sizeof(scalar_t) * level.size * F);
      for (int64_t b0 = 0; b0 < p.batch; b0 += kBlock) {
        const int64_t b1 = std::min(p.batch, b0 + kBlock);
        buf.fill(x, b0, b1, level, F);
        scatter<C, FT>(b1 - b0, F, buf.rows.data(), buf.w.data(), g + (b0 * p.levels + l) * F,
                       p.levels * F, grad_table);
      }
    });
  }
  if (grad_x != nullptr) {
    const int64_t n_chunks = (p.batch + kChunk - 1) / kChunk;
    at::parallel_for(0, n_chunks, 1, [&](int64_t k0, int64_t k1) {
      CornerBuffer<D, SIMPLEX, true, scalar_t> buf;
      for (int64_t chunk = k0; chunk < k1; ++chunk) {
        const int64_t c0 = chunk * kChunk, c1 = std::min(p.batch, c0 + kChunk);
        for (int64_t i = c0 * D; i < c1 * D; ++i) grad_x[i] = 0;
        for (int l = 0; l < p.levels; ++l) {
          const Level<scalar_t> level(lv, scales, l);
          for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
            const int64_t b1 = std::min(c1, b0 + kBlock);
            buf.fill(x, b0, b1, level, F);
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
        }
        for (int64_t b = c0; b < c1; ++b)
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

  void fill(const scalar_t* x, const scalar_t* gg_x, int64_t b0, int64_t b1,
            const Level<scalar_t>& lv, int F) {
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
        rows[i] = (lv.off + corner_index<D>(k, lv.R, lv.hashed, lv.size)) * F;
        w[i] = wt;
        a[i] = av;
        if (need_dw)
          for (int j = 0; j < D; ++j) dw[i * D + j] = d[j];
        if (need_hv)
          for (int j = 0; j < D; ++j) hv[i * D + j] = h[j];
        ++i;
      };
      if (SIMPLEX) simplex_corners_hvp<D>(x + b * D, v, lv.scale, fn);
      else grid_corners_hvp<D>(x + b * D, v, lv.scale, lv.R, fn);
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
          buf.fill(x, gg_x, b0, b1, Level<scalar_t>(lv, scales, l), F);
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
  if (dt != nullptr) {
    // As the table backward: levels own disjoint rows, one level per thread, no atomics; dt is
    // uninitialised and each level zeroes its rows first (and stays zero without gg_x).
    for_each_level(p.levels, [&](int l) {
      const Level<scalar_t> level(lv, scales, l);
      std::memset(dt + level.off * F, 0, sizeof(scalar_t) * level.size * F);
      if (gg_x == nullptr) return;
      HvpBuffer<D, SIMPLEX, scalar_t> buf(false, false);
      for (int64_t b0 = 0; b0 < p.batch; b0 += kBlock) {
        const int64_t b1 = std::min(p.batch, b0 + kBlock);
        buf.fill(x, gg_x, b0, b1, level, F);
        scatter<C, 0>(b1 - b0, F, buf.rows.data(), buf.a.data(), g + (b0 * p.levels + l) * F,
                      p.levels * F, dt);
      }
    });
  }
}

// An uninitialised gradient of the table (the kernels zero it level by level). A fresh 64 MB
// buffer is mapped on first touch, 4 KB page by page, and those 16k page faults cost more than
// filling it; transparent huge pages (Linux, where enabled for madvise) take 2 MB per fault.
at::Tensor empty_table_like(const at::Tensor& table) {
  at::Tensor t = at::empty_like(table);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(1) << 21;
  const uintptr_t p = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t a = (p + kHuge - 1) & ~(kHuge - 1), e = (p + t.nbytes()) & ~(kHuge - 1);
  if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);  // advice: may fail
#endif
  return t;
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
      dispatch_features(p.features, [&](auto FC) {
        constexpr int ft = decltype(FC)::value;
        auto fn = simplex ? forward_impl<d, true, ft, scalar_t> : forward_impl<d, false, ft, scalar_t>;
        fn(p, x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(), lv,
           out.data_ptr<scalar_t>());
      });
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
  at::Tensor grad_table = need_table ? empty_table_like(table) : at::empty({0}, table.options());
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_backward_cpu", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      constexpr int d = decltype(D)::value;
      dispatch_features(p.features, [&](auto FC) {
        constexpr int ft = decltype(FC)::value;
        auto fn = simplex ? backward_impl<d, true, ft, scalar_t> : backward_impl<d, false, ft, scalar_t>;
        fn(p, grad_out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(),
           scales.data_ptr<scalar_t>(), lv, need_x ? grad_x.data_ptr<scalar_t>() : nullptr,
           need_table ? grad_table.data_ptr<scalar_t>() : nullptr);
      });
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
  at::Tensor dt = need_table ? empty_table_like(table) : at::empty({0}, table.options());
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

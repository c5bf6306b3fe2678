// Multiresolution hash encoding on a grid (instant-ngp) or simplex (Wen & Yang 2023) lattice.
// See lattice.h for the lattices; gshell/nn/encoding.py for the level layout.
//
// Args:
//   x:       (B, D) float32|float64, D in 1..8, clamped to [0, 1]
//   table:   (rows, F) same dtype, every level's entries stacked
//   offsets: (L + 1,) int64, first row of each level (and the total)
//   scales:  (L,) same dtype as x, the level's scale of x
//   res:     (L,) int32, the largest corner coordinate R of each level
//   hashed:  (L,) uint8, whether the level hashes its corners (else dense indexing, (R+1)^D rows)
//   simplex: the lattice
// forward returns (B, L * F), level-major. backward returns grad_x (B, D) (zero where x was
// clamped) and grad_table (rows, F); either is an empty tensor when not requested.
//
// backward_backward (the double backward, for losses on grad_x such as an Eikonal term) takes
// gg_x (B, D) and gg_table (rows, F), the gradients of a scalar S = <grad_x, gg_x> +
// <grad_table, gg_table> w.r.t. backward's outputs (either may be an empty tensor: zero), and
// returns dS/dgrad_out (B, L * F), dS/dx (B, D) and dS/dtable (rows, F), each an empty tensor when
// not requested. With corner weights w_c(x) and rows r_c of a point and level, g its grad_out slice:
//   dS/dg       = sum_c (dw_c . gg_x) T[r_c] + sum_c w_c gg_table[r_c]
//   dS/dT[r_c] += (dw_c . gg_x) g
//   dS/dx       = sum_c (H_c gg_x) (g . T[r_c]) + sum_c dw_c (g . gg_table[r_c])
// with dw_c, H_c the gradient and Hessian of w_c in x (lattice.h); gg_x and dS/dx are zero along
// clamped coordinates of x, as grad_x is.
#pragma once
#include <ATen/ATen.h>

#include <deque>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "common/check.h"

namespace gshell {

struct HashEncodingParams {
  int64_t batch;
  int dims;
  int levels;
  int features;
  bool simplex;
};

// The level layout as the kernels read it (device or host pointers).
struct HashLevels {
  const int64_t* offsets;
  const int32_t* res;
  const uint8_t* hashed;
};

inline HashEncodingParams hash_encoding_params(const at::Tensor& x, const at::Tensor& table,
                                               const at::Tensor& scales, bool simplex) {
  return {x.size(0), static_cast<int>(x.size(1)), static_cast<int>(scales.size(0)),
          static_cast<int>(table.size(1)), simplex};
}

// Calls fn(std::integral_constant<int, D>()) for the runtime dimension d in 1..8.
template <typename Fn>
void dispatch_encoding_dims(int d, Fn&& fn) {
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

at::Tensor hash_encoding_forward_cpu(const at::Tensor& x, const at::Tensor& table,
                                     const at::Tensor& offsets, const at::Tensor& scales,
                                     const at::Tensor& res, const at::Tensor& hashed, bool simplex);
std::tuple<at::Tensor, at::Tensor> hash_encoding_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& table,
    const at::Tensor& offsets, const at::Tensor& scales, const at::Tensor& res,
    const at::Tensor& hashed, bool simplex, bool need_x, bool need_table);
std::tuple<at::Tensor, at::Tensor, at::Tensor> hash_encoding_backward_backward_cpu(
    const at::Tensor& gg_x, const at::Tensor& gg_table, const at::Tensor& grad_out,
    const at::Tensor& x, const at::Tensor& table, const at::Tensor& offsets,
    const at::Tensor& scales, const at::Tensor& res, const at::Tensor& hashed, bool simplex,
    bool need_grad_out, bool need_x, bool need_table);
#ifdef WITH_CUDA
at::Tensor hash_encoding_forward_cuda(const at::Tensor& x, const at::Tensor& table,
                                      const at::Tensor& offsets, const at::Tensor& scales,
                                      const at::Tensor& res, const at::Tensor& hashed, bool simplex);
std::tuple<at::Tensor, at::Tensor> hash_encoding_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& table,
    const at::Tensor& offsets, const at::Tensor& scales, const at::Tensor& res,
    const at::Tensor& hashed, bool simplex, bool need_x, bool need_table);
std::tuple<at::Tensor, at::Tensor, at::Tensor> hash_encoding_backward_backward_cuda(
    const at::Tensor& gg_x, const at::Tensor& gg_table, const at::Tensor& grad_out,
    const at::Tensor& x, const at::Tensor& table, const at::Tensor& offsets,
    const at::Tensor& scales, const at::Tensor& res, const at::Tensor& hashed, bool simplex,
    bool need_grad_out, bool need_x, bool need_table);
#endif

// The level layout must fit the table: offsets[0] == 0 and offsets[L] == rows. Host offsets are
// read in place. Device offsets would need a copy to the host, which synchronises, on every call:
// instead the last few validated (offsets tensor, its version counter and data, rows) are
// remembered, so a module's offsets buffer is copied once, and again only after it was modified
// in place. The cache holds weak references: a tensor's address is not reused while cached.
inline void hash_encoding_check_offsets_span(const at::Tensor& offsets, int64_t rows) {
  const int64_t L = offsets.numel() - 1;
  auto check = [&](const int64_t* off) {
    GSHELL_CHECK(off[L] == rows && off[0] == 0, "hash_encoding",
                 "expected offsets to span the table's ", rows, " rows");
  };
  if (offsets.is_cpu()) {
    check(offsets.data_ptr<int64_t>());
    return;
  }
  struct Validated {
    c10::weak_intrusive_ptr<c10::TensorImpl> tensor;
    int64_t version;
    const void* data;
    int64_t rows;
  };
  static std::mutex mutex;
  static std::deque<Validated> cache;  // most recent first
  constexpr size_t kCacheSize = 8;
  const int64_t version = offsets._version();
  auto same = [&](const Validated& v) {
    return v.tensor._unsafe_get_target() == offsets.unsafeGetTensorImpl() &&
           v.version == version && v.data == offsets.data_ptr() && v.rows == rows;
  };
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const Validated& v : cache)
      if (same(v)) return;
  }
  const at::Tensor host = offsets.cpu();
  check(host.data_ptr<int64_t>());
  std::lock_guard<std::mutex> lock(mutex);
  cache.push_front({c10::weak_intrusive_ptr<c10::TensorImpl>(offsets.getIntrusivePtr()), version,
                    offsets.data_ptr(), rows});
  if (cache.size() > kCacheSize) cache.pop_back();
}

inline void hash_encoding_check(const at::Tensor& x, const at::Tensor& table,
                                const at::Tensor& offsets, const at::Tensor& scales,
                                const at::Tensor& res, const at::Tensor& hashed) {
  const char* op = "hash_encoding";
  GSHELL_CHECK_DIM(op, x, 2);
  GSHELL_CHECK(x.size(1) >= 1 && x.size(1) <= 8, op, "expected x of shape (B, D) with D in 1..8 but got ",
               x.sizes());
  GSHELL_CHECK_FLOAT(op, x);
  GSHELL_CHECK_DIM(op, table, 2);
  GSHELL_CHECK_DTYPE(op, table, x.scalar_type());
  GSHELL_CHECK_DTYPE(op, scales, x.scalar_type());
  GSHELL_CHECK_DTYPE(op, offsets, at::kLong);
  GSHELL_CHECK_DTYPE(op, res, at::kInt);
  GSHELL_CHECK_DTYPE(op, hashed, at::kByte);
  const int64_t L = scales.size(0);
  GSHELL_CHECK(L >= 1 && offsets.numel() == L + 1 && res.numel() == L && hashed.numel() == L, op,
               "expected offsets (L+1,), scales, res, hashed (L,) but got ", offsets.sizes(), ", ",
               scales.sizes(), ", ", res.sizes(), ", ", hashed.sizes());
  for (const at::Tensor* t : {&table, &offsets, &scales, &res, &hashed}) {
    GSHELL_CHECK(t->device() == x.device(), op, "expected all tensors on ", x.device(), " but got ",
                 t->device());
    GSHELL_CHECK(t->is_contiguous(), op, "expected contiguous tensors");
  }
  GSHELL_CHECK_CONTIGUOUS(op, x);
  hash_encoding_check_offsets_span(offsets, table.size(0));
}

inline at::Tensor hash_encoding_forward(const at::Tensor& x, const at::Tensor& table,
                                        const at::Tensor& offsets, const at::Tensor& scales,
                                        const at::Tensor& res, const at::Tensor& hashed,
                                        bool simplex) {
  hash_encoding_check(x, table, offsets, scales, res, hashed);
  if (x.is_cuda()) {
#ifdef WITH_CUDA
    return hash_encoding_forward_cuda(x, table, offsets, scales, res, hashed, simplex);
#else
    GSHELL_CHECK(false, "hash_encoding", "gshell was built without CUDA support");
#endif
  }
  return hash_encoding_forward_cpu(x, table, offsets, scales, res, hashed, simplex);
}

inline void hash_encoding_check_grad_out(const at::Tensor& grad_out, const at::Tensor& x,
                                         const at::Tensor& table, const at::Tensor& scales) {
  GSHELL_CHECK(grad_out.dim() == 2 && grad_out.size(0) == x.size(0) &&
                   grad_out.size(1) == scales.size(0) * table.size(1),
               "hash_encoding", "expected grad_out of shape (", x.size(0), ", ",
               scales.size(0) * table.size(1), ") but got ", grad_out.sizes());
  GSHELL_CHECK_DTYPE("hash_encoding", grad_out, x.scalar_type());
  GSHELL_CHECK(grad_out.device() == x.device(), "hash_encoding", "expected grad_out on ",
               x.device(), " but got ", grad_out.device());
  GSHELL_CHECK_CONTIGUOUS("hash_encoding", grad_out);
}

inline std::tuple<at::Tensor, at::Tensor> hash_encoding_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& table,
    const at::Tensor& offsets, const at::Tensor& scales, const at::Tensor& res,
    const at::Tensor& hashed, bool simplex, bool need_x, bool need_table) {
  hash_encoding_check(x, table, offsets, scales, res, hashed);
  hash_encoding_check_grad_out(grad_out, x, table, scales);
  if (x.is_cuda()) {
#ifdef WITH_CUDA
    return hash_encoding_backward_cuda(grad_out, x, table, offsets, scales, res, hashed, simplex,
                                       need_x, need_table);
#else
    GSHELL_CHECK(false, "hash_encoding", "gshell was built without CUDA support");
#endif
  }
  return hash_encoding_backward_cpu(grad_out, x, table, offsets, scales, res, hashed, simplex,
                                    need_x, need_table);
}

inline std::tuple<at::Tensor, at::Tensor, at::Tensor> hash_encoding_backward_backward(
    const at::Tensor& gg_x, const at::Tensor& gg_table, const at::Tensor& grad_out,
    const at::Tensor& x, const at::Tensor& table, const at::Tensor& offsets,
    const at::Tensor& scales, const at::Tensor& res, const at::Tensor& hashed, bool simplex,
    bool need_grad_out, bool need_x, bool need_table) {
  const char* op = "hash_encoding_backward_backward";
  hash_encoding_check(x, table, offsets, scales, res, hashed);
  hash_encoding_check_grad_out(grad_out, x, table, scales);
  // gg_x and gg_table: the shape of x and table, or empty (zero).
  auto check_gg = [&](const char* name, const at::Tensor& gg, const at::Tensor& like) {
    if (gg.numel() == 0 && gg.dim() == 1) return;
    GSHELL_CHECK(gg.sizes() == like.sizes(), op, "expected ", name, " of shape ", like.sizes(),
                 " or empty but got ", gg.sizes());
    GSHELL_CHECK(gg.scalar_type() == x.scalar_type(), op, "expected ", name, " of dtype ",
                 x.scalar_type(), " but got ", gg.scalar_type());
    GSHELL_CHECK(gg.device() == x.device(), op, "expected ", name, " on ", x.device(),
                 " but got ", gg.device());
    GSHELL_CHECK(gg.is_contiguous(), op, "expected ", name, " to be contiguous");
  };
  check_gg("gg_x", gg_x, x);
  check_gg("gg_table", gg_table, table);
  if (x.is_cuda()) {
#ifdef WITH_CUDA
    return hash_encoding_backward_backward_cuda(gg_x, gg_table, grad_out, x, table, offsets, scales,
                                                res, hashed, simplex, need_grad_out, need_x,
                                                need_table);
#else
    GSHELL_CHECK(false, "hash_encoding", "gshell was built without CUDA support");
#endif
  }
  return hash_encoding_backward_backward_cpu(gg_x, gg_table, grad_out, x, table, offsets, scales,
                                             res, hashed, simplex, need_grad_out, need_x,
                                             need_table);
}

}  // namespace gshell

// Hash encoding on CUDA: one thread per (point, level). The table gradient is scattered with
// atomicAdd; the input gradient too (one add per level and dimension). The double backward works
// the same way: its grad_out gradient is written by the thread that owns the (point, level), its
// table and x gradients are scattered with atomicAdd.
#include <type_traits>

#include "common/cuda_utils.h"
#include "hash_encoding/hash_encoding.h"
#include "hash_encoding/lattice.h"

namespace gshell {
namespace {

template <int D, bool WITH_GRAD, typename scalar_t, typename Fn>
__device__ __forceinline__ void corners(bool simplex, const scalar_t* x, scalar_t scale, int32_t R,
                                        Fn&& fn) {
  if (simplex) simplex_corners<D, WITH_GRAD>(x, scale, fn);
  else grid_corners<D, WITH_GRAD>(x, scale, R, fn);
}

template <int D, typename scalar_t>
__global__ void forward_kernel(HashEncodingParams p, const scalar_t* __restrict__ x,
                               const scalar_t* __restrict__ table,
                               const scalar_t* __restrict__ scales, HashLevels lv,
                               scalar_t* __restrict__ out) {
  const int F = p.features;
  GSHELL_CUDA_LOOP(i, p.batch * p.levels) {
    const int64_t b = i / p.levels;
    const int l = static_cast<int>(i % p.levels);
    scalar_t* o = out + i * F;
    for (int f = 0; f < F; ++f) o[f] = 0;
    const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
    const int32_t R = lv.res[l];
    const bool hashed = lv.hashed[l];
    corners<D, false>(p.simplex, x + b * D, scales[l], R,
                      [&](const int32_t* k, scalar_t w, const scalar_t*) {
                        const scalar_t* row = table + (off + corner_index<D>(k, R, hashed, size)) * F;
                        for (int f = 0; f < F; ++f) o[f] += w * row[f];
                      });
  }
}

template <int D, typename scalar_t>
__global__ void backward_kernel(HashEncodingParams p, const scalar_t* __restrict__ g,
                                const scalar_t* __restrict__ x, const scalar_t* __restrict__ table,
                                const scalar_t* __restrict__ scales, HashLevels lv,
                                scalar_t* __restrict__ grad_x, scalar_t* __restrict__ grad_table) {
  const int F = p.features;
  GSHELL_CUDA_LOOP(i, p.batch * p.levels) {
    const int64_t b = i / p.levels;
    const int l = static_cast<int>(i % p.levels);
    const scalar_t* gb = g + i * F;
    const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
    const int32_t R = lv.res[l];
    const bool hashed = lv.hashed[l];
    scalar_t acc[D];
    for (int j = 0; j < D; ++j) acc[j] = 0;
    if (grad_x != nullptr) {
      corners<D, true>(p.simplex, x + b * D, scales[l], R,
                       [&](const int32_t* k, scalar_t w, const scalar_t* dw) {
                         const int64_t row = (off + corner_index<D>(k, R, hashed, size)) * F;
                         scalar_t dot = 0;
                         for (int f = 0; f < F; ++f) {
                           dot += table[row + f] * gb[f];
                           if (grad_table != nullptr) atomicAdd(grad_table + row + f, w * gb[f]);
                         }
                         for (int j = 0; j < D; ++j) acc[j] += dw[j] * dot;
                       });
      for (int j = 0; j < D; ++j) {
        const scalar_t xj = x[b * D + j];
        if (xj >= scalar_t(0) && xj <= scalar_t(1)) atomicAdd(grad_x + b * D + j, acc[j]);
      }
    } else {
      corners<D, false>(p.simplex, x + b * D, scales[l], R,
                        [&](const int32_t* k, scalar_t w, const scalar_t*) {
                          const int64_t row = (off + corner_index<D>(k, R, hashed, size)) * F;
                          for (int f = 0; f < F; ++f) atomicAdd(grad_table + row + f, w * gb[f]);
                        });
    }
  }
}

template <int D, typename scalar_t>
__global__ void backward_backward_kernel(
    HashEncodingParams p, const scalar_t* __restrict__ gg_x, const scalar_t* __restrict__ gg_t,
    const scalar_t* __restrict__ g, const scalar_t* __restrict__ x,
    const scalar_t* __restrict__ table, const scalar_t* __restrict__ scales, HashLevels lv,
    scalar_t* __restrict__ dg, scalar_t* __restrict__ dx, scalar_t* __restrict__ dt) {
  const int F = p.features;
  // The Hessian term of dx: the grid's weights only (the simplex's are piecewise linear).
  const bool hess = dx != nullptr && gg_x != nullptr && !p.simplex && D > 1;
  const bool dx_gt = dx != nullptr && gg_t != nullptr;
  const bool dt_gx = dt != nullptr && gg_x != nullptr;
  GSHELL_CUDA_LOOP(i, p.batch * p.levels) {
    const int64_t b = i / p.levels;
    const int l = static_cast<int>(i % p.levels);
    const scalar_t* gb = g + i * F;
    scalar_t* o = dg != nullptr ? dg + i * F : nullptr;
    if (o != nullptr)
      for (int f = 0; f < F; ++f) o[f] = 0;
    const int64_t off = lv.offsets[l], size = lv.offsets[l + 1] - off;
    const int32_t R = lv.res[l];
    const bool hashed = lv.hashed[l];
    scalar_t v[D], acc[D];
    for (int j = 0; j < D; ++j) {
      const scalar_t xj = x[b * D + j];
      const bool inside = xj >= scalar_t(0) && xj <= scalar_t(1);
      v[j] = gg_x != nullptr && inside ? gg_x[b * D + j] : scalar_t(0);
      acc[j] = 0;
    }
    auto fn = [&](const int32_t* k, scalar_t w, const scalar_t* dw, scalar_t a,
                  const scalar_t* hv) {
      const int64_t row = (off + corner_index<D>(k, R, hashed, size)) * F;
      scalar_t dot_t = 0, dot_gt = 0;
      for (int f = 0; f < F; ++f) {
        const scalar_t t = table[row + f];
        const scalar_t gt = gg_t != nullptr ? gg_t[row + f] : scalar_t(0);
        if (o != nullptr) o[f] += a * t + w * gt;
        if (dt_gx) atomicAdd(dt + row + f, a * gb[f]);
        dot_t += t * gb[f];
        dot_gt += gt * gb[f];
      }
      if (hess)
        for (int j = 0; j < D; ++j) acc[j] += hv[j] * dot_t;
      if (dx_gt)
        for (int j = 0; j < D; ++j) acc[j] += dw[j] * dot_gt;
    };
    if (p.simplex) simplex_corners_hvp<D>(x + b * D, v, scales[l], fn);
    else grid_corners_hvp<D>(x + b * D, v, scales[l], R, fn);
    if (dx != nullptr)
      for (int j = 0; j < D; ++j) {
        const scalar_t xj = x[b * D + j];
        if (xj >= scalar_t(0) && xj <= scalar_t(1) && acc[j] != scalar_t(0))
          atomicAdd(dx + b * D + j, acc[j]);
      }
  }
}

}  // namespace

at::Tensor hash_encoding_forward_cuda(const at::Tensor& x, const at::Tensor& table,
                                      const at::Tensor& offsets, const at::Tensor& scales,
                                      const at::Tensor& res, const at::Tensor& hashed,
                                      bool simplex) {
  c10::cuda::CUDAGuard guard(x.device());
  cudaStream_t stream = current_stream();
  const HashEncodingParams p = hash_encoding_params(x, table, scales, simplex);
  at::Tensor out = at::empty({p.batch, p.levels * p.features}, x.options());
  if (p.batch == 0) return out;
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_forward_cuda", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      forward_kernel<decltype(D)::value, scalar_t>
          <<<num_blocks(p.batch * p.levels), kThreads, 0, stream>>>(
              p, x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(),
              lv, out.data_ptr<scalar_t>());
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::tuple<at::Tensor, at::Tensor> hash_encoding_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& table,
    const at::Tensor& offsets, const at::Tensor& scales, const at::Tensor& res,
    const at::Tensor& hashed, bool simplex, bool need_x, bool need_table) {
  c10::cuda::CUDAGuard guard(x.device());
  cudaStream_t stream = current_stream();
  const HashEncodingParams p = hash_encoding_params(x, table, scales, simplex);
  at::Tensor grad_x = need_x ? at::zeros_like(x) : at::empty({0}, x.options());
  at::Tensor grad_table = need_table ? at::zeros_like(table) : at::empty({0}, table.options());
  if (p.batch == 0 || (!need_x && !need_table)) return {grad_x, grad_table};
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_backward_cuda", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      backward_kernel<decltype(D)::value, scalar_t>
          <<<num_blocks(p.batch * p.levels), kThreads, 0, stream>>>(
              p, grad_out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
              table.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(), lv,
              need_x ? grad_x.data_ptr<scalar_t>() : nullptr,
              need_table ? grad_table.data_ptr<scalar_t>() : nullptr);
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {grad_x, grad_table};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> hash_encoding_backward_backward_cuda(
    const at::Tensor& gg_x, const at::Tensor& gg_table, const at::Tensor& grad_out,
    const at::Tensor& x, const at::Tensor& table, const at::Tensor& offsets,
    const at::Tensor& scales, const at::Tensor& res, const at::Tensor& hashed, bool simplex,
    bool need_grad_out, bool need_x, bool need_table) {
  c10::cuda::CUDAGuard guard(x.device());
  cudaStream_t stream = current_stream();
  const HashEncodingParams p = hash_encoding_params(x, table, scales, simplex);
  at::Tensor dg = need_grad_out ? at::empty_like(grad_out) : at::empty({0}, x.options());
  at::Tensor dx = need_x ? at::zeros_like(x) : at::empty({0}, x.options());
  at::Tensor dt = need_table ? at::zeros_like(table) : at::empty({0}, table.options());
  const bool has_gx = gg_x.numel() > 0, has_gt = gg_table.numel() > 0;
  if (p.batch == 0 || (!need_grad_out && !need_x && !need_table)) return {dg, dx, dt};
  const HashLevels lv{offsets.data_ptr<int64_t>(), res.data_ptr<int32_t>(), hashed.data_ptr<uint8_t>()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "hash_encoding_backward_backward_cuda", [&] {
    dispatch_encoding_dims(p.dims, [&](auto D) {
      backward_backward_kernel<decltype(D)::value, scalar_t>
          <<<num_blocks(p.batch * p.levels), kThreads, 0, stream>>>(
              p, has_gx ? gg_x.data_ptr<scalar_t>() : nullptr,
              has_gt ? gg_table.data_ptr<scalar_t>() : nullptr, grad_out.data_ptr<scalar_t>(),
              x.data_ptr<scalar_t>(), table.data_ptr<scalar_t>(), scales.data_ptr<scalar_t>(), lv,
              need_grad_out ? dg.data_ptr<scalar_t>() : nullptr,
              need_x ? dx.data_ptr<scalar_t>() : nullptr,
              need_table ? dt.data_ptr<scalar_t>() : nullptr);
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {dg, dx, dt};
}

}  // namespace gshell

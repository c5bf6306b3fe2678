// Rasterization on CUDA with the same setup and coverage test as the CPU kernel (rasterize.h):
//   1. cover_kernel, one thread per (view, triangle) looping over its bounding box: for each
//      covered pixel, atomicMin of the 64-bit key (ordered float32 z/w bits << 32 | triangle id)
//      into the pixel's depth-id buffer, so the smallest z/w wins and ties keep the smaller id;
//   2. resolve_kernel, one thread per pixel: recomputes u, v, z/w of the winning triangle.
// Same results as the CPU kernel up to floating-point contraction in the setup.
#include "common/cuda_utils.h"
#include "rasterize/rasterize.h"

namespace gshell {
namespace {

constexpr unsigned long long kEmpty = ~0ull;

// Maps float bits to uint32 so that unsigned order is float order.
__device__ __forceinline__ uint32_t ordered_bits(float z) {
  const uint32_t u = __float_as_uint(z);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <typename scalar_t>
__global__ void cover_kernel(const scalar_t* __restrict__ pos, const int32_t* __restrict__ tri,
                             unsigned long long* __restrict__ depth_id, RasterizeParams p) {
  GSHELL_CUDA_LOOP(k, p.B * p.F) {
    const int64_t b = k / p.F, f = k % p.F;
    const scalar_t* pb = pos + b * p.V * 4;
    const int32_t* t = tri + f * 3;
    TriSetup st;
    if (!tri_setup(pb + 4 * t[0], pb + 4 * t[1], pb + 4 * t[2], p.H, p.W, st)) continue;
    unsigned long long* db = depth_id + b * int64_t(p.H) * p.W;
    for (int y = st.y0; y <= st.y1; ++y) {
      const double py = pixel_ndc(y, p.H);
      int xa, xb;
      row_span(st, py, p.W, xa, xb);
      for (int x = xa; x <= xb; ++x) {
        double u, v, zd;
        float zw;
        if (!tri_eval(st, pixel_ndc(x, p.W), py, u, v, zd, zw)) continue;
        const unsigned long long key =
            (static_cast<unsigned long long>(ordered_bits(zw)) << 32) | static_cast<uint32_t>(f);
        atomicMin(db + int64_t(y) * p.W + x, key);
      }
    }
  }
}

template <typename scalar_t>
__global__ void resolve_kernel(const scalar_t* __restrict__ pos, const int32_t* __restrict__ tri,
                               const unsigned long long* __restrict__ depth_id,
                               scalar_t* __restrict__ rast, RasterizeParams p) {
  const int64_t hw = int64_t(p.H) * p.W;
  GSHELL_CUDA_LOOP(q, p.B * hw) {
    scalar_t* o = rast + q * 4;
    const unsigned long long key = depth_id[q];
    o[0] = o[1] = o[2] = o[3] = scalar_t(0);
    if (key == kEmpty) continue;
    const int64_t b = q / hw;
    const int y = static_cast<int>((q % hw) / p.W), x = static_cast<int>(q % p.W);
    const int64_t f = static_cast<int64_t>(key & 0xffffffffull);
    const scalar_t* pb = pos + b * p.V * 4;
    const int32_t* t = tri + f * 3;
    TriSetup st;
    double u = 0.0, v = 0.0, zd = 0.0;
    float zw;
    if (tri_setup(pb + 4 * t[0], pb + 4 * t[1], pb + 4 * t[2], p.H, p.W, st))
      tri_eval(st, pixel_ndc(x, p.W), pixel_ndc(y, p.H), u, v, zd, zw);
    write_rast(o, u, v, zd, f);
  }
}

}  // namespace

at::Tensor rasterize_cuda(const at::Tensor& pos, const at::Tensor& tri, int64_t height, int64_t width) {
  const c10::cuda::CUDAGuard guard(pos.device());
  const RasterizeParams p{pos.size(0), pos.size(1), tri.size(0), static_cast<int>(height),
                          static_cast<int>(width)};
  at::Tensor rast = at::empty({p.B, height, width, 4}, pos.options());
  if (rast.numel() == 0) return rast;
  at::Tensor depth_id = at::full({p.B, height, width}, -1, pos.options().dtype(at::kLong));
  cudaStream_t stream = current_stream();
  auto* db = reinterpret_cast<unsigned long long*>(depth_id.data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(pos.scalar_type(), "rasterize_cuda", [&] {
    if (p.F > 0) {
      cover_kernel<scalar_t><<<num_blocks(p.B * p.F), kThreads, 0, stream>>>(
          pos.data_ptr<scalar_t>(), tri.data_ptr<int32_t>(), db, p);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    resolve_kernel<scalar_t><<<num_blocks(p.B * height * width), kThreads, 0, stream>>>(
        pos.data_ptr<scalar_t>(), tri.data_ptr<int32_t>(), db, rast.data_ptr<scalar_t>(), p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return rast;
}

}  // namespace gshell

// Surface features on CUDA: one thread per grid point, the formulas of surface_features_math.h
// (the same code as the CPU kernel), then one thread per point for the fold flags.
#include "common/cuda_utils.h"
#include "surface_features/surface_features.h"
#include "surface_features/surface_features_math.h"

namespace gshell {
namespace {

template <typename T>
__global__ void features_kernel(const T* __restrict__ x, SurfaceFeaturesParams p,
                                T* __restrict__ metric, T* __restrict__ minv,
                                T* __restrict__ chris, T* __restrict__ kint, T* __restrict__ kext,
                                T* __restrict__ hmean, T* __restrict__ normals,
                                uint8_t* __restrict__ flags) {
  const int64_t per = p.nu * p.nv;
  GSHELL_CUDA_LOOP(q, p.batch * per) {
    const int64_t b = q / per, i = (q / p.nv) % p.nu, j = q % p.nv;
    flags[q] = sf::point_features<T>(x + b * per * 3, p.nu, p.nv, p.periodic_u, p.periodic_v, i,
                                     j, q, metric, minv, chris, kint, kext, hmean, normals);
  }
}

template <typename T>
__global__ void fold_kernel(const T* __restrict__ normals, SurfaceFeaturesParams p,
                            uint8_t* __restrict__ flags) {
  const int64_t per = p.nu * p.nv;
  GSHELL_CUDA_LOOP(q, p.batch * per) {
    const int64_t b = q / per, i = (q / p.nv) % p.nu, j = q % p.nv;
    flags[q] |= sf::fold_flag<T>(normals + b * per * 3, p.nu, p.nv, p.periodic_u, p.periodic_v, i, j);
  }
}

}  // namespace

void surface_features_cuda(const at::Tensor& points, const SurfaceFeaturesParams& p,
                           SurfaceFeaturesOut& out) {
  const c10::cuda::CUDAGuard guard(points.device());
  const int64_t n = p.batch * p.nu * p.nv;
  if (n == 0) return;
  cudaStream_t stream = current_stream();
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "surface_features_cuda", [&] {
    features_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        points.data_ptr<scalar_t>(), p, out.metric.data_ptr<scalar_t>(),
        out.metric_inverse.data_ptr<scalar_t>(), out.christoffel.data_ptr<scalar_t>(),
        out.gaussian_curvature.data_ptr<scalar_t>(),
        out.gaussian_curvature_extrinsic.data_ptr<scalar_t>(),
        out.mean_curvature.data_ptr<scalar_t>(), out.normals.data_ptr<scalar_t>(),
        out.flags.data_ptr<uint8_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    fold_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        out.normals.data_ptr<scalar_t>(), p, out.flags.data_ptr<uint8_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace gshell

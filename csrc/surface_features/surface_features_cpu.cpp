#include <ATen/Parallel.h>

#include <algorithm>

#include "surface_features/surface_features.h"
#include "surface_features/surface_features_math.h"

namespace gshell {
namespace {

template <typename T>
void surface_features_impl(const at::Tensor& points, const SurfaceFeaturesParams& p,
                           SurfaceFeaturesOut& out) {
  const int64_t nu = p.nu, nv = p.nv, per = nu * nv;
  const T* x = points.data_ptr<T>();
  T* metric = out.metric.data_ptr<T>();
  T* minv = out.metric_inverse.data_ptr<T>();
  T* chris = out.christoffel.data_ptr<T>();
  T* kint = out.gaussian_curvature.data_ptr<T>();
  T* kext = out.gaussian_curvature_extrinsic.data_ptr<T>();
  T* hmean = out.mean_curvature.data_ptr<T>();
  T* normals = out.normals.data_ptr<T>();
  uint8_t* flags = out.flags.data_ptr<uint8_t>();
  const int64_t rows = p.batch * nu;
  const int64_t grain = std::max<int64_t>(1, 4096 / nv);
  // Pass 1: every feature of every point, one row of the grid at a time.
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / nu, i = r % nu;
      const T* xb = x + b * per * 3;
      for (int64_t j = 0; j < nv; ++j) {
        const int64_t q = r * nv + j;
        flags[q] = sf::point_features<T>(xb, nu, nv, p.periodic_u, p.periodic_v, i, j, q, metric,
                                         minv, chris, kint, kext, hmean, normals);
      }
    }
  });
  // Pass 2: folds, from the normals of neighbouring points.
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / nu, i = r % nu;
      const T* nb = normals + b * per * 3;
      for (int64_t j = 0; j < nv; ++j)
        flags[r * nv + j] |= sf::fold_flag<T>(nb, nu, nv, p.periodic_u, p.periodic_v, i, j);
    }
  });
}

}  // namespace

void surface_features_cpu(const at::Tensor& points, const SurfaceFeaturesParams& p,
                          SurfaceFeaturesOut& out) {
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "surface_features_cpu",
                             [&] { surface_features_impl<scalar_t>(points, p, out); });
}

}  // namespace gshell

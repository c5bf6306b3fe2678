// Differential geometry of a structured surface grid x(u, v) (u = row index, v = column index,
// unit spacing): derivatives by second-order finite differences (central inside, one-sided at
// open edges, wrapped along periodic directions), then per point the first fundamental form,
// its inverse, the Christoffel symbols of the second kind, the Gaussian curvature by the
// Brioschi formula (metric only) and by the second fundamental form, the mean curvature and the
// unit normal. See surface_features_math.h for the formulas.
//
// Args:
//   points:     (B, NU, NV, 3) float32|float64, contiguous; NU, NV >= 4 along open directions,
//               >= 3 along periodic ones
//   periodic_u: rows wrap around (row NU - 1 is followed by row 0)
//   periodic_v: columns wrap around
// Returns (all in the dtype and on the device of points):
//   metric:          (B, NU, NV, 2, 2) g_ij = x_i . x_j
//   metric_inverse:  (B, NU, NV, 2, 2) g^ij
//   christoffel:     (B, NU, NV, 2, 2, 2) [k][i][j] = Gamma^k_ij = g^kl (x_ij . x_l)
//   gaussian_curvature:           (B, NU, NV) Brioschi formula (no normal)
//   gaussian_curvature_extrinsic: (B, NU, NV) (LN - M^2) / (EG - F^2)
//   mean_curvature:  (B, NU, NV) (EN - 2FM + GL) / (2 (EG - F^2)), n = x_u x x_v / |x_u x x_v|
//   normals:         (B, NU, NV, 3)
//   flags:           (B, NU, NV) uint8, bit 0: det g <= 64 eps E G (degenerate metric),
//                    bit 1: zero-length grid edge to the next row or column,
//                    bit 2: the normal turns by more than 90 degrees to the next row or column
//                    (a fold), bit 3: a non-finite result
#pragma once
#include <ATen/ATen.h>

#include <tuple>

#include "common/check.h"

namespace gshell {

struct SurfaceFeaturesParams {
  int64_t batch, nu, nv;
  bool periodic_u, periodic_v;
};

struct SurfaceFeaturesOut {
  at::Tensor metric, metric_inverse, christoffel, gaussian_curvature, gaussian_curvature_extrinsic,
      mean_curvature, normals, flags;
};

using SurfaceFeaturesTuple = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
                                        at::Tensor, at::Tensor, at::Tensor>;

inline SurfaceFeaturesOut surface_features_alloc(const at::Tensor& points) {
  const int64_t b = points.size(0), nu = points.size(1), nv = points.size(2);
  auto o = points.options();
  return {at::empty({b, nu, nv, 2, 2}, o),        at::empty({b, nu, nv, 2, 2}, o),
          at::empty({b, nu, nv, 2, 2, 2}, o),     at::empty({b, nu, nv}, o),
          at::empty({b, nu, nv}, o),              at::empty({b, nu, nv}, o),
          at::empty({b, nu, nv, 3}, o),           at::empty({b, nu, nv}, o.dtype(at::kByte))};
}

void surface_features_cpu(const at::Tensor& points, const SurfaceFeaturesParams& p,
                          SurfaceFeaturesOut& out);
#ifdef WITH_CUDA
void surface_features_cuda(const at::Tensor& points, const SurfaceFeaturesParams& p,
                           SurfaceFeaturesOut& out);
#endif

inline SurfaceFeaturesTuple surface_features(const at::Tensor& points, bool periodic_u,
                                             bool periodic_v) {
  const char* op = "surface_features";
  GSHELL_CHECK_DIM(op, points, 4);
  GSHELL_CHECK_FLOAT(op, points);
  GSHELL_CHECK_CONTIGUOUS(op, points);
  GSHELL_CHECK(points.size(3) == 3, op, "expected points of shape (B, NU, NV, 3) but got ",
               points.sizes());
  GSHELL_CHECK(points.size(1) >= (periodic_u ? 3 : 4) && points.size(2) >= (periodic_v ? 3 : 4),
               op, "expected at least 4 points along open and 3 along periodic directions but got ",
               points.sizes());
  const SurfaceFeaturesParams p{points.size(0), points.size(1), points.size(2), periodic_u,
                                periodic_v};
  SurfaceFeaturesOut out = surface_features_alloc(points);
  if (points.is_cuda()) {
#ifdef WITH_CUDA
    surface_features_cuda(points, p, out);
#else
    GSHELL_CHECK(false, op, "gshell was built without CUDA support");
#endif
  } else {
    surface_features_cpu(points, p, out);
  }
  return {out.metric, out.metric_inverse, out.christoffel, out.gaussian_curvature,
          out.gaussian_curvature_extrinsic, out.mean_curvature, out.normals, out.flags};
}

}  // namespace gshell

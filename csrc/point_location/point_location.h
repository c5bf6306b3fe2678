// Point location in a 2D triangle mesh: for each query point, the triangle that
// contains it and its barycentric coordinates. CPU only (float64): it serves the
// P1 transfer operators of MMGP (gshell.mmgp.transfer), built once per mesh pair.
//
// Acceleration: one uniform grid over the mesh's bounding box (about one cell per
// triangle); each triangle is listed in every cell its bounding box overlaps, each
// boundary edge (an edge used by exactly one triangle) in every cell its bounding
// box overlaps. Queries run in parallel (at::parallel_for) and independently, so
// the result does not depend on the number of threads.
//
// Rules:
//   - A query is inside when some triangle has all barycentric coordinates
//     >= -1e-12; among such triangles the one with the largest smallest
//     coordinate wins, ties to the smallest triangle index (a query on a shared
//     edge goes to the lower-numbered triangle). Slightly negative coordinates
//     are clamped to 0 and the three renormalised to sum to one.
//   - A query in no triangle is clamped to the nearest point of the nearest
//     boundary edge (ties: smallest distance, then smallest edge in (min vertex,
//     max vertex) order); its triangle is the one owning that edge and its
//     barycentric coordinates are (1 - t, t) on the edge and 0 on the opposite
//     vertex. If the mesh has no boundary edge, every edge is a candidate.
//   - Degenerate (zero-area) triangles never contain a query.
//
// Args:
//   points:    (Ns, 2) float64, vertex positions
//   triangles: (Ms, 3) int64, vertex ids in [0, Ns); Ms >= 1 unless Nt == 0
//   queries:   (Nt, 2) float64, finite
// Returns:
//   tri:  (Nt,) int64, triangle of each query
//   bary: (Nt, 3) float64, weights of triangles[tri] (non-negative, sum to one)
#pragma once
#include <ATen/ATen.h>

#include <tuple>

#include "common/check.h"

namespace gshell {

std::tuple<at::Tensor, at::Tensor> point_location_cpu(const at::Tensor& points,
                                                      const at::Tensor& triangles,
                                                      const at::Tensor& queries);

inline std::tuple<at::Tensor, at::Tensor> point_location(const at::Tensor& points,
                                                         const at::Tensor& triangles,
                                                         const at::Tensor& queries) {
  const char* op = "point_location";
  GSHELL_CHECK_DIM(op, points, 2);
  GSHELL_CHECK(points.size(1) == 2, op, "expected points of shape (Ns, 2) but got ", points.sizes());
  GSHELL_CHECK_DTYPE(op, points, at::kDouble);
  GSHELL_CHECK_DIM(op, triangles, 2);
  GSHELL_CHECK(triangles.size(1) == 3, op, "expected triangles of shape (Ms, 3) but got ",
               triangles.sizes());
  GSHELL_CHECK_DTYPE(op, triangles, at::kLong);
  GSHELL_CHECK_DIM(op, queries, 2);
  GSHELL_CHECK(queries.size(1) == 2, op, "expected queries of shape (Nt, 2) but got ",
               queries.sizes());
  GSHELL_CHECK_DTYPE(op, queries, at::kDouble);
  GSHELL_CHECK(points.device().is_cpu() && triangles.device().is_cpu() && queries.device().is_cpu(),
               op, "expected points, triangles and queries on the CPU but got ", points.device(),
               ", ", triangles.device(), " and ", queries.device());
  GSHELL_CHECK(queries.size(0) == 0 || triangles.size(0) > 0, op,
               "expected at least one triangle but got triangles of shape ", triangles.sizes());
  if (triangles.numel() > 0) {
    const int64_t lo = triangles.min().item<int64_t>(), hi = triangles.max().item<int64_t>();
    GSHELL_CHECK(lo >= 0 && hi < points.size(0), op, "expected triangles to hold indices in [0, ",
                 points.size(0), ") but got values in [", lo, ", ", hi, "]");
  }
  if (points.numel() > 0)
    GSHELL_CHECK(at::isfinite(points).all().item<bool>(), op, "expected finite points");
  if (queries.numel() > 0)
    GSHELL_CHECK(at::isfinite(queries).all().item<bool>(), op, "expected finite queries");
  return point_location_cpu(points.contiguous(), triangles.contiguous(), queries.contiguous());
}

}  // namespace gshell

// Marching cubes on a dense scalar grid: one vertex per grid edge whose endpoints change sign
// (value > iso against value <= iso), plus one inside each cell whose loop needs a centre, and
// triangles from cube_polygons.h (watertight: ambiguous faces are resolved the same way by both
// cells that share them; edge-manifold: no triangle edge lies in a cell face between two
// vertices that are not joined by an iso-line segment there).
//
// Args:
//   grid: (X, Y, Z) float32|float64, contiguous, X, Y, Z >= 2
//   iso:  the iso-value
// Returns:
//   edges: (V,) int64, vertex i lies on the grid edge from point p = edges[i] / 3 along axis
//          edges[i] % 3 (point ids are row-major (i * Y + j) * Z + k); vertices are numbered in
//          order of (p, axis)
//   faces: (F, 3) int64, wound so that normals point to values > iso; cells in row-major order.
//          Ids 0..V-1 are the edge vertices, V + c the centre vertex c
//   centres: (C, 12) int64, the edge-vertex ids of centre c's loop (-1 after the last); the
//          centre is placed at their mean. Centres are numbered in cell order
#pragma once
#include <ATen/ATen.h>

#include <tuple>

#include "common/check.h"

namespace gshell {

struct MarchingCubesParams {
  int64_t nx, ny, nz;
  double iso;
};

using MarchingCubesOut = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

MarchingCubesOut marching_cubes_cpu(const at::Tensor& grid, double iso);
#ifdef WITH_CUDA
MarchingCubesOut marching_cubes_cuda(const at::Tensor& grid, double iso);
#endif

inline MarchingCubesOut marching_cubes(const at::Tensor& grid, double iso) {
  const char* op = "marching_cubes";
  GSHELL_CHECK_DIM(op, grid, 3);
  GSHELL_CHECK_FLOAT(op, grid);
  GSHELL_CHECK_CONTIGUOUS(op, grid);
  GSHELL_CHECK(grid.size(0) >= 2 && grid.size(1) >= 2 && grid.size(2) >= 2, op,
               "expected a grid of at least 2 points per axis but got ", grid.sizes());
  if (grid.is_cuda()) {
#ifdef WITH_CUDA
    return marching_cubes_cuda(grid, iso);
#else
    GSHELL_CHECK(false, op, "gshell was built without CUDA support");
#endif
  }
  return marching_cubes_cpu(grid, iso);
}

}  // namespace gshell

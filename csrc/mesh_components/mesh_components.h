// Connected components of a graph given as an edge list (union-find with path
// halving). CPU only: the Python wrapper moves CUDA inputs to the host; it is
// used for topology statistics (boundary loops, mesh components), not in a
// training loop.
//
// Args:
//   edges:     (E, 2) int64, vertex ids in [0, num_verts)
//   num_verts: number of vertices
// Returns:
//   labels: (num_verts,) int64, component label per vertex, labels numbered
//           0.. in the order of each component's smallest vertex
#pragma once
#include <ATen/ATen.h>

#include "common/check.h"

namespace gshell {

at::Tensor connected_components_cpu(const at::Tensor& edges, int64_t num_verts);

inline at::Tensor connected_components(const at::Tensor& edges, int64_t num_verts) {
  const char* op = "connected_components";
  GSHELL_CHECK_DIM(op, edges, 2);
  GSHELL_CHECK(edges.size(1) == 2, op, "expected edges of shape (E, 2) but got ", edges.sizes());
  GSHELL_CHECK_DTYPE(op, edges, at::kLong);
  GSHELL_CHECK(edges.device().is_cpu(), op, "expected edges on the CPU but got ", edges.device());
  GSHELL_CHECK(num_verts >= 0, op, "expected num_verts >= 0 but got ", num_verts);
  return connected_components_cpu(edges.contiguous(), num_verts);
}

}  // namespace gshell

// Marching tetrahedra topology (DMTet / kaolin table) on a tet grid whose edges,
// tet-to-edge table and first tet of each edge were computed once per grid.
//
// Only the tets are read in full: a vertex is made by the first tet (lowest id) that
// holds its edge, so no pass over the grid's edges and no sort is needed, and the
// numbering (by owner tet, then local edge) is the same on every device.
//
// Args:
//   sdf:            (N,) float32|float64, a vertex is "positive" when sdf > 0
//   tets:           (T, 4) int32, vertex ids
//   edges:          (E, 2) int32, unique grid edges (a < b)
//   tet_edges:      (T, 6) int32, edge id of the local edges (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
//   edge_first_tet: (E,) int32, the lowest tet id holding each edge
//   flip:           reverse the winding of every face
// Returns:
//   cross_edges: (V,) int64, output vertex i lies on grid edge cross_edges[i]
//   faces:       (F, 3) int64, triangles over the output vertices
//   face_tet:    (F,) int64, the tet each face comes from; faces are in tet order
#pragma once
#include <ATen/ATen.h>

#include <tuple>

#include "common/check.h"

namespace gshell {

struct MarchingTetsParams {
  int64_t num_verts;
  int64_t num_tets;
  int64_t num_edges;
  bool flip;
};

using MarchingTetsOut = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

MarchingTetsOut marching_tets_cpu(const at::Tensor& sdf, const at::Tensor& tets,
                                  const at::Tensor& edges, const at::Tensor& tet_edges,
                                  const at::Tensor& edge_first_tet, bool flip);
#ifdef WITH_CUDA
MarchingTetsOut marching_tets_cuda(const at::Tensor& sdf, const at::Tensor& tets,
                                   const at::Tensor& edges, const at::Tensor& tet_edges,
                                  const at::Tensor& edge_first_tet, bool flip);
#endif

inline void marching_tets_check(const at::Tensor& sdf, const at::Tensor& tets,
                                const at::Tensor& edges, const at::Tensor& tet_edges,
                                const at::Tensor& edge_first_tet) {
  const char* op = "marching_tets";
  GSHELL_CHECK_DIM(op, sdf, 1);
  GSHELL_CHECK_FLOAT(op, sdf);
  GSHELL_CHECK_DIM(op, tets, 2);
  GSHELL_CHECK(tets.size(1) == 4, op, "expected tets of shape (T, 4) but got ", tets.sizes());
  GSHELL_CHECK_DTYPE(op, tets, at::kInt);
  GSHELL_CHECK_DIM(op, edges, 2);
  GSHELL_CHECK(edges.size(1) == 2, op, "expected edges of shape (E, 2) but got ", edges.sizes());
  GSHELL_CHECK_DTYPE(op, edges, at::kInt);
  GSHELL_CHECK_DIM(op, tet_edges, 2);
  GSHELL_CHECK(tet_edges.size(0) == tets.size(0) && tet_edges.size(1) == 6, op,
               "expected tet_edges of shape (", tets.size(0), ", 6) but got ", tet_edges.sizes());
  GSHELL_CHECK_DTYPE(op, tet_edges, at::kInt);
  GSHELL_CHECK_DIM(op, edge_first_tet, 1);
  GSHELL_CHECK(edge_first_tet.size(0) == edges.size(0), op, "expected edge_first_tet of shape (",
               edges.size(0), ",) but got ", edge_first_tet.sizes());
  GSHELL_CHECK_DTYPE(op, edge_first_tet, at::kInt);
  GSHELL_CHECK_SAME_DEVICE(op, sdf, edge_first_tet);
  GSHELL_CHECK_CONTIGUOUS(op, edge_first_tet);
  GSHELL_CHECK_SAME_DEVICE(op, sdf, tets);
  GSHELL_CHECK_SAME_DEVICE(op, sdf, edges);
  GSHELL_CHECK_SAME_DEVICE(op, sdf, tet_edges);
  GSHELL_CHECK_CONTIGUOUS(op, sdf);
  GSHELL_CHECK_CONTIGUOUS(op, tets);
  GSHELL_CHECK_CONTIGUOUS(op, edges);
  GSHELL_CHECK_CONTIGUOUS(op, tet_edges);
}

inline MarchingTetsOut marching_tets(const at::Tensor& sdf, const at::Tensor& tets,
                                     const at::Tensor& edges, const at::Tensor& tet_edges,
                                     const at::Tensor& edge_first_tet, bool flip) {
  marching_tets_check(sdf, tets, edges, tet_edges, edge_first_tet);
  if (sdf.is_cuda()) {
#ifdef WITH_CUDA
    return marching_tets_cuda(sdf, tets, edges, tet_edges, edge_first_tet, flip);
#else
    GSHELL_CHECK(false, "marching_tets", "gshell was built without CUDA support");
#endif
  }
  return marching_tets_cpu(sdf, tets, edges, tet_edges, edge_first_tet, flip);
}

}  // namespace gshell

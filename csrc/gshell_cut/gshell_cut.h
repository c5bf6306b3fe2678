// G-Shell cut: keeps the part of a triangle mesh where the per-vertex mSDF is
// positive. Each triangle is cut by the sign of its corners (8-case table); a
// cut vertex is made once per mesh edge whose endpoints change sign and shared
// by both triangles of that edge. No grid-sized sort: only the cut edges' keys
// are sorted, to number the cut vertices.
//
// Args:
//   faces: (F, 3) int64, the watertight mesh
//   msdf:  (V,) float32|float64, mSDF per watertight vertex
// Returns:
//   kept:      (K,) int64, the watertight vertices with msdf > 0, ascending;
//              open vertex i < K is watertight vertex kept[i]
//   cut_edges: (C, 2) int64, watertight vertex pairs (u < v) whose msdf changes
//              sign; open vertex K + j lies on cut_edges[j]
//   faces:     (Fo, 3) int64, the open mesh, in the winding of its source face
//   face_src:  (Fo,) int64, the watertight face each open face comes from
#pragma once
#include <ATen/ATen.h>

#include <tuple>

#include "common/check.h"

namespace gshell {

struct GShellCutParams {
  int64_t num_verts;
  int64_t num_faces;
};

using GShellCutOut = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

GShellCutOut gshell_cut_cpu(const at::Tensor& faces, const at::Tensor& msdf);
#ifdef WITH_CUDA
GShellCutOut gshell_cut_cuda(const at::Tensor& faces, const at::Tensor& msdf);
#endif

inline GShellCutOut gshell_cut(const at::Tensor& faces, const at::Tensor& msdf) {
  const char* op = "gshell_cut";
  GSHELL_CHECK_DIM(op, faces, 2);
  GSHELL_CHECK(faces.size(1) == 3, op, "expected faces of shape (F, 3) but got ", faces.sizes());
  GSHELL_CHECK_DTYPE(op, faces, at::kLong);
  GSHELL_CHECK_DIM(op, msdf, 1);
  GSHELL_CHECK_FLOAT(op, msdf);
  GSHELL_CHECK_SAME_DEVICE(op, faces, msdf);
  GSHELL_CHECK_CONTIGUOUS(op, faces);
  GSHELL_CHECK_CONTIGUOUS(op, msdf);
  if (faces.is_cuda()) {
#ifdef WITH_CUDA
    return gshell_cut_cuda(faces, msdf);
#else
    GSHELL_CHECK(false, op, "gshell was built without CUDA support");
#endif
  }
  return gshell_cut_cpu(faces, msdf);
}

}  // namespace gshell

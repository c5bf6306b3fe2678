#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "common/cuda_utils.h"
#include "common/tables.h"
#include "marching_tets/marching_tets.h"

namespace gshell {
namespace {

__constant__ int8_t kTetTri[16][6] = GSHELL_TET_TRI_TABLE;
__constant__ int8_t kTetNumTri[16] = GSHELL_TET_NUM_TRI_TABLE;

// Error bits written by the kernels and read once after the scans.
constexpr int kBadVertex = 1;
constexpr int kBadEdge = 2;

template <typename scalar_t>
__global__ void positive_kernel(const scalar_t* __restrict__ sdf, uint8_t* __restrict__ pos, int64_t n) {
  GSHELL_CUDA_LOOP(i, n) { pos[i] = sdf[i] > scalar_t(0); }
}

__global__ void edge_count_kernel(const int32_t* __restrict__ edges, const uint8_t* __restrict__ pos,
                                  int32_t* __restrict__ count, int* __restrict__ err,
                                  MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(i, p.num_edges) {
    const int2 e = reinterpret_cast<const int2*>(edges)[i];
    if (e.x < 0 || e.x >= p.num_verts || e.y < 0 || e.y >= p.num_verts) {
      atomicOr(err, kBadVertex);
      count[i] = 0;
    } else {
      count[i] = pos[e.x] != pos[e.y];
    }
  }
}

__global__ void edge_write_kernel(const int32_t* __restrict__ scan, int32_t* __restrict__ edge_vert,
                                  int64_t* __restrict__ cross, MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(i, p.num_edges) {
    const int32_t prev = i == 0 ? 0 : scan[i - 1];
    if (scan[i] != prev) {
      edge_vert[i] = static_cast<int32_t>(prev);
      cross[prev] = i;
    } else {
      edge_vert[i] = -1;
    }
  }
}

__global__ void tet_count_kernel(const int32_t* __restrict__ tets, const uint8_t* __restrict__ pos,
                                 int32_t* __restrict__ count, uint8_t* __restrict__ code,
                                 int* __restrict__ err, MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(t, p.num_tets) {
    const int4 v = reinterpret_cast<const int4*>(tets)[t];
    const bool ok = v.x >= 0 && v.x < p.num_verts && v.y >= 0 && v.y < p.num_verts &&
                    v.z >= 0 && v.z < p.num_verts && v.w >= 0 && v.w < p.num_verts;
    uint8_t c = 0;
    if (ok) {
      c = pos[v.x] | (pos[v.y] << 1) | (pos[v.z] << 2) | (pos[v.w] << 3);
    } else {
      atomicOr(err, kBadVertex);
    }
    code[t] = c;
    count[t] = kTetNumTri[c];
  }
}

__global__ void tet_write_kernel(const uint8_t* __restrict__ code, const int32_t* __restrict__ scan,
                                 const int32_t* __restrict__ tet_edges,
                                 const int32_t* __restrict__ edge_vert, int64_t* __restrict__ faces,
                                 int64_t* __restrict__ face_tet, int* __restrict__ err,
                                 MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(t, p.num_tets) {
    const uint8_t c = code[t];
    const int n = kTetNumTri[c];
    if (n == 0) continue;
    int64_t k = scan[t] - n;
    for (int j = 0; j < n; ++j, ++k) {
      int64_t ids[3];
      for (int i = 0; i < 3; ++i) {
        const int32_t edge = tet_edges[6 * t + kTetTri[c][3 * j + i]];
        int32_t vid = -1;
        if (edge >= 0 && edge < p.num_edges) vid = edge_vert[edge];
        if (vid < 0) atomicOr(err, kBadEdge);
        ids[i] = vid;
      }
      faces[3 * k] = ids[0];
      faces[3 * k + 1] = p.flip ? ids[2] : ids[1];
      faces[3 * k + 2] = p.flip ? ids[1] : ids[2];
      face_tet[k] = t;
    }
  }
}

int read_error(const at::Tensor& err) { return err.item<int>(); }

}  // namespace

MarchingTetsOut marching_tets_cuda(const at::Tensor& sdf, const at::Tensor& tets,
                                   const at::Tensor& edges, const at::Tensor& tet_edges, bool flip) {
  const char* op = "marching_tets";
  c10::cuda::CUDAGuard guard(sdf.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  MarchingTetsParams p{sdf.size(0), tets.size(0), edges.size(0), flip};
  auto opts = sdf.options();
  auto long_opts = opts.dtype(at::kLong);
  at::Tensor err = at::zeros({1}, opts.dtype(at::kInt));

  at::Tensor pos = at::empty({p.num_verts}, opts.dtype(at::kByte));
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "marching_tets_cuda", [&] {
    positive_kernel<<<num_blocks(p.num_verts), kThreads, 0, stream>>>(
        sdf.data_ptr<scalar_t>(), pos.data_ptr<uint8_t>(), p.num_verts);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  // Vertices: one per crossing edge.
  // Counts are scanned in int32 (half the memory of int64): at most E vertices and 2T faces.
  GSHELL_CHECK(p.num_edges < (int64_t(1) << 31) && p.num_tets < (int64_t(1) << 30), op,
               "expected fewer than 2^31 edges and 2^30 tets but got ", p.num_edges, " and ",
               p.num_tets);
  at::Tensor edge_scan = at::empty({p.num_edges}, opts.dtype(at::kInt));
  edge_count_kernel<<<num_blocks(p.num_edges), kThreads, 0, stream>>>(
      edges.data_ptr<int32_t>(), pos.data_ptr<uint8_t>(), edge_scan.data_ptr<int32_t>(),
      err.data_ptr<int>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t nv = inclusive_scan_total(edge_scan.data_ptr<int32_t>(), p.num_edges, stream, opts);
  GSHELL_CHECK(!(read_error(err) & kBadVertex), op, "edges holds a vertex id outside [0, ",
               p.num_verts, ")");
  at::Tensor edge_vert = at::empty({p.num_edges}, opts.dtype(at::kInt));
  at::Tensor cross = at::empty({nv}, long_opts);
  edge_write_kernel<<<num_blocks(p.num_edges), kThreads, 0, stream>>>(
      edge_scan.data_ptr<int32_t>(), edge_vert.data_ptr<int32_t>(), cross.data_ptr<int64_t>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  edge_scan = at::Tensor();

  // Faces: per-tet case, scan of the triangle counts, then the triangles in tet order.
  at::Tensor tet_scan = at::empty({p.num_tets}, opts.dtype(at::kInt));
  at::Tensor code = at::empty({p.num_tets}, opts.dtype(at::kByte));
  tet_count_kernel<<<num_blocks(p.num_tets), kThreads, 0, stream>>>(
      tets.data_ptr<int32_t>(), pos.data_ptr<uint8_t>(), tet_scan.data_ptr<int32_t>(),
      code.data_ptr<uint8_t>(), err.data_ptr<int>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t nf = inclusive_scan_total(tet_scan.data_ptr<int32_t>(), p.num_tets, stream, opts);
  GSHELL_CHECK(!(read_error(err) & kBadVertex), op, "tets holds a vertex id outside [0, ",
               p.num_verts, ")");
  at::Tensor faces = at::empty({nf, 3}, long_opts);
  at::Tensor face_tet = at::empty({nf}, long_opts);
  tet_write_kernel<<<num_blocks(p.num_tets), kThreads, 0, stream>>>(
      code.data_ptr<uint8_t>(), tet_scan.data_ptr<int32_t>(), tet_edges.data_ptr<int32_t>(),
      edge_vert.data_ptr<int32_t>(), faces.data_ptr<int64_t>(), face_tet.data_ptr<int64_t>(),
      err.data_ptr<int>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  GSHELL_CHECK(!(read_error(err) & kBadEdge), op,
               "tet_edges is inconsistent with tets and edges (an edge id out of range or an "
               "edge whose endpoints do not change sign); rebuild the grid's topology");
  return {cross, faces, face_tet};
}

}  // namespace gshell

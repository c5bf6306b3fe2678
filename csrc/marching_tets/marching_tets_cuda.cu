// Marching tetrahedra on CUDA: the same three passes as marching_tets_cpu.cpp, so that both
// devices number vertices by (owner tet, local edge) and write faces in tet order.
//
//   1. count_kernel, per tet: case code, vertices owned (crossing local edges whose
//      edge_first_tet is this tet) and triangles; crossing edges are validated.
//      Two int32 inclusive scans (CUB) give each tet its output offsets.
//   2. vertex_kernel: owner tets number their vertices (edge_vert[edge] = k, cross[k] = edge).
//   3. face_kernel: triangles, each looked-up vertex verified with cross[vid] == edge.
//
// Extra memory: 1 byte per vertex, 9 bytes per tet (code and two int32 counts; the vertex
// counts are freed before the faces are allocated) and 4 bytes per edge (edge_vert), about
// 1.4 GB for a res-256 grid (101M tets, 119M edges), plus the outputs.
#include "common/cuda_utils.h"
#include "common/tables.h"
#include "marching_tets/marching_tets.h"

namespace gshell {
namespace {

__constant__ int8_t kTetEdge[12] = GSHELL_TET_EDGE_TABLE;
__constant__ int8_t kTetTri[16][6] = GSHELL_TET_TRI_TABLE;
__constant__ int8_t kTetNumTri[16] = GSHELL_TET_NUM_TRI_TABLE;

// Error bits set by the kernels (atomicOr), read after the scans and after the faces.
constexpr int kBadVertex = 1;  // a tet vertex id out of range
constexpr int kBadEdge = 2;    // a crossing edge inconsistent with edges / edge_first_tet
constexpr int kBadFirst = 4;   // a face vertex that its edge's first tet did not make

// Whether local edge l of a tet with case code c changes sign.
__device__ __forceinline__ bool crossing(uint8_t c, int l) {
  return ((c >> kTetEdge[2 * l]) ^ (c >> kTetEdge[2 * l + 1])) & 1;
}

template <typename scalar_t>
__global__ void positive_kernel(const scalar_t* __restrict__ sdf, uint8_t* __restrict__ pos,
                                int64_t n) {
  GSHELL_CUDA_LOOP(i, n) { pos[i] = sdf[i] > scalar_t(0); }
}

// Pass 1.
__global__ void count_kernel(const int32_t* __restrict__ tets, const int32_t* __restrict__ edges,
                             const int32_t* __restrict__ tet_edges,
                             const int32_t* __restrict__ first, const uint8_t* __restrict__ pos,
                             uint8_t* __restrict__ code, int32_t* __restrict__ vcount,
                             int32_t* __restrict__ fcount, int* __restrict__ err,
                             MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(t, p.num_tets) {
    int32_t v[4];
    bool in_range = true;
    for (int i = 0; i < 4; ++i) {
      v[i] = tets[4 * t + i];
      in_range = in_range && v[i] >= 0 && v[i] < p.num_verts;
    }
    if (!in_range) {
      atomicOr(err, kBadVertex);
      code[t] = 0;
      vcount[t] = 0;
      fcount[t] = 0;
      continue;
    }
    uint8_t c = pos[v[0]] | (pos[v[1]] << 1) | (pos[v[2]] << 2) | (pos[v[3]] << 3);
    int32_t nv = 0, nf = kTetNumTri[c];
    if (nf != 0) {
      for (int l = 0; l < 6; ++l) {
        if (!crossing(c, l)) continue;
        const int32_t a = v[kTetEdge[2 * l]], d = v[kTetEdge[2 * l + 1]];
        const int32_t edge = tet_edges[6 * t + l];
        const bool ok = edge >= 0 && edge < p.num_edges && edges[2 * edge] == min(a, d) &&
                        edges[2 * edge + 1] == max(a, d) && first[edge] >= 0 && first[edge] <= t;
        if (!ok) {
          atomicOr(err, kBadEdge);
          c = 0;
          nv = nf = 0;
          break;
        }
        nv += first[edge] == t;
      }
    }
    code[t] = c;
    vcount[t] = nv;
    fcount[t] = nf;
  }
}

// Pass 2. vscan: inclusive scan of the vertices owned per tet.
__global__ void vertex_kernel(const uint8_t* __restrict__ code, const int32_t* __restrict__ vscan,
                              const int32_t* __restrict__ tet_edges,
                              const int32_t* __restrict__ first, int32_t* __restrict__ edge_vert,
                              int64_t* __restrict__ cross, MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(t, p.num_tets) {
    const uint8_t c = code[t];
    if (kTetNumTri[c] == 0) continue;
    int32_t k = t == 0 ? 0 : vscan[t - 1];
    if (vscan[t] == k) continue;
    for (int l = 0; l < 6; ++l) {
      if (!crossing(c, l)) continue;
      const int32_t edge = tet_edges[6 * t + l];
      if (first[edge] == t) {
        edge_vert[edge] = k;
        cross[k++] = edge;
      }
    }
  }
}

// Pass 3. fscan: inclusive scan of the triangles per tet.
__global__ void face_kernel(const uint8_t* __restrict__ code, const int32_t* __restrict__ fscan,
                            const int32_t* __restrict__ tet_edges,
                            const int32_t* __restrict__ edge_vert,
                            const int64_t* __restrict__ cross, int64_t nv,
                            int64_t* __restrict__ faces, int64_t* __restrict__ face_tet,
                            int* __restrict__ err, MarchingTetsParams p) {
  GSHELL_CUDA_LOOP(t, p.num_tets) {
    const uint8_t c = code[t];
    const int n = kTetNumTri[c];
    if (n == 0) continue;
    int64_t k = fscan[t] - n;
    for (int j = 0; j < n; ++j, ++k) {
      int64_t ids[3];
      for (int i = 0; i < 3; ++i) {
        const int32_t edge = tet_edges[6 * t + kTetTri[c][3 * j + i]];
        const int32_t vid = edge_vert[edge];
        const bool ok = vid >= 0 && vid < nv && cross[vid] == edge;
        if (!ok) atomicOr(err, kBadFirst);
        ids[i] = ok ? vid : -1;
      }
      faces[3 * k] = ids[0];
      faces[3 * k + 1] = p.flip ? ids[2] : ids[1];
      faces[3 * k + 2] = p.flip ? ids[1] : ids[2];
      face_tet[k] = t;
    }
  }
}

}  // namespace

MarchingTetsOut marching_tets_cuda(const at::Tensor& sdf, const at::Tensor& tets,
                                   const at::Tensor& edges, const at::Tensor& tet_edges,
                                   const at::Tensor& edge_first_tet, bool flip) {
  const char* op = "marching_tets";
  c10::cuda::CUDAGuard guard(sdf.device());
  cudaStream_t stream = current_stream();
  const MarchingTetsParams p{sdf.size(0), tets.size(0), edges.size(0), flip};
  // Counts are scanned in int32 (half the memory of int64): at most 2 triangles and 4 owned
  // vertices per tet, so with T < 2^30 the face total fits and a vertex total past 2^31 shows
  // as a negative int32 total.
  GSHELL_CHECK(p.num_tets < (int64_t(1) << 30), op, "expected fewer than 2^30 tets but got ",
               p.num_tets);
  auto opts = sdf.options();
  auto int_opts = opts.dtype(at::kInt);
  auto long_opts = opts.dtype(at::kLong);
  at::Tensor err = at::zeros({1}, int_opts);

  at::Tensor pos = at::empty({p.num_verts}, opts.dtype(at::kByte));
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "marching_tets_cuda", [&] {
    positive_kernel<<<num_blocks(p.num_verts), kThreads, 0, stream>>>(
        sdf.data_ptr<scalar_t>(), pos.data_ptr<uint8_t>(), p.num_verts);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  // Pass 1: codes and counts, then their scans.
  at::Tensor code = at::empty({p.num_tets}, opts.dtype(at::kByte));
  at::Tensor vscan = at::empty({p.num_tets}, int_opts);
  at::Tensor fscan = at::empty({p.num_tets}, int_opts);
  count_kernel<<<num_blocks(p.num_tets), kThreads, 0, stream>>>(
      tets.data_ptr<int32_t>(), edges.data_ptr<int32_t>(), tet_edges.data_ptr<int32_t>(),
      edge_first_tet.data_ptr<int32_t>(), pos.data_ptr<uint8_t>(), code.data_ptr<uint8_t>(),
      vscan.data_ptr<int32_t>(), fscan.data_ptr<int32_t>(), err.data_ptr<int>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  pos = at::Tensor();
  const int64_t nv = inclusive_scan_total(vscan.data_ptr<int32_t>(), p.num_tets, stream, opts);
  const int64_t nf = inclusive_scan_total(fscan.data_ptr<int32_t>(), p.num_tets, stream, opts);
  const int bad = read_flag(err, stream);
  GSHELL_CHECK(!(bad & kBadVertex), op, "tets holds a vertex id outside [0, ", p.num_verts, ")");
  GSHELL_CHECK(!(bad & kBadEdge), op,
               "edges, tet_edges and edge_first_tet are inconsistent with tets; rebuild the "
               "grid's topology (gshell.TetGrid computes it)");
  GSHELL_CHECK(nv >= 0, op, "expected fewer than 2^31 output vertices (the CUDA kernel counts in "
               "int32)");

  // Pass 2: the owner tet numbers each vertex. edge_vert is left uninitialised elsewhere:
  // only crossing edges are read back, and each read is verified against cross.
  at::Tensor edge_vert = at::empty({p.num_edges}, int_opts);
  at::Tensor cross = at::empty({nv}, long_opts);
  vertex_kernel<<<num_blocks(p.num_tets), kThreads, 0, stream>>>(
      code.data_ptr<uint8_t>(), vscan.data_ptr<int32_t>(), tet_edges.data_ptr<int32_t>(),
      edge_first_tet.data_ptr<int32_t>(), edge_vert.data_ptr<int32_t>(),
      cross.data_ptr<int64_t>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  vscan = at::Tensor();

  // Pass 3: triangles, in tet order.
  at::Tensor faces = at::empty({nf, 3}, long_opts);
  at::Tensor face_tet = at::empty({nf}, long_opts);
  face_kernel<<<num_blocks(p.num_tets), kThreads, 0, stream>>>(
      code.data_ptr<uint8_t>(), fscan.data_ptr<int32_t>(), tet_edges.data_ptr<int32_t>(),
      edge_vert.data_ptr<int32_t>(), cross.data_ptr<int64_t>(), nv, faces.data_ptr<int64_t>(),
      face_tet.data_ptr<int64_t>(), err.data_ptr<int>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  GSHELL_CHECK(!(read_flag(err, stream) & kBadFirst), op,
               "edge_first_tet is inconsistent with tet_edges; rebuild the grid's topology "
               "(gshell.TetGrid computes it)");
  return {cross, faces, face_tet};
}

}  // namespace gshell

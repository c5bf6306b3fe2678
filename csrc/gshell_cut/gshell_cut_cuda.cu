#include "common/cuda_utils.h"
#include "common/tables.h"
#include "gshell_cut/gshell_cut.h"

namespace gshell {
namespace {

__constant__ int8_t kTriCut[8][6] = GSHELL_TRI_CUT_TABLE;
__constant__ int8_t kTriCutNum[8] = GSHELL_TRI_CUT_NUM_TABLE;

__device__ __forceinline__ int64_t edge_key(int64_t a, int64_t b, int64_t n) {
  return a < b ? a * n + b : b * n + a;
}

__device__ __forceinline__ int64_t lower_bound(const int64_t* keys, int64_t n, int64_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) >> 1;
    if (keys[mid] < key) lo = mid + 1; else hi = mid;
  }
  return lo;
}

template <typename scalar_t>
__global__ void positive_kernel(const scalar_t* __restrict__ msdf, uint8_t* __restrict__ pos,
                                int32_t* __restrict__ count, int64_t n) {
  GSHELL_CUDA_LOOP(i, n) {
    const uint8_t p = msdf[i] > scalar_t(0);
    pos[i] = p;
    count[i] = p;
  }
}

__global__ void kept_kernel(const uint8_t* __restrict__ pos, const int32_t* __restrict__ scan,
                            int64_t* __restrict__ new_id, int64_t* __restrict__ kept, int64_t n) {
  GSHELL_CUDA_LOOP(i, n) {
    const int64_t k = scan[i] - 1;
    new_id[i] = pos[i] ? k : -1;
    if (pos[i]) kept[k] = i;
  }
}

__global__ void halfedge_count_kernel(const int64_t* __restrict__ faces, const uint8_t* __restrict__ pos,
                                      int32_t* __restrict__ count, int* __restrict__ err,
                                      GShellCutParams p) {
  GSHELL_CUDA_LOOP(t, p.num_faces) {
    const int64_t a = faces[3 * t], b = faces[3 * t + 1], c = faces[3 * t + 2];
    if (a < 0 || a >= p.num_verts || b < 0 || b >= p.num_verts || c < 0 || c >= p.num_verts) {
      atomicOr(err, 1);
      count[t] = 0;
    } else {
      count[t] = (pos[a] != pos[b]) + (pos[b] != pos[c]) + (pos[c] != pos[a]);
    }
  }
}

__global__ void halfedge_write_kernel(const int64_t* __restrict__ faces, const uint8_t* __restrict__ pos,
                                      const int32_t* __restrict__ scan, int64_t* __restrict__ keys,
                                      GShellCutParams p) {
  GSHELL_CUDA_LOOP(t, p.num_faces) {
    const int64_t* v = faces + 3 * t;
    int64_t k = t == 0 ? 0 : scan[t - 1];
    for (int i = 0; i < 3; ++i) {
      const int64_t a = v[i], c = v[(i + 1) % 3];
      if (pos[a] != pos[c]) keys[k++] = edge_key(a, c, p.num_verts);
    }
  }
}

__global__ void split_keys_kernel(const int64_t* __restrict__ keys, int64_t* __restrict__ cut,
                                  int64_t nc, int64_t n) {
  GSHELL_CUDA_LOOP(i, nc) {
    cut[2 * i] = keys[i] / n;
    cut[2 * i + 1] = keys[i] % n;
  }
}

__global__ void face_count_kernel(const int64_t* __restrict__ faces, const uint8_t* __restrict__ pos,
                                  int32_t* __restrict__ count, GShellCutParams p) {
  GSHELL_CUDA_LOOP(t, p.num_faces) {
    const int64_t* v = faces + 3 * t;
    count[t] = kTriCutNum[pos[v[0]] | (pos[v[1]] << 1) | (pos[v[2]] << 2)];
  }
}

__global__ void face_write_kernel(const int64_t* __restrict__ faces, const uint8_t* __restrict__ pos,
                                  const int32_t* __restrict__ scan, const int64_t* __restrict__ new_id,
                                  const int64_t* __restrict__ ukeys, int64_t nc, int64_t nk,
                                  int64_t* __restrict__ out, int64_t* __restrict__ src,
                                  GShellCutParams p) {
  GSHELL_CUDA_LOOP(t, p.num_faces) {
    const int64_t* v = faces + 3 * t;
    const int c = pos[v[0]] | (pos[v[1]] << 1) | (pos[v[2]] << 2);
    const int n = kTriCutNum[c];
    if (n == 0) continue;
    int64_t ids[6];
    for (int i = 0; i < 3; ++i) {
      const int64_t a = v[i], d = v[(i + 1) % 3];
      ids[i] = new_id[a];
      ids[3 + i] = pos[a] != pos[d] ? nk + lower_bound(ukeys, nc, edge_key(a, d, p.num_verts)) : -1;
    }
    int64_t k = scan[t] - n;
    for (int j = 0; j < n; ++j, ++k) {
      for (int i = 0; i < 3; ++i) out[3 * k + i] = ids[kTriCut[c][3 * j + i]];
      src[k] = t;
    }
  }
}

}  // namespace

GShellCutOut gshell_cut_cuda(const at::Tensor& faces, const at::Tensor& msdf) {
  const char* op = "gshell_cut";
  c10::cuda::CUDAGuard guard(faces.device());
  cudaStream_t stream = current_stream();
  GShellCutParams p{msdf.size(0), faces.size(0)};
  GSHELL_CHECK(p.num_verts < (int64_t(1) << 31) && 3 * p.num_faces < (int64_t(1) << 31), op,
               "expected fewer than 2^31 vertices and 2^31/3 faces but got ", p.num_verts, " and ",
               p.num_faces);
  auto opts = faces.options();
  auto int_opts = opts.dtype(at::kInt);
  at::Tensor err = at::zeros({1}, int_opts);

  at::Tensor pos = at::empty({p.num_verts}, opts.dtype(at::kByte));
  at::Tensor vscan = at::empty({p.num_verts}, int_opts);
  AT_DISPATCH_FLOATING_TYPES(msdf.scalar_type(), "gshell_cut_cuda", [&] {
    positive_kernel<<<num_blocks(p.num_verts), kThreads, 0, stream>>>(
        msdf.data_ptr<scalar_t>(), pos.data_ptr<uint8_t>(), vscan.data_ptr<int32_t>(), p.num_verts);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t nk = inclusive_scan_total(vscan.data_ptr<int32_t>(), p.num_verts, stream, opts);
  at::Tensor kept = at::empty({nk}, opts);
  at::Tensor new_id = at::empty({p.num_verts}, opts);
  kept_kernel<<<num_blocks(p.num_verts), kThreads, 0, stream>>>(
      pos.data_ptr<uint8_t>(), vscan.data_ptr<int32_t>(), new_id.data_ptr<int64_t>(),
      kept.data_ptr<int64_t>(), p.num_verts);
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  at::Tensor fscan = at::empty({p.num_faces}, int_opts);
  halfedge_count_kernel<<<num_blocks(p.num_faces), kThreads, 0, stream>>>(
      faces.data_ptr<int64_t>(), pos.data_ptr<uint8_t>(), fscan.data_ptr<int32_t>(),
      err.data_ptr<int>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t nh = inclusive_scan_total(fscan.data_ptr<int32_t>(), p.num_faces, stream, opts);
  GSHELL_CHECK(read_flag(err, stream) == 0, op, "faces holds a vertex id outside [0, ", p.num_verts, ")");
  at::Tensor keys = at::empty({nh}, opts);
  halfedge_write_kernel<<<num_blocks(p.num_faces), kThreads, 0, stream>>>(
      faces.data_ptr<int64_t>(), pos.data_ptr<uint8_t>(), fscan.data_ptr<int32_t>(),
      keys.data_ptr<int64_t>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  at::Tensor ukeys = std::get<0>(at::_unique2(keys, /*sorted=*/true, false, false)).contiguous();
  keys = at::Tensor();
  const int64_t nc = ukeys.size(0);
  at::Tensor cut = at::empty({nc, 2}, opts);
  if (nc > 0) {
    split_keys_kernel<<<num_blocks(nc), kThreads, 0, stream>>>(
        ukeys.data_ptr<int64_t>(), cut.data_ptr<int64_t>(), nc, p.num_verts);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  face_count_kernel<<<num_blocks(p.num_faces), kThreads, 0, stream>>>(
      faces.data_ptr<int64_t>(), pos.data_ptr<uint8_t>(), fscan.data_ptr<int32_t>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t nf = inclusive_scan_total(fscan.data_ptr<int32_t>(), p.num_faces, stream, opts);
  at::Tensor out = at::empty({nf, 3}, opts);
  at::Tensor src = at::empty({nf}, opts);
  face_write_kernel<<<num_blocks(p.num_faces), kThreads, 0, stream>>>(
      faces.data_ptr<int64_t>(), pos.data_ptr<uint8_t>(), fscan.data_ptr<int32_t>(),
      new_id.data_ptr<int64_t>(), ukeys.data_ptr<int64_t>(), nc, nk, out.data_ptr<int64_t>(),
      src.data_ptr<int64_t>(), p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {kept, cut, out, src};
}

}  // namespace gshell

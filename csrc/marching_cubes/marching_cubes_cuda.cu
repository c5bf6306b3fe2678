// Marching cubes on CUDA: the same passes and numbering as marching_cubes_cpu.cpp.
//   1. point_kernel: crossing mask of the 3 edges leaving each point, vertex counts; scan.
//   2. edge_kernel: the grid edge of each vertex.
//   3. cell_count_kernel: triangles and centre vertices per cell (cube_polygons); scans;
//      cell_write_kernel.
// Counts and offsets are int32 (checked); point and cell ids are int64, so 1024^3 grids work.
#include "common/cuda_utils.h"
#include "marching_cubes/cube_polygons.h"
#include "marching_cubes/marching_cubes.h"

namespace gshell {
namespace {

template <typename scalar_t>
__global__ void point_kernel(const scalar_t* __restrict__ v, scalar_t t, uint8_t* __restrict__ mask,
                             int32_t* __restrict__ count, MarchingCubesParams p) {
  const int64_t sx = p.ny * p.nz, sy = p.nz;
  GSHELL_CUDA_LOOP(q, p.nx * sx) {
    const int64_t i = q / sx, j = (q / sy) % p.ny, k = q % p.nz;
    const bool s = v[q] > t;
    uint8_t m = 0;
    if (i + 1 < p.nx) m |= ((v[q + sx] > t) != s);
    if (j + 1 < p.ny) m |= ((v[q + sy] > t) != s) << 1;
    if (k + 1 < p.nz) m |= ((v[q + 1] > t) != s) << 2;
    mask[q] = m;
    count[q] = __popc(m);
  }
}

__global__ void edge_kernel(const uint8_t* __restrict__ mask, const int32_t* __restrict__ scan,
                            int64_t* __restrict__ edges, int64_t n) {
  GSHELL_CUDA_LOOP(q, n) {
    const uint8_t m = mask[q];
    if (m == 0) continue;
    int32_t k = scan[q] - __popc(m);
    for (int a = 0; a < 3; ++a)
      if ((m >> a) & 1) edges[k++] = 3 * q + a;
  }
}

__device__ __forceinline__ bool cell_active(const uint8_t* __restrict__ mask, int64_t q, int64_t sx,
                                            int64_t sy) {
  return ((mask[q] & 7) | (mask[q + sx] & 6) | (mask[q + sy] & 5) | (mask[q + 1] & 3) |
          (mask[q + sx + sy] & 4) | (mask[q + sx + 1] & 2) | (mask[q + sy + 1] & 1)) != 0;
}

__device__ __forceinline__ int64_t cell_point(int64_t c, const MarchingCubesParams& p) {
  const int64_t cz = p.nz - 1, cy = p.ny - 1;
  const int64_t i = c / (cy * cz), j = (c / cz) % cy, k = c % cz;
  return (i * p.ny + j) * p.nz + k;
}

template <typename scalar_t>
__device__ __forceinline__ int cell_tris(const scalar_t* __restrict__ v, scalar_t t, int64_t q,
                                         int64_t sx, int64_t sy, int8_t* tris, int8_t* centre) {
  scalar_t d[8];
  for (int c = 0; c < 8; ++c) d[c] = v[q + (c & 1) * sx + ((c >> 1) & 1) * sy + ((c >> 2) & 1)] - t;
  return cube_polygons(d, tris, centre);
}

template <typename scalar_t>
__global__ void cell_count_kernel(const scalar_t* __restrict__ v, scalar_t t,
                                  const uint8_t* __restrict__ mask, int32_t* __restrict__ count,
                                  int32_t* __restrict__ centre_count, MarchingCubesParams p) {
  const int64_t sx = p.ny * p.nz, sy = p.nz;
  GSHELL_CUDA_LOOP(c, (p.nx - 1) * (p.ny - 1) * (p.nz - 1)) {
    const int64_t q = cell_point(c, p);
    int n = 0, nc = 0;
    if (cell_active(mask, q, sx, sy)) {
      int8_t tris[3 * kMaxCubeTris];
      int8_t centre[12];
      n = cell_tris(v, t, q, sx, sy, tris, centre);
      nc = centre[0] >= 0;
    }
    count[c] = n;
    centre_count[c] = nc;
  }
}

template <typename scalar_t>
__global__ void cell_write_kernel(const scalar_t* __restrict__ v, scalar_t t,
                                  const uint8_t* __restrict__ mask, const int32_t* __restrict__ pscan,
                                  const int32_t* __restrict__ cscan, const int32_t* __restrict__ zscan,
                                  int64_t nv, int64_t* __restrict__ faces, int64_t* __restrict__ centres,
                                  MarchingCubesParams p) {
  const int64_t sx = p.ny * p.nz, sy = p.nz;
  const int64_t stride[3] = {sx, sy, 1};
  GSHELL_CUDA_LOOP(c, (p.nx - 1) * (p.ny - 1) * (p.nz - 1)) {
    const int64_t k0 = c == 0 ? 0 : cscan[c - 1];
    if (cscan[c] == k0) continue;
    const int64_t q = cell_point(c, p);
    int8_t tris[3 * kMaxCubeTris];
    int8_t centre[12];
    const int nt = cell_tris(v, t, q, sx, sy, tris, centre);
    auto vertex = [&](int e) -> int64_t {
      const int axis = e >> 2;
      const int b = (axis + 1) % 3, cc = (axis + 2) % 3;
      const int64_t pt = q + (e & 1) * stride[b] + ((e >> 1) & 1) * stride[cc];
      const uint8_t m = mask[pt];
      return pscan[pt] - __popc(m) + __popc(m & ((1 << axis) - 1));
    };
    const int64_t kc = zscan[c] - (centre[0] >= 0);  // this cell's centre, if it has one
    for (int i = 0; i < 3 * nt; ++i) faces[3 * k0 + i] = tris[i] == kCubeCentre ? nv + kc : vertex(tris[i]);
    if (centre[0] >= 0)
      for (int i = 0; i < 12; ++i) centres[12 * kc + i] = centre[i] >= 0 ? vertex(centre[i]) : -1;
  }
}

}  // namespace

MarchingCubesOut marching_cubes_cuda(const at::Tensor& grid, double iso) {
  const char* op = "marching_cubes";
  c10::cuda::CUDAGuard guard(grid.device());
  cudaStream_t stream = current_stream();
  const MarchingCubesParams p{grid.size(0), grid.size(1), grid.size(2), iso};
  const int64_t n = grid.numel();
  const int64_t cells = (p.nx - 1) * (p.ny - 1) * (p.nz - 1);
  auto opts = grid.options();
  at::Tensor mask = at::empty({n}, opts.dtype(at::kByte));
  at::Tensor pscan = at::empty({n}, opts.dtype(at::kInt));
  at::Tensor edges, faces, centres;
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "marching_cubes_cuda", [&] {
    const scalar_t* v = grid.data_ptr<scalar_t>();
    const scalar_t t = static_cast<scalar_t>(iso);
    point_kernel<<<num_blocks(n), kThreads, 0, stream>>>(v, t, mask.data_ptr<uint8_t>(),
                                                         pscan.data_ptr<int32_t>(), p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    // At most 3 vertices per point: a total past 2^31 wraps to a negative int32.
    const int64_t nv = inclusive_scan_total(pscan.data_ptr<int32_t>(), n, stream, opts);
    GSHELL_CHECK(nv >= 0 && n < (int64_t(1) << 31), op,
                 "expected fewer than 2^31 vertices and grid points on CUDA");
    edges = at::empty({nv}, opts.dtype(at::kLong));
    edge_kernel<<<num_blocks(n), kThreads, 0, stream>>>(mask.data_ptr<uint8_t>(),
                                                        pscan.data_ptr<int32_t>(),
                                                        edges.data_ptr<int64_t>(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    at::Tensor cscan = at::empty({cells}, opts.dtype(at::kInt));
    at::Tensor zscan = at::empty({cells}, opts.dtype(at::kInt));
    cell_count_kernel<<<num_blocks(cells), kThreads, 0, stream>>>(
        v, t, mask.data_ptr<uint8_t>(), cscan.data_ptr<int32_t>(), zscan.data_ptr<int32_t>(), p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    const int64_t nf = inclusive_scan_total(cscan.data_ptr<int32_t>(), cells, stream, opts);
    GSHELL_CHECK(nf >= 0, op, "expected fewer than 2^31 triangles on CUDA");
    const int64_t nc = inclusive_scan_total(zscan.data_ptr<int32_t>(), cells, stream, opts);
    faces = at::empty({nf, 3}, opts.dtype(at::kLong));
    centres = at::empty({nc, 12}, opts.dtype(at::kLong));
    cell_write_kernel<<<num_blocks(cells), kThreads, 0, stream>>>(
        v, t, mask.data_ptr<uint8_t>(), pscan.data_ptr<int32_t>(), cscan.data_ptr<int32_t>(),
        zscan.data_ptr<int32_t>(), nv, faces.data_ptr<int64_t>(), centres.data_ptr<int64_t>(), p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {edges, faces, centres};
}

}  // namespace gshell

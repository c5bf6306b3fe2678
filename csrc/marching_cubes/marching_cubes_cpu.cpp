#include <ATen/Parallel.h>

#include <cstring>

#include "common/cpu_compact.h"
#include "marching_cubes/cube_polygons.h"
#include "marching_cubes/marching_cubes.h"

namespace gshell {
namespace {

inline int crossings(uint8_t m) { return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1); }

// Pass 1 over one row of points (i, j, 0..nz-1): bits 0-2 of mask say which of the edges along
// x, y, z leaving the point cross the surface, bit 3 is the point's sign. Returns the vertices
// the row owns. At the grid's border the missing neighbour is the point itself (no crossing).
template <typename scalar_t>
int64_t point_row(const scalar_t* r0, const scalar_t* rx, const scalar_t* ry, scalar_t t,
                  int64_t nz, uint8_t* mask) {
  int64_t k = 0;
  for (int64_t z = 0; z + 1 < nz; ++z) {
    const uint8_t s = r0[z] > t;
    const uint8_t m = (uint8_t)(((rx[z] > t) ^ s) | (((ry[z] > t) ^ s) << 1) |
                                (((r0[z + 1] > t) ^ s) << 2) | (s << 3));
    mask[z] = m;
    k += crossings(m);
  }
  const uint8_t s = r0[nz - 1] > t;
  mask[nz - 1] = (uint8_t)(((rx[nz - 1] > t) ^ s) | (((ry[nz - 1] > t) ^ s) << 1) | (s << 3));
  return k + crossings(mask[nz - 1]);
}

template <typename scalar_t>
MarchingCubesOut marching_cubes_impl(const at::Tensor& grid, double iso) {
  const MarchingCubesParams p{grid.size(0), grid.size(1), grid.size(2), iso};
  const scalar_t* v = grid.data_ptr<scalar_t>();
  const scalar_t t = static_cast<scalar_t>(iso);
  const int64_t nz = p.nz, sx = p.ny * p.nz, sy = p.nz;
  const int64_t rows = p.nx * p.ny;
  auto long_opts = grid.options().dtype(at::kLong);

  // Pass 1: masks and vertex counts per row of points, vertices numbered by (point, axis).
  at::Tensor mask_t = at::empty({rows * nz}, grid.options().dtype(at::kByte));
  at::Tensor row_base_t = at::empty({rows}, long_opts);
  uint8_t* mask = mask_t.data_ptr<uint8_t>();
  int64_t* row_base = row_base_t.data_ptr<int64_t>();
  ChunkedCompact<1> point_cc(rows, 64);
  const int64_t nv = point_cc.count([&](int64_t r0, int64_t r1) {
    int64_t k = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i = r / p.ny, j = r % p.ny, q = r * nz;
      const scalar_t* a = v + q;
      row_base[r] = k;  // relative to the chunk for now
      k += point_row(a, i + 1 < p.nx ? a + sx : a, j + 1 < p.ny ? a + sy : a, t, nz, mask + q);
    }
    return Counts<1>{k};
  })[0];
  at::Tensor edges_t = at::empty({nv}, long_opts);
  int64_t* edges = edges_t.data_ptr<int64_t>();
  point_cc.write([&](int64_t r0, int64_t r1, Counts<1> off) {
    int64_t k = off[0];
    for (int64_t r = r0; r < r1; ++r) {
      row_base[r] += off[0];
      for (int64_t q = r * nz; q < (r + 1) * nz; ++q) {
        const uint8_t m = mask[q];
        if (m & 1) edges[k++] = 3 * q;
        if (m & 2) edges[k++] = 3 * q + 1;
        if (m & 4) edges[k++] = 3 * q + 2;
      }
    }
  });

  // Passes 2 and 3 sweep each row of cells (i, j, 0..nz-2) along z. A cell is active when its
  // corners' signs differ; the vertex ids of the 4 point rows around the cell row are carried
  // along the sweep as running sums of the masks' crossing counts.
  const int64_t cell_rows = (p.nx - 1) * (p.ny - 1);
  // Vertices owned by each row of points (for skipping empty rows of cells).
  at::Tensor row_count_t = at::empty({rows}, long_opts);
  int64_t* row_count = row_count_t.data_ptr<int64_t>();
  at::parallel_for(0, rows, 1024, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) row_count[r] = (r + 1 < rows ? row_base[r + 1] : nv) - row_base[r];
  });
  auto sweep = [&](int64_t cr, auto&& on_cell) {
    const int64_t i = cr / (p.ny - 1), j = cr % (p.ny - 1);
    const int64_t r[4] = {i * p.ny + j, i * p.ny + j + 1, (i + 1) * p.ny + j, (i + 1) * p.ny + j + 1};
    if (row_count[r[0]] + row_count[r[1]] + row_count[r[2]] + row_count[r[3]] == 0) return;
    const uint8_t* m[4] = {mask + r[0] * nz, mask + r[1] * nz, mask + r[2] * nz, mask + r[3] * nz};
    int64_t base[4] = {row_base[r[0]], row_base[r[1]], row_base[r[2]], row_base[r[3]]};
    for (int64_t z = 0; z + 1 < nz;) {
      // 8 points of the 4 rows without a crossing edge: the 7 cells they span are empty, and
      // the running vertex ids do not change.
      if (z + 8 <= nz) {
        uint64_t w = 0;
        for (int c = 0; c < 4; ++c) {
          uint64_t x;
          std::memcpy(&x, m[c] + z, 8);
          w |= x;
        }
        if ((w & 0x0707070707070707ull) == 0) {
          z += 7;
          continue;
        }
      }
      const uint8_t any = m[0][z] | m[0][z + 1] | m[1][z] | m[1][z + 1] | m[2][z] | m[2][z + 1] |
                          m[3][z] | m[3][z + 1];
      const uint8_t all = m[0][z] & m[0][z + 1] & m[1][z] & m[1][z + 1] & m[2][z] & m[2][z + 1] &
                          m[3][z] & m[3][z + 1];
      if ((any ^ all) & 8) on_cell(i, j, z, m, base);
      for (int c = 0; c < 4; ++c) base[c] += crossings(m[c][z]);
      ++z;
    }
  };
  auto corners = [&](int64_t i, int64_t j, int64_t z, scalar_t* d) {
    const int64_t q = i * sx + j * sy + z;
    for (int c = 0; c < 8; ++c)
      d[c] = v[q + (c & 1) * sx + ((c >> 1) & 1) * sy + ((c >> 2) & 1)] - t;
  };
  // Counts per chunk of cell rows: triangles, and centre vertices (loops that need one).
  ChunkedCompact<2> cell_cc(cell_rows, 64);
  const Counts<2> totals = cell_cc.count([&](int64_t c0, int64_t c1) {
    Counts<2> k{0, 0};
    scalar_t d[8];
    int8_t tris[3 * kMaxCubeTris];
    int8_t centre[12];
    for (int64_t cr = c0; cr < c1; ++cr) {
      sweep(cr, [&](int64_t i, int64_t j, int64_t z, const uint8_t* const*, const int64_t*) {
        corners(i, j, z, d);
        k[0] += cube_polygons(d, tris, centre);
        k[1] += centre[0] >= 0;
      });
    }
    return k;
  });
  const int64_t nf = totals[0], nc = totals[1];
  at::Tensor faces_t = at::empty({nf, 3}, long_opts);
  at::Tensor centres_t = at::empty({nc, 12}, long_opts);
  int64_t* faces = faces_t.data_ptr<int64_t>();
  int64_t* centres = centres_t.data_ptr<int64_t>();
  cell_cc.write([&](int64_t c0, int64_t c1, Counts<2> off) {
    int64_t k = off[0], kc = off[1];
    scalar_t d[8];
    int8_t tris[3 * kMaxCubeTris];
    int8_t centre[12];
    for (int64_t cr = c0; cr < c1; ++cr) {
      sweep(cr, [&](int64_t i, int64_t j, int64_t z, const uint8_t* const* m, const int64_t* base) {
        // The vertex on cell edge e, owned by the point at offsets (bit_b, bit_c) on the other
        // two axes.
        auto vertex = [&](int e) -> int64_t {
          const int axis = e >> 2, bb = e & 1, bc = (e >> 1) & 1;
          const int ox = axis == 0 ? 0 : (axis == 1 ? bc : bb);
          const int oy = axis == 1 ? 0 : (axis == 2 ? bc : bb);
          const int oz = axis == 2 ? 0 : (axis == 0 ? bc : bb);
          const int row = 2 * ox + oy;  // r = {(i,j), (i,j+1), (i+1,j), (i+1,j+1)}
          const uint8_t pm = m[row][z + oz];
          const int64_t b = base[row] + (oz ? crossings(m[row][z]) : 0);
          return b + crossings(pm & ((1 << axis) - 1));
        };
        corners(i, j, z, d);
        const int nt = cube_polygons(d, tris, centre);
        for (int n = 0; n < 3 * nt; ++n)
          faces[3 * k + n] = tris[n] == kCubeCentre ? nv + kc : vertex(tris[n]);
        if (centre[0] >= 0) {
          for (int n = 0; n < 12; ++n) centres[12 * kc + n] = centre[n] >= 0 ? vertex(centre[n]) : -1;
          ++kc;
        }
        k += nt;
      });
    }
  });
  return {edges_t, faces_t, centres_t};
}

}  // namespace

MarchingCubesOut marching_cubes_cpu(const at::Tensor& grid, double iso) {
  MarchingCubesOut out;
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "marching_cubes_cpu",
                             [&] { out = marching_cubes_impl<scalar_t>(grid, iso); });
  return out;
}

}  // namespace gshell

#include <ATen/Parallel.h>

#include <atomic>

#include "common/cpu_compact.h"
#include "common/tables.h"
#include "marching_tets/marching_tets.h"

namespace gshell {
namespace {

constexpr int8_t kTetEdge[12] = GSHELL_TET_EDGE_TABLE;
constexpr int8_t kTetTri[16][6] = GSHELL_TET_TRI_TABLE;
constexpr int8_t kTetNumTri[16] = GSHELL_TET_NUM_TRI_TABLE;

}  // namespace

MarchingTetsOut marching_tets_cpu(const at::Tensor& sdf, const at::Tensor& tets,
                                  const at::Tensor& edges, const at::Tensor& tet_edges,
                                  const at::Tensor& edge_first_tet, bool flip) {
  const char* op = "marching_tets";
  const MarchingTetsParams p{sdf.size(0), tets.size(0), edges.size(0), flip};
  auto long_opts = sdf.options().dtype(at::kLong);
  const int32_t* tv = tets.data_ptr<int32_t>();
  const int32_t* ev = edges.data_ptr<int32_t>();
  const int32_t* te = tet_edges.data_ptr<int32_t>();
  const int32_t* first = edge_first_tet.data_ptr<int32_t>();

  at::Tensor pos_t = at::empty({p.num_verts}, sdf.options().dtype(at::kByte));
  uint8_t* pos = pos_t.data_ptr<uint8_t>();
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "marching_tets_cpu", [&] {
    const scalar_t* s = sdf.data_ptr<scalar_t>();
    at::parallel_for(0, p.num_verts, 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) pos[i] = s[i] > scalar_t(0);
    });
  });

  // Pass 1 (reads every tet): case code, vertices owned (crossing edges whose first tet is
  // this one) and triangles. Crossing edges of active tets are validated against the tet.
  at::Tensor code_t = at::empty({p.num_tets}, sdf.options().dtype(at::kByte));
  uint8_t* code = code_t.data_ptr<uint8_t>();
  std::atomic<int> bad{0};
  ChunkedCompact<2> cc(p.num_tets);
  const Counts<2> total = cc.count([&](int64_t b, int64_t e) {
    Counts<2> k{0, 0};
    for (int64_t t = b; t < e; ++t) {
      const int32_t* v = tv + 4 * t;
      if (v[0] < 0 || v[0] >= p.num_verts || v[1] < 0 || v[1] >= p.num_verts || v[2] < 0 ||
          v[2] >= p.num_verts || v[3] < 0 || v[3] >= p.num_verts) {
        bad |= 1;
        code[t] = 0;
        continue;
      }
      const uint8_t c = pos[v[0]] | (pos[v[1]] << 1) | (pos[v[2]] << 2) | (pos[v[3]] << 3);
      code[t] = c;
      if (kTetNumTri[c] == 0) continue;
      k[1] += kTetNumTri[c];
      for (int l = 0; l < 6; ++l) {
        const int32_t a = v[kTetEdge[2 * l]], d = v[kTetEdge[2 * l + 1]];
        if (pos[a] == pos[d]) continue;
        const int32_t edge = te[6 * t + l];
        const bool ok = edge >= 0 && edge < p.num_edges && ev[2 * edge] == std::min(a, d) &&
                        ev[2 * edge + 1] == std::max(a, d) && first[edge] >= 0 && first[edge] <= t;
        if (!ok) {
          bad |= 2;
          code[t] = 0;
          break;
        }
        k[0] += first[edge] == t;
      }
    }
    return k;
  });
  GSHELL_CHECK(!(bad & 1), op, "tets holds a vertex id outside [0, ", p.num_verts, ")");
  GSHELL_CHECK(!(bad & 2), op,
               "edges, tet_edges and edge_first_tet are inconsistent with tets; rebuild the "
               "grid's topology (gshell.TetGrid computes it)");
  const int64_t nv = total[0], nf = total[1];

  // Pass 2: the owner tet numbers each vertex. edge_vert is left uninitialised elsewhere:
  // only crossing edges are read back, and each read is verified against cross.
  at::Tensor edge_vert_t = at::empty({p.num_edges}, sdf.options().dtype(at::kInt));
  at::Tensor cross_t = at::empty({nv}, long_opts);
  int32_t* edge_vert = edge_vert_t.data_ptr<int32_t>();
  int64_t* cross = cross_t.data_ptr<int64_t>();
  cc.write([&](int64_t b, int64_t e, Counts<2> k) {
    for (int64_t t = b; t < e; ++t) {
      const uint8_t c = code[t];
      if (kTetNumTri[c] == 0) continue;
      const int32_t* v = tv + 4 * t;
      for (int l = 0; l < 6; ++l) {
        const int32_t edge = te[6 * t + l];
        if (pos[v[kTetEdge[2 * l]]] != pos[v[kTetEdge[2 * l + 1]]] && first[edge] == t) {
          edge_vert[edge] = static_cast<int32_t>(k[0]);
          cross[k[0]++] = edge;
        }
      }
    }
  });

  // Pass 3: triangles, in tet order.
  at::Tensor faces_t = at::empty({nf, 3}, long_opts);
  at::Tensor face_tet_t = at::empty({nf}, long_opts);
  int64_t* faces = faces_t.data_ptr<int64_t>();
  int64_t* face_tet = face_tet_t.data_ptr<int64_t>();
  cc.write([&](int64_t b, int64_t e, Counts<2> k) {
    for (int64_t t = b; t < e; ++t) {
      const uint8_t c = code[t];
      for (int j = 0; j < kTetNumTri[c]; ++j, ++k[1]) {
        int64_t ids[3];
        for (int i = 0; i < 3; ++i) {
          const int32_t edge = te[6 * t + kTetTri[c][3 * j + i]];
          const int32_t vid = edge_vert[edge];
          ids[i] = (vid >= 0 && vid < nv && cross[vid] == edge) ? vid : -1;
          if (ids[i] < 0) bad |= 2;
        }
        faces[3 * k[1]] = ids[0];
        faces[3 * k[1] + 1] = flip ? ids[2] : ids[1];
        faces[3 * k[1] + 2] = flip ? ids[1] : ids[2];
        face_tet[k[1]] = t;
      }
    }
  });
  GSHELL_CHECK(!(bad & 2), op,
               "edge_first_tet is inconsistent with tet_edges; rebuild the grid's topology "
               "(gshell.TetGrid computes it)");
  return {cross_t, faces_t, face_tet_t};
}

}  // namespace gshell

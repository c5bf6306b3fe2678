#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>

#include "common/cpu_compact.h"
#include "common/tables.h"
#include "gshell_cut/gshell_cut.h"

namespace gshell {
namespace {

constexpr int8_t kTriCut[8][6] = GSHELL_TRI_CUT_TABLE;
constexpr int8_t kTriCutNum[8] = GSHELL_TRI_CUT_NUM_TABLE;

inline int64_t edge_key(int64_t a, int64_t b, int64_t n) {
  return a < b ? a * n + b : b * n + a;
}

}  // namespace

GShellCutOut gshell_cut_cpu(const at::Tensor& faces_in, const at::Tensor& msdf) {
  const char* op = "gshell_cut";
  GShellCutParams p{msdf.size(0), faces_in.size(0)};
  auto long_opts = faces_in.options().dtype(at::kLong);
  const int64_t* f = faces_in.data_ptr<int64_t>();

  at::Tensor pos_t = at::empty({p.num_verts}, long_opts.dtype(at::kByte));
  uint8_t* pos = pos_t.data_ptr<uint8_t>();
  AT_DISPATCH_FLOATING_TYPES(msdf.scalar_type(), "gshell_cut_cpu", [&] {
    const scalar_t* m = msdf.data_ptr<scalar_t>();
    at::parallel_for(0, p.num_verts, 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) pos[i] = m[i] > scalar_t(0);
    });
  });

  // Kept vertices and their new ids.
  ChunkedCompact<1> vert_cc(p.num_verts);
  const int64_t nk = vert_cc.count([&](int64_t b, int64_t e) {
    int64_t k = 0;
    for (int64_t i = b; i < e; ++i) k += pos[i];
    return Counts<1>{k};
  })[0];
  at::Tensor kept_t = at::empty({nk}, long_opts);
  at::Tensor new_id_t = at::empty({p.num_verts}, long_opts);
  int64_t* kept = kept_t.data_ptr<int64_t>();
  int64_t* new_id = new_id_t.data_ptr<int64_t>();
  vert_cc.write([&](int64_t b, int64_t e, Counts<1> off) {
    int64_t k = off[0];
    for (int64_t i = b; i < e; ++i) {
      new_id[i] = pos[i] ? k : -1;
      if (pos[i]) kept[k++] = i;
    }
  });

  // Keys of the cut half-edges, then their sorted unique set.
  std::atomic<bool> bad{false};
  ChunkedCompact<1> face_cc(p.num_faces);
  const int64_t nh = face_cc.count([&](int64_t b, int64_t e) {
    int64_t k = 0;
    for (int64_t t = b; t < e; ++t) {
      const int64_t* v = f + 3 * t;
      if (v[0] < 0 || v[0] >= p.num_verts || v[1] < 0 || v[1] >= p.num_verts || v[2] < 0 ||
          v[2] >= p.num_verts) {
        bad = true;
        continue;
      }
      k += (pos[v[0]] != pos[v[1]]) + (pos[v[1]] != pos[v[2]]) + (pos[v[2]] != pos[v[0]]);
    }
    return Counts<1>{k};
  })[0];
  GSHELL_CHECK(!bad, op, "faces holds a vertex id outside [0, ", p.num_verts, ")");
  at::Tensor keys_t = at::empty({nh}, long_opts);
  int64_t* keys = keys_t.data_ptr<int64_t>();
  face_cc.write([&](int64_t b, int64_t e, Counts<1> off) {
    int64_t k = off[0];
    for (int64_t t = b; t < e; ++t) {
      const int64_t* v = f + 3 * t;
      for (int i = 0; i < 3; ++i) {
        const int64_t a = v[i], c = v[(i + 1) % 3];
        if (pos[a] != pos[c]) keys[k++] = edge_key(a, c, p.num_verts);
      }
    }
  });
  at::Tensor ukeys_t = std::get<0>(at::_unique2(keys_t, /*sorted=*/true, false, false));
  const int64_t nc = ukeys_t.size(0);
  const int64_t* ukeys = ukeys_t.data_ptr<int64_t>();
  at::Tensor cut_t = at::empty({nc, 2}, long_opts);
  int64_t* cut = cut_t.data_ptr<int64_t>();
  at::parallel_for(0, nc, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      cut[2 * i] = ukeys[i] / p.num_verts;
      cut[2 * i + 1] = ukeys[i] % p.num_verts;
    }
  });

  // Open faces.
  ChunkedCompact<1> out_cc(p.num_faces);
  const int64_t nf = out_cc.count([&](int64_t b, int64_t e) {
    int64_t k = 0;
    for (int64_t t = b; t < e; ++t) {
      const int64_t* v = f + 3 * t;
      k += kTriCutNum[pos[v[0]] | (pos[v[1]] << 1) | (pos[v[2]] << 2)];
    }
    return Counts<1>{k};
  })[0];
  at::Tensor out_t = at::empty({nf, 3}, long_opts);
  at::Tensor src_t = at::empty({nf}, long_opts);
  int64_t* out = out_t.data_ptr<int64_t>();
  int64_t* src = src_t.data_ptr<int64_t>();
  out_cc.write([&](int64_t b, int64_t e, Counts<1> off) {
    int64_t k = off[0];
    for (int64_t t = b; t < e; ++t) {
      const int64_t* v = f + 3 * t;
      const int c = pos[v[0]] | (pos[v[1]] << 1) | (pos[v[2]] << 2);
      if (kTriCutNum[c] == 0) continue;
      int64_t ids[6];
      for (int i = 0; i < 3; ++i) {
        ids[i] = new_id[v[i]];
        const int64_t a = v[i], d = v[(i + 1) % 3];
        ids[3 + i] = -1;
        if (pos[a] != pos[d]) {
          const int64_t key = edge_key(a, d, p.num_verts);
          ids[3 + i] = nk + (std::lower_bound(ukeys, ukeys + nc, key) - ukeys);
        }
      }
      for (int j = 0; j < kTriCutNum[c]; ++j, ++k) {
        for (int i = 0; i < 3; ++i) out[3 * k + i] = ids[kTriCut[c][3 * j + i]];
        src[k] = t;
      }
    }
  });
  return {kept_t, cut_t, out_t, src_t};
}

}  // namespace gshell

#include <vector>

#include "mesh_components/mesh_components.h"

namespace gshell {

at::Tensor connected_components_cpu(const at::Tensor& edges, int64_t num_verts) {
  const int64_t* e = edges.data_ptr<int64_t>();
  const int64_t ne = edges.size(0);
  std::vector<int64_t> parent(num_verts);
  for (int64_t i = 0; i < num_verts; ++i) parent[i] = i;
  auto find = [&](int64_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (int64_t i = 0; i < ne; ++i) {
    const int64_t a = e[2 * i], b = e[2 * i + 1];
    GSHELL_CHECK(a >= 0 && a < num_verts && b >= 0 && b < num_verts, "connected_components",
                 "edge ", i, " = (", a, ", ", b, ") has a vertex id outside [0, ", num_verts, ")");
    int64_t ra = find(a), rb = find(b);
    if (ra == rb) continue;
    if (ra < rb) std::swap(ra, rb);
    parent[ra] = rb;  // the root is the smallest vertex of the component
  }
  at::Tensor labels_t = at::empty({num_verts}, edges.options());
  int64_t* labels = labels_t.data_ptr<int64_t>();
  std::vector<int64_t> root_label(num_verts, -1);
  int64_t n = 0;
  for (int64_t i = 0; i < num_verts; ++i) {
    const int64_t r = find(i);
    if (root_label[r] < 0) root_label[r] = n++;
    labels[i] = root_label[r];
  }
  return labels_t;
}

}  // namespace gshell

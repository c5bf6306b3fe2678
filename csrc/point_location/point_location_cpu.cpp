#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "point_location/point_location.h"

namespace gshell {
namespace {

// A uniform grid over a rectangle; cell (i, j) lists the items whose bounding box
// overlaps it, in increasing item order (CSR: start[c] .. start[c + 1]).
struct Grid {
  double x0 = 0, y0 = 0, hx = 1, hy = 1;
  int64_t nx = 1, ny = 1;
  std::vector<int64_t> start, items;

  int64_t cx(double x) const {
    const double f = std::floor((x - x0) / hx);
    return f < 0 ? 0 : (f >= nx ? nx - 1 : static_cast<int64_t>(f));
  }
  int64_t cy(double y) const {
    const double f = std::floor((y - y0) / hy);
    return f < 0 ? 0 : (f >= ny ? ny - 1 : static_cast<int64_t>(f));
  }

  // box: 4 doubles per item (xmin, ymin, xmax, ymax); target: about this many cells.
  void build(double bx0, double by0, double bx1, double by1, const std::vector<double>& box,
             int64_t target) {
    const int64_t n = static_cast<int64_t>(box.size() / 4);
    const double lx = bx1 - bx0, ly = by1 - by0;
    target = std::max<int64_t>(1, std::min<int64_t>(target, int64_t(1) << 24));
    const int64_t kMax = int64_t(1) << 13;
    if (lx > 0 && ly > 0) {
      const double h = std::sqrt(lx * ly / static_cast<double>(target));
      nx = std::min<int64_t>(kMax, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(lx / h))));
      ny = std::min<int64_t>(kMax, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(ly / h))));
    } else {
      nx = lx > 0 ? std::min<int64_t>(kMax, target) : 1;
      ny = ly > 0 ? std::min<int64_t>(kMax, target) : 1;
    }
    x0 = bx0;
    y0 = by0;
    hx = lx > 0 ? lx / static_cast<double>(nx) : 1.0;
    hy = ly > 0 ? ly / static_cast<double>(ny) : 1.0;
    start.assign(nx * ny + 1, 0);
    for (int64_t t = 0; t < n; ++t) {
      const int64_t i0 = cx(box[4 * t]), j0 = cy(box[4 * t + 1]);
      const int64_t i1 = cx(box[4 * t + 2]), j1 = cy(box[4 * t + 3]);
      for (int64_t j = j0; j <= j1; ++j)
        for (int64_t i = i0; i <= i1; ++i) ++start[j * nx + i + 1];
    }
    for (int64_t c = 0; c < nx * ny; ++c) start[c + 1] += start[c];
    items.resize(start[nx * ny]);
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t t = 0; t < n; ++t) {
      const int64_t i0 = cx(box[4 * t]), j0 = cy(box[4 * t + 1]);
      const int64_t i1 = cx(box[4 * t + 2]), j1 = cy(box[4 * t + 3]);
      for (int64_t j = j0; j <= j1; ++j)
        for (int64_t i = i0; i <= i1; ++i) items[fill[j * nx + i]++] = t;
    }
  }
};

struct Edge {
  int64_t a, b, tri, la, lb;  // vertex ids, owning triangle, local corners of a and b
};

inline double cross(double ax, double ay, double bx, double by) { return ax * by - ay * bx; }

}  // namespace

std::tuple<at::Tensor, at::Tensor> point_location_cpu(const at::Tensor& points_t,
                                                      const at::Tensor& triangles_t,
                                                      const at::Tensor& queries_t) {
  const double* P = points_t.data_ptr<double>();
  const int64_t* T = triangles_t.data_ptr<int64_t>();
  const double* Q = queries_t.data_ptr<double>();
  const int64_t ns = points_t.size(0), ms = triangles_t.size(0), nt = queries_t.size(0);
  at::Tensor tri_t = at::empty({nt}, triangles_t.options());
  at::Tensor bary_t = at::empty({nt, 3}, points_t.options());
  if (nt == 0) return {tri_t, bary_t};
  int64_t* out_tri = tri_t.data_ptr<int64_t>();
  double* out_bary = bary_t.data_ptr<double>();

  // Bounding box of the mesh.
  double bx0 = std::numeric_limits<double>::infinity(), by0 = bx0, bx1 = -bx0, by1 = -bx0;
  for (int64_t k = 0; k < 3 * ms; ++k) {
    const double x = P[2 * T[k]], y = P[2 * T[k] + 1];
    bx0 = std::min(bx0, x), bx1 = std::max(bx1, x), by0 = std::min(by0, y), by1 = std::max(by1, y);
  }
  // Boxes are padded by a tiny fraction of the mesh size so that a query that rounding puts a
  // hair outside a triangle's box still finds the triangle.
  const double pad = 1e-9 * std::max({bx1 - bx0, by1 - by0, 1e-300});
  (void)ns;

  // Triangle grid.
  std::vector<double> box(4 * ms);
  for (int64_t t = 0; t < ms; ++t) {
    const double* a = P + 2 * T[3 * t];
    const double* b = P + 2 * T[3 * t + 1];
    const double* c = P + 2 * T[3 * t + 2];
    box[4 * t] = std::min({a[0], b[0], c[0]}) - pad;
    box[4 * t + 1] = std::min({a[1], b[1], c[1]}) - pad;
    box[4 * t + 2] = std::max({a[0], b[0], c[0]}) + pad;
    box[4 * t + 3] = std::max({a[1], b[1], c[1]}) + pad;
  }
  Grid tgrid;
  tgrid.build(bx0, by0, bx1, by1, box, ms);

  // Boundary edges: edges used by exactly one triangle, in (min vertex, max vertex) order.
  std::vector<std::array<int64_t, 4>> half(3 * ms);  // min, max, tri, local edge
  for (int64_t t = 0; t < ms; ++t)
    for (int64_t e = 0; e < 3; ++e) {
      const int64_t u = T[3 * t + e], v = T[3 * t + (e + 1) % 3];
      half[3 * t + e] = {std::min(u, v), std::max(u, v), t, e};
    }
  std::sort(half.begin(), half.end());
  std::vector<Edge> bedges, alledges;
  for (size_t i = 0; i < half.size();) {
    size_t j = i + 1;
    while (j < half.size() && half[j][0] == half[i][0] && half[j][1] == half[i][1]) ++j;
    const int64_t t = half[i][2], e = half[i][3];
    const Edge edge{T[3 * t + e], T[3 * t + (e + 1) % 3], t, e, (e + 1) % 3};
    if (j - i == 1) bedges.push_back(edge);
    alledges.push_back(edge);
    i = j;
  }
  const std::vector<Edge>& edges = bedges.empty() ? alledges : bedges;
  const int64_t ne = static_cast<int64_t>(edges.size());
  std::vector<double> ebox(4 * ne);
  for (int64_t k = 0; k < ne; ++k) {
    const double* a = P + 2 * edges[k].a;
    const double* b = P + 2 * edges[k].b;
    ebox[4 * k] = std::min(a[0], b[0]);
    ebox[4 * k + 1] = std::min(a[1], b[1]);
    ebox[4 * k + 2] = std::max(a[0], b[0]);
    ebox[4 * k + 3] = std::max(a[1], b[1]);
  }
  Grid egrid;
  egrid.build(bx0, by0, bx1, by1, ebox, ne);

  at::parallel_for(0, nt, 256, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const double qx = Q[2 * q], qy = Q[2 * q + 1];
      // 1. Triangles listed in the query's cell.
      int64_t best = -1;
      double best_min = -1e-12;
      double best_l[3] = {0, 0, 0};
      if (qx >= bx0 - pad && qx <= bx1 + pad && qy >= by0 - pad && qy <= by1 + pad) {
        const int64_t c = tgrid.cy(qy) * tgrid.nx + tgrid.cx(qx);
        for (int64_t k = tgrid.start[c]; k < tgrid.start[c + 1]; ++k) {
          const int64_t t = tgrid.items[k];
          if (qx < box[4 * t] || qx > box[4 * t + 2] || qy < box[4 * t + 1] || qy > box[4 * t + 3])
            continue;
          const double* a = P + 2 * T[3 * t];
          const double* b = P + 2 * T[3 * t + 1];
          const double* cc = P + 2 * T[3 * t + 2];
          const double la = cross(b[0] - qx, b[1] - qy, cc[0] - qx, cc[1] - qy);
          const double lb = cross(cc[0] - qx, cc[1] - qy, a[0] - qx, a[1] - qy);
          const double lc = cross(a[0] - qx, a[1] - qy, b[0] - qx, b[1] - qy);
          const double s = la + lb + lc;
          const double scale = std::max({std::abs(b[0] - a[0]), std::abs(b[1] - a[1]),
                                         std::abs(cc[0] - a[0]), std::abs(cc[1] - a[1])});
          if (!(std::abs(s) > 1e-14 * scale * scale)) continue;  // degenerate triangle
          const double l[3] = {la / s, lb / s, lc / s};
          const double mn = std::min({l[0], l[1], l[2]});
          if (mn > best_min || (mn == best_min && best >= 0 && t < best)) {
            best = t, best_min = mn;
            best_l[0] = l[0], best_l[1] = l[1], best_l[2] = l[2];
          }
        }
      }
      if (best >= 0) {
        double l[3], sum = 0;
        for (int i = 0; i < 3; ++i) l[i] = std::max(best_l[i], 0.0), sum += l[i];
        out_tri[q] = best;
        for (int i = 0; i < 3; ++i) out_bary[3 * q + i] = l[i] / sum;
        continue;
      }
      // 2. Outside every triangle: nearest point of the nearest boundary edge, by rings of
      // cells around the query's (clamped) cell until no unvisited cell can hold a closer edge.
      const int64_t ci = egrid.cx(qx), cj = egrid.cy(qy);
      int64_t be = -1;
      double bd2 = std::numeric_limits<double>::infinity(), bt = 0;
      auto visit = [&](int64_t i, int64_t j) {
        const int64_t c = j * egrid.nx + i;
        for (int64_t k = egrid.start[c]; k < egrid.start[c + 1]; ++k) {
          const int64_t e = egrid.items[k];
          const double* a = P + 2 * edges[e].a;
          const double* b = P + 2 * edges[e].b;
          const double dx = b[0] - a[0], dy = b[1] - a[1];
          const double len2 = dx * dx + dy * dy;
          double t = len2 > 0 ? ((qx - a[0]) * dx + (qy - a[1]) * dy) / len2 : 0.0;
          t = std::min(1.0, std::max(0.0, t));
          const double ex = a[0] + t * dx - qx, ey = a[1] + t * dy - qy;
          const double d2 = ex * ex + ey * ey;
          if (d2 < bd2 || (d2 == bd2 && e < be)) be = e, bd2 = d2, bt = t;
        }
      };
      for (int64_t r = 0;; ++r) {
        const int64_t i0 = ci - r, i1 = ci + r, j0 = cj - r, j1 = cj + r;
        for (int64_t j = std::max<int64_t>(j0, 0); j <= std::min(j1, egrid.ny - 1); ++j) {
          if (j == j0 || j == j1) {
            for (int64_t i = std::max<int64_t>(i0, 0); i <= std::min(i1, egrid.nx - 1); ++i)
              visit(i, j);
          } else {
            if (i0 >= 0) visit(i0, j);
            if (i1 < egrid.nx && i1 != i0) visit(i1, j);
          }
        }
        // Lower bound on the distance to any cell outside the visited block.
        double lb = std::numeric_limits<double>::infinity();
        bool more = false;
        if (i0 > 0) more = true, lb = std::min(lb, qx - (egrid.x0 + i0 * egrid.hx));
        if (i1 < egrid.nx - 1) more = true, lb = std::min(lb, egrid.x0 + (i1 + 1) * egrid.hx - qx);
        if (j0 > 0) more = true, lb = std::min(lb, qy - (egrid.y0 + j0 * egrid.hy));
        if (j1 < egrid.ny - 1) more = true, lb = std::min(lb, egrid.y0 + (j1 + 1) * egrid.hy - qy);
        if (!more) break;
        lb = std::max(lb, 0.0);
        if (be >= 0 && bd2 < lb * lb) break;
      }
      const Edge& e = edges[be];
      out_tri[q] = e.tri;
      double* l = out_bary + 3 * q;
      l[0] = l[1] = l[2] = 0.0;
      l[e.la] = 1.0 - bt;
      l[e.lb] = bt;
    }
  });
  return {tri_t, bary_t};
}

}  // namespace gshell

// Per-point formulas of surface_features, shared by the CPU and CUDA kernels so that both give
// the same numbers.
//
// Stencils (unit spacing, the parameter is the grid index):
//   first derivative:  central (-1/2, 0, 1/2); at an open edge one-sided (-3/2, 2, -1/2)
//   second derivative: central (1, -2, 1);     at an open edge one-sided (2, -5, 4, -1)
//   mixed x_uv: the first-derivative stencils of u and v applied one after the other.
// All are second-order accurate, the one-sided ones included. Periodic directions wrap.
//
// With E = x_u.x_u, F = x_u.x_v, G = x_v.x_v:
//   Gamma^k_ij = g^kl (x_ij . x_l)
//   K (Brioschi) = (det [[S, E_u/2, F_u - E_v/2], [F_v - G_u/2, E, F], [G_v/2, F, G]]
//                   - det [[0, E_v/2, G_u/2], [E_v/2, E, F], [G_u/2, F, G]]) / (EG - F^2)^2
//   with the metric derivatives E_u = 2 x_uu.x_u, E_v = 2 x_uv.x_u, F_u = x_uu.x_v + x_u.x_uv,
//   F_v = x_uv.x_v + x_u.x_vv, G_u = 2 x_uv.x_v, G_v = 2 x_vv.x_v, and
//   S = -E_vv/2 + F_uv - G_uu/2 = x_uu.x_vv - x_uv.x_uv (the third derivatives of x cancel
//   exactly, which is the content of Gauss's Theorema Egregium). No normal is used.
//   n = x_u x x_v / |x_u x x_v|, L = x_uu.n, M = x_uv.n, N = x_vv.n,
//   K_ext = (LN - M^2) / (EG - F^2), H = (EN - 2FM + GL) / (2 (EG - F^2)).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/host_device.h"

namespace gshell {
namespace sf {

using std::fabs;
using std::fmax;
using std::isfinite;
using std::sqrt;

enum Flags : uint8_t { kDegenerate = 1, kZeroEdge = 2, kFold = 4, kNonFinite = 8 };

template <typename T>
struct Stencil {
  int64_t idx[4];
  T w[4];
  int n;
};

GSHELL_HD int64_t wrap(int64_t i, int64_t n) { return i < 0 ? i + n : (i >= n ? i - n : i); }

template <typename T>
GSHELL_HD Stencil<T> first_stencil(int64_t i, int64_t n, bool periodic) {
  Stencil<T> s;
  if (periodic || (i > 0 && i < n - 1)) {
    s.n = 2;
    s.idx[0] = wrap(i - 1, n); s.w[0] = T(-0.5);
    s.idx[1] = wrap(i + 1, n); s.w[1] = T(0.5);
  } else {
    const int64_t d = i == 0 ? 1 : -1;
    const T sgn = T(d);
    s.n = 3;
    s.idx[0] = i;         s.w[0] = T(-1.5) * sgn;
    s.idx[1] = i + d;     s.w[1] = T(2) * sgn;
    s.idx[2] = i + 2 * d; s.w[2] = T(-0.5) * sgn;
  }
  return s;
}

template <typename T>
GSHELL_HD Stencil<T> second_stencil(int64_t i, int64_t n, bool periodic) {
  Stencil<T> s;
  if (periodic || (i > 0 && i < n - 1)) {
    s.n = 3;
    s.idx[0] = wrap(i - 1, n); s.w[0] = T(1);
    s.idx[1] = i;              s.w[1] = T(-2);
    s.idx[2] = wrap(i + 1, n); s.w[2] = T(1);
  } else {
    const int64_t d = i == 0 ? 1 : -1;
    s.n = 4;
    s.idx[0] = i;         s.w[0] = T(2);
    s.idx[1] = i + d;     s.w[1] = T(-5);
    s.idx[2] = i + 2 * d; s.w[2] = T(4);
    s.idx[3] = i + 3 * d; s.w[3] = T(-1);
  }
  return s;
}

template <typename T>
struct V3 {
  T x, y, z;
};
template <typename T>
GSHELL_HD T dot(const V3<T>& a, const V3<T>& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
template <typename T>
GSHELL_HD void axpy(V3<T>& acc, T w, const T* p) {
  acc.x += w * p[0]; acc.y += w * p[1]; acc.z += w * p[2];
}
template <typename T>
GSHELL_HD T det3(T a, T b, T c, T d, T e, T f, T g, T h, T i) {
  return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

// Writes the features of point (i, j) of the surface `x` (nu * nv * 3 values, row-major) at
// output index q. Returns the flags of bits kDegenerate, kZeroEdge and kNonFinite.
template <typename T>
GSHELL_HD uint8_t point_features(const T* __restrict__ x, int64_t nu, int64_t nv, bool pu, bool pv,
                                 int64_t i, int64_t j, int64_t q, T* __restrict__ metric,
                                 T* __restrict__ minv, T* __restrict__ chris, T* __restrict__ kint,
                                 T* __restrict__ kext, T* __restrict__ hmean,
                                 T* __restrict__ normals) {
  const Stencil<T> su = first_stencil<T>(i, nu, pu), sv = first_stencil<T>(j, nv, pv);
  const Stencil<T> suu = second_stencil<T>(i, nu, pu), svv = second_stencil<T>(j, nv, pv);
  V3<T> xu{0, 0, 0}, xv{0, 0, 0}, xuu{0, 0, 0}, xuv{0, 0, 0}, xvv{0, 0, 0};
  for (int a = 0; a < su.n; ++a) {
    axpy(xu, su.w[a], x + (su.idx[a] * nv + j) * 3);
    for (int b = 0; b < sv.n; ++b) axpy(xuv, su.w[a] * sv.w[b], x + (su.idx[a] * nv + sv.idx[b]) * 3);
  }
  for (int b = 0; b < sv.n; ++b) axpy(xv, sv.w[b], x + (i * nv + sv.idx[b]) * 3);
  for (int a = 0; a < suu.n; ++a) axpy(xuu, suu.w[a], x + (suu.idx[a] * nv + j) * 3);
  for (int b = 0; b < svv.n; ++b) axpy(xvv, svv.w[b], x + (i * nv + svv.idx[b]) * 3);

  const T E = dot(xu, xu), F = dot(xu, xv), G = dot(xv, xv);
  const T det = E * G - F * F;
  const T inv = T(1) / det;
  const T g00 = G * inv, g01 = -F * inv, g11 = E * inv;
  metric[4 * q + 0] = E; metric[4 * q + 1] = F; metric[4 * q + 2] = F; metric[4 * q + 3] = G;
  minv[4 * q + 0] = g00; minv[4 * q + 1] = g01; minv[4 * q + 2] = g01; minv[4 * q + 3] = g11;

  // d_ij_l = x_ij . x_l
  const T d11u = dot(xuu, xu), d11v = dot(xuu, xv);
  const T d12u = dot(xuv, xu), d12v = dot(xuv, xv);
  const T d22u = dot(xvv, xu), d22v = dot(xvv, xv);
  T* c = chris + 8 * q;  // [k][i][j]
  c[0] = g00 * d11u + g01 * d11v;          // Gamma^1_11
  c[1] = c[2] = g00 * d12u + g01 * d12v;   // Gamma^1_12
  c[3] = g00 * d22u + g01 * d22v;          // Gamma^1_22
  c[4] = g01 * d11u + g11 * d11v;          // Gamma^2_11
  c[5] = c[6] = g01 * d12u + g11 * d12v;   // Gamma^2_12
  c[7] = g01 * d22u + g11 * d22v;          // Gamma^2_22

  // Brioschi formula from the metric and its derivatives.
  const T Eu = 2 * d11u, Ev = 2 * d12u, Fu = d11v + d12u, Fv = d12v + d22u, Gu = 2 * d12v,
          Gv = 2 * d22v;
  const T S = dot(xuu, xvv) - dot(xuv, xuv);
  const T b1 = det3(S, Eu / 2, Fu - Ev / 2, Fv - Gu / 2, E, F, Gv / 2, F, G);
  const T b2 = det3(T(0), Ev / 2, Gu / 2, Ev / 2, E, F, Gu / 2, F, G);
  const T K = (b1 - b2) * inv * inv;

  // Second fundamental form.
  V3<T> n{xu.y * xv.z - xu.z * xv.y, xu.z * xv.x - xu.x * xv.z, xu.x * xv.y - xu.y * xv.x};
  const T rn = T(1) / sqrt(dot(n, n));
  n.x *= rn; n.y *= rn; n.z *= rn;
  const T L = dot(xuu, n), M = dot(xuv, n), N = dot(xvv, n);
  const T Ke = (L * N - M * M) * inv;
  const T H = (E * N - 2 * F * M + G * L) * inv / 2;
  kint[q] = K;
  kext[q] = Ke;
  hmean[q] = H;
  normals[3 * q + 0] = n.x; normals[3 * q + 1] = n.y; normals[3 * q + 2] = n.z;

  uint8_t flags = 0;
  const T eps = std::numeric_limits<T>::epsilon();
  if (!(det > 64 * eps * E * G) || !(E > 0) || !(G > 0)) flags |= kDegenerate;
  const T* p = x + (i * nv + j) * 3;
  const bool has_u = pu || i + 1 < nu, has_v = pv || j + 1 < nv;
  const T* nb[2] = {has_u ? x + (wrap(i + 1, nu) * nv + j) * 3 : nullptr,
                    has_v ? x + (i * nv + wrap(j + 1, nv)) * 3 : nullptr};
  for (int a = 0; a < 2; ++a) {
    if (nb[a] == nullptr) continue;
    T dmax = 0, smax = 0;
    for (int k = 0; k < 3; ++k) {
      dmax = fmax(dmax, fabs(nb[a][k] - p[k]));
      smax = fmax(smax, fmax(fabs(nb[a][k]), fabs(p[k])));
    }
    if (dmax <= 8 * eps * smax) flags |= kZeroEdge;
  }
  if (!(isfinite(K) && isfinite(Ke) && isfinite(H) && isfinite(n.x) && isfinite(n.y) &&
        isfinite(n.z) && isfinite(g00) && isfinite(g01) && isfinite(g11)))
    flags |= kNonFinite;
  return flags;
}

// Bit kFold of point (i, j): its normal and the next row's or column's differ by over 90 degrees.
template <typename T>
GSHELL_HD uint8_t fold_flag(const T* __restrict__ n, int64_t nu, int64_t nv, bool pu, bool pv,
                            int64_t i, int64_t j) {
  const T* a = n + (i * nv + j) * 3;
  if (pu || i + 1 < nu) {
    const T* b = n + (wrap(i + 1, nu) * nv + j) * 3;
    if (a[0] * b[0] + a[1] * b[1] + a[2] * b[2] < 0) return kFold;
  }
  if (pv || j + 1 < nv) {
    const T* b = n + (i * nv + wrap(j + 1, nv)) * 3;
    if (a[0] * b[0] + a[1] * b[1] + a[2] * b[2] < 0) return kFold;
  }
  return 0;
}

}  // namespace sf
}  // namespace gshell

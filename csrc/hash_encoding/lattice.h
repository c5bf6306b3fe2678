// Lattice corners and interpolation weights of one point at one level, shared by the CPU and
// CUDA kernels of the hash encoding.
//
// Grid (instant-ngp): p = x * scale, cell = min(floor(p), R - 1), frac = p - cell; the 2^D corners
// of the cell with d-linear weights.
// Simplex (Wen & Yang 2023): p = x * scale, skewed q = p + G * sum(p) with G = (sqrt(D+1) - 1) / D,
// cell = floor(q), frac = q - cell; the fractions sorted in descending order (stable) give the
// simplex of the cell that holds q: corners v_0 = cell, v_k = v_{k-1} + e_{pi[k-1]}, barycentric
// weights w_0 = 1 - f_{pi[0]}, w_k = f_{pi[k-1]} - f_{pi[k]}, w_D = f_{pi[D-1]}: D + 1 corners.
//
// for_each_corner calls fn(k, w, dw) with the corner's integer coordinates k (D), its weight w
// and, when WITH_GRAD, dw/dx (D) for the clamped x.
//
// The *_corners_hvp variants (for the double backward) call fn(k, w, dw, a, hv) with, for a
// direction v (D), also a = dw . v and hv = H v, H the Hessian d^2 w / dx^2 (D x D) of the weight
// of the clamped x. The grid's d-linear weights have H_ij = s_i s_j prod_{k != i,j} phi_k (i != j,
// phi_k = f_k or 1 - f_k, s_k = +-scale), H_ii = 0; the simplex weights are piecewise linear in x,
// so H = 0 there. Like dw, hv ignores the clamp: the caller zeroes v and the result along clamped
// coordinates.
#pragma once
#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace gshell {

constexpr int kMaxEncodingDims = 8;

GSHELL_HD uint32_t hash_prime(int i) {
  switch (i) {
    case 0: return 1u;
    case 1: return 2654435761u;
    case 2: return 805459861u;
    case 3: return 3674653429u;
    case 4: return 2097192037u;
    case 5: return 1434869437u;
    case 6: return 2165219737u;
    default: return 2971215073u;
  }
}

// Row of a corner in its level's table: dense (sum k_i (R+1)^i) or hashed (xor of k_i * P_i).
template <int D>
GSHELL_HD int64_t corner_index(const int32_t* k, int32_t R, bool hashed, int64_t size) {
  if (hashed) {
    uint32_t h = 0;
    for (int i = 0; i < D; ++i) h ^= static_cast<uint32_t>(k[i]) * hash_prime(i);
    return static_cast<int64_t>(h & static_cast<uint32_t>(size - 1));
  }
  int64_t idx = 0, stride = 1;
  for (int i = 0; i < D; ++i) {
    idx += static_cast<int64_t>(k[i]) * stride;
    stride *= R + 1;
  }
  return idx;
}

template <typename scalar_t>
GSHELL_HD scalar_t clamp01(scalar_t v) {
  return v < scalar_t(0) ? scalar_t(0) : (v > scalar_t(1) ? scalar_t(1) : v);
}

// The grid cell of x (its lowest corner) and the fractions of p = clamp(x) * scale in it.
template <int D, typename scalar_t>
GSHELL_HD void grid_cell(const scalar_t* x, scalar_t scale, int32_t R, int32_t* cell, scalar_t* f) {
  for (int i = 0; i < D; ++i) {
    const scalar_t p = clamp01(x[i]) * scale;
    int32_t c = static_cast<int32_t>(p);  // p >= 0: truncation is floor
    c = c > R - 1 ? R - 1 : c;
    cell[i] = c;
    f[i] = p - static_cast<scalar_t>(c);
  }
}

template <int D, bool WITH_GRAD, typename scalar_t, typename Fn>
GSHELL_HD void grid_corners(const scalar_t* x, scalar_t scale, int32_t R, Fn&& fn) {
  int32_t cell[D];
  scalar_t f[D];
  grid_cell<D>(x, scale, R, cell, f);
  for (int corner = 0; corner < (1 << D); ++corner) {
    int32_t k[D];
    scalar_t w = 1;
    for (int i = 0; i < D; ++i) {
      const int bit = (corner >> i) & 1;
      k[i] = cell[i] + bit;
      w *= bit ? f[i] : scalar_t(1) - f[i];
    }
    scalar_t dw[D];
    if (WITH_GRAD) {
      for (int i = 0; i < D; ++i) {
        scalar_t g = (corner >> i) & 1 ? scale : -scale;
        for (int j = 0; j < D; ++j)
          if (j != i) g *= (corner >> j) & 1 ? f[j] : scalar_t(1) - f[j];
        dw[i] = g;
      }
    }
    fn(k, w, dw);
  }
}

// The skew factor G of the D-dimensional simplex lattice.
template <int D, typename scalar_t>
GSHELL_HD scalar_t simplex_skew() {
  return (sqrt(scalar_t(D + 1)) - scalar_t(1)) / scalar_t(D);
}

// Skewed cell k (D ints) and fractions f (D) of point x, as in the header comment.
template <int D, typename scalar_t>
GSHELL_HD void simplex_cell(const scalar_t* x, scalar_t scale, int32_t* k, scalar_t* f) {
  const scalar_t G = simplex_skew<D, scalar_t>();
  scalar_t p[D], sum = 0;
  for (int i = 0; i < D; ++i) {
    p[i] = clamp01(x[i]) * scale;
    sum += p[i];
  }
  for (int i = 0; i < D; ++i) {
    const scalar_t q = p[i] + G * sum;
    k[i] = static_cast<int32_t>(q);  // q >= 0: truncation is floor
    f[i] = q - static_cast<scalar_t>(k[i]);
  }
}

template <int D, bool WITH_GRAD, typename scalar_t, typename Fn>
GSHELL_HD void simplex_corners(const scalar_t* x, scalar_t scale, Fn&& fn) {
  const scalar_t G = simplex_skew<D, scalar_t>();
  int32_t k[D];
  scalar_t f[D];
  simplex_cell<D>(x, scale, k, f);
  int pi[D];
  for (int i = 0; i < D; ++i) pi[i] = i;
  // Stable insertion sort of the dimensions by descending fraction.
  for (int i = 1; i < D; ++i) {
    const int v = pi[i];
    int j = i - 1;
    while (j >= 0 && f[pi[j]] < f[v]) {
      pi[j + 1] = pi[j];
      --j;
    }
    pi[j + 1] = v;
  }
  scalar_t dw[D];
  for (int c = 0; c <= D; ++c) {
    if (c > 0) ++k[pi[c - 1]];
    const scalar_t hi = c == 0 ? scalar_t(1) : f[pi[c - 1]];
    const scalar_t lo = c == D ? scalar_t(0) : f[pi[c]];
    if (WITH_GRAD) {
      // d f_m / d x_i = scale (delta_mi + G); the G terms cancel except in w_0 and w_D.
      for (int i = 0; i < D; ++i) dw[i] = 0;
      if (c > 0) dw[pi[c - 1]] += scale;
      if (c < D) dw[pi[c]] -= scale;
      const scalar_t g = (c == 0 ? -G : (c == D ? G : scalar_t(0))) * scale;
      for (int i = 0; i < D; ++i) dw[i] += g;
    }
    fn(k, hi - lo, dw);
  }
}

template <int D, typename scalar_t, typename Fn>
GSHELL_HD void grid_corners_hvp(const scalar_t* x, const scalar_t* v, scalar_t scale, int32_t R,
                                Fn&& fn) {
  int32_t cell[D];
  scalar_t f[D];
  grid_cell<D>(x, scale, R, cell, f);
  for (int corner = 0; corner < (1 << D); ++corner) {
    int32_t k[D];
    scalar_t phi[D], sv[D], dw[D], hv[D];
    scalar_t w = 1;
    for (int i = 0; i < D; ++i) {
      const int bit = (corner >> i) & 1;
      k[i] = cell[i] + bit;
      phi[i] = bit ? f[i] : scalar_t(1) - f[i];
      sv[i] = (bit ? scale : -scale) * v[i];  // d phi_i along v
      w *= phi[i];
    }
    scalar_t a = 0;
    for (int i = 0; i < D; ++i) {
      // dw_i = s_i prod_{j != i} phi_j, and its derivative along v (forward mode, dual numbers).
      scalar_t val = (corner >> i) & 1 ? scale : -scale, der = 0;
      for (int j = 0; j < D; ++j) {
        if (j == i) continue;
        der = der * phi[j] + val * sv[j];
        val *= phi[j];
      }
      dw[i] = val;
      hv[i] = der;
      a += val * v[i];
    }
    fn(k, w, static_cast<const scalar_t*>(dw), a, static_cast<const scalar_t*>(hv));
  }
}

template <int D, typename scalar_t, typename Fn>
GSHELL_HD void simplex_corners_hvp(const scalar_t* x, const scalar_t* v, scalar_t scale, Fn&& fn) {
  scalar_t hv[D];
  for (int i = 0; i < D; ++i) hv[i] = 0;
  simplex_corners<D, true>(x, scale, [&](const int32_t* k, scalar_t w, const scalar_t* dw) {
    scalar_t a = 0;
    for (int i = 0; i < D; ++i) a += dw[i] * v[i];
    fn(k, w, dw, a, static_cast<const scalar_t*>(hv));
  });
}

}  // namespace gshell

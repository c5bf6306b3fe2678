// Triangle rasterization with nvdiffrast's conventions (Laine et al. 2020,
// https://arxiv.org/abs/2011.03277): for every pixel, the closest triangle and its
// perspective-correct barycentrics.
//
// Homogeneous rasterization (Olano & Greer 1997), no explicit clipping: with the clip-space
// vertices v_i = (x_i, y_i, w_i) as the columns of M and the pixel centre p = (px, py, 1) in NDC,
// E_i(p) = p . (v_{i+1} x v_{i+2}) (cyclic) are affine in p, M E = det(M) p, so
//   b_i = E_i / sum(E)          (perspective-correct barycentrics, position = sum b_i v_i)
//   w   = det(M) / sum(E)       (the clip w of the point under the pixel)
//   z/w = sum(E_i z_i) / det(M) (affine in p).
// With E' = sign(det) E the pixel is covered iff every E'_i >= 0 (then w > 0) and
// -1 <= z/w <= 1. Degenerate triangles (det == 0) cover nothing. No back-face culling. Depth
// test: the smallest z/w rounded to float32 wins, ties go to the smaller triangle id.
//
// Pixel (px, py) of an H x W image has its centre at NDC x = (2 px + 1) / W - 1,
// y = (2 py + 1) / H - 1; row 0 is y = -1 (OpenGL's bottom row).
//
// Args:
//   pos: (B, V, 4) float32|float64, clip-space positions, contiguous
//   tri: (F, 3) int32, contiguous, indices in [0, V), F < 2^24
//   height, width: the resolution, each in [1, 16384]
// Returns:
//   rast: (B, H, W, 4) in pos's dtype: u, v, z/w, triangle id + 1 (0 and u = v = z/w = 0 for
//         background), u = b_0, v = b_1.
#pragma once
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>

#include "common/check.h"
#include "common/host_device.h"

namespace gshell {

struct RasterizeParams {
  int64_t B, V, F;
  int H, W;
};

// Setup of one triangle in one view, in double: E'_i = a_i px + b_i py + c_i (already multiplied
// by sign(det)), z/w = sum(E'_i z_i) * inv_det, and a conservative pixel bounding box.
struct TriSetup {
  double a[3], b[3], c[3], z[3];
  double inv_det;
  int x0, x1, y0, y1;  // inclusive; empty when x0 > x1 or y0 > y1
};

// Pixel index range [lo, hi] of the pixel centres within NDC [nlo, nhi], widened by 1e-6 pixel
// against rounding (the coverage test itself is exact); clamped to [0, n - 1].
GSHELL_HD void ndc_to_pixels(double nlo, double nhi, int n, int& lo, int& hi) {
  double a = (nlo + 1.0) * 0.5 * n - 0.5 - 1e-6, b = (nhi + 1.0) * 0.5 * n - 0.5 + 1e-6;
  a = a < -1.0 ? -1.0 : (a > n + 1.0 ? n + 1.0 : a);  // NaN-safe clamps before the casts
  b = b < -1.0 ? -1.0 : (b > n + 1.0 ? n + 1.0 : b);
  if (!(a == a)) a = -1.0;
  if (!(b == b)) b = n + 1.0;
  lo = static_cast<int>(ceil(a));
  hi = static_cast<int>(floor(b));
  lo = lo < 0 ? 0 : lo;
  hi = hi > n - 1 ? n - 1 : hi;
}

// Conservative pixel bounding box [x0, x1] x [y0, y1] of the part of triangle (x, y, z, w)[3]
// within the slab -w <= z <= w (which implies w >= 0): the triangle is clipped to the slab
// (Sutherland-Hodgman on two planes, at most 5 vertices) and projected. Returns false when
// nothing of it can be on screen.
GSHELL_HD bool tri_bbox(const double* x, const double* y, const double* z, const double* w, int H,
                        int W, int& x0, int& x1, int& y0, int& y1) {
  bool inside = true;
  for (int i = 0; i < 3; ++i)
    inside = inside && (z[i] + w[i] >= 0.0) && (w[i] - z[i] >= 0.0) && w[i] > 0.0;
  double xlo = INFINITY, ylo = INFINITY, xhi = -INFINITY, yhi = -INFINITY;
  if (inside) {
    for (int i = 0; i < 3; ++i) {
      const double r = 1.0 / w[i];
      const double xi = x[i] * r, yi = y[i] * r;
      xlo = fmin(xlo, xi); xhi = fmax(xhi, xi);
      ylo = fmin(ylo, yi); yhi = fmax(yhi, yi);
    }
  } else {
    double poly[8][4], out[8][4];
    int n = 3;
    for (int i = 0; i < 3; ++i) {
      poly[i][0] = x[i]; poly[i][1] = y[i]; poly[i][2] = z[i]; poly[i][3] = w[i];
    }
    for (int plane = 0; plane < 2; ++plane) {
      const double sz = plane == 0 ? 1.0 : -1.0;  // kept where w + sz * z >= 0
      int m = 0;
      for (int i = 0; i < n; ++i) {
        const double* A = poly[i];
        const double* Bv = poly[(i + 1) % n];
        const double da = A[3] + sz * A[2], db = Bv[3] + sz * Bv[2];
        if (da >= 0.0) {
          for (int k = 0; k < 4; ++k) out[m][k] = A[k];
          ++m;
        }
        if ((da >= 0.0) != (db >= 0.0)) {
          const double t = da / (da - db);
          for (int k = 0; k < 4; ++k) out[m][k] = A[k] + t * (Bv[k] - A[k]);
          ++m;
        }
      }
      n = m;
      if (n == 0) return false;
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < 4; ++k) poly[i][k] = out[i][k];
    }
    bool full = false;
    for (int i = 0; i < n; ++i) {
      if (!(poly[i][3] > 1e-30)) {
        full = true;  // a point near w = 0: unbounded on screen
        break;
      }
      const double xi = poly[i][0] / poly[i][3], yi = poly[i][1] / poly[i][3];
      xlo = fmin(xlo, xi); xhi = fmax(xhi, xi);
      ylo = fmin(ylo, yi); yhi = fmax(yhi, yi);
    }
    if (full) {
      xlo = ylo = -1.0;
      xhi = yhi = 1.0;
    }
  }
  if (xhi < -1.0 - 4.0 / W || xlo > 1.0 + 4.0 / W || yhi < -1.0 - 4.0 / H || ylo > 1.0 + 4.0 / H)
    return false;
  ndc_to_pixels(xlo, xhi, W, x0, x1);
  ndc_to_pixels(ylo, yhi, H, y0, y1);
  return x0 <= x1 && y0 <= y1;
}

template <typename scalar_t>
GSHELL_HD void tri_load(const scalar_t* q0, const scalar_t* q1, const scalar_t* q2, double* x,
                        double* y, double* z, double* w) {
  const scalar_t* q[3] = {q0, q1, q2};
  for (int i = 0; i < 3; ++i) {
    x[i] = q[i][0];
    y[i] = q[i][1];
    z[i] = q[i][2];
    w[i] = q[i][3];
  }
}

// Sets up the triangle (q0, q1, q2), each a pointer to (x, y, z, w). Returns false when it can
// cover no pixel (degenerate, or nothing of it within the view frustum).
template <typename scalar_t>
GSHELL_HD bool tri_setup(const scalar_t* q0, const scalar_t* q1, const scalar_t* q2, int H, int W,
                         TriSetup& s) {
  double x[3], y[3], z[3], w[3];
  tri_load(q0, q1, q2, x, y, z, w);
  for (int i = 0; i < 3; ++i) {
    const int j = (i + 1) % 3, k = (i + 2) % 3;
    s.a[i] = y[j] * w[k] - w[j] * y[k];
    s.b[i] = w[j] * x[k] - x[j] * w[k];
    s.c[i] = x[j] * y[k] - y[j] * x[k];
  }
  const double det = x[0] * s.a[0] + y[0] * s.b[0] + w[0] * s.c[0];
  if (!(det != 0.0) || !(fabs(det) < INFINITY)) return false;  // also rejects NaN
  const double sg = det > 0.0 ? 1.0 : -1.0;
  for (int i = 0; i < 3; ++i) {
    s.a[i] *= sg;
    s.b[i] *= sg;
    s.c[i] *= sg;
    s.z[i] = z[i];
  }
  s.inv_det = 1.0 / (det * sg);
  return tri_bbox(x, y, z, w, H, W, s.x0, s.x1, s.y0, s.y1);
}

// NDC centre of pixel i of n.
// One pixel of the rast output: (u, v, z/w, triangle_id + 1), what nvdiffrast writes.
template <typename scalar_t>
GSHELL_HD void write_rast(scalar_t* o, double u, double v, double zd, int64_t f) {
  o[0] = static_cast<scalar_t>(u);
  o[1] = static_cast<scalar_t>(v);
  o[2] = static_cast<scalar_t>(zd);
  o[3] = static_cast<scalar_t>(f + 1);
}

GSHELL_HD double pixel_ndc(int i, int n) { return (2.0 * i + 1.0) / n - 1.0; }

// Columns [lo, hi] of row py (NDC) that may be covered, within the bounding box: the interval
// where every E'_i >= 0, each bound widened by a bound on its rounding error. Empty when lo > hi.
GSHELL_HD void row_span(const TriSetup& s, double py, int W, int& lo, int& hi) {
  double l = -INFINITY, h = INFINITY;
  for (int i = 0; i < 3; ++i) {
    const double r = s.b[i] * py + s.c[i];
    const double a = s.a[i];
    if (a != 0.0) {
      const double x = -r / a;
      const double err = 1e-12 * (fabs(s.b[i] * py) + fabs(s.c[i]) + fabs(a)) / fabs(a);
      if (a > 0.0) l = fmax(l, x - err);
      else h = fmin(h, x + err);
    } else if (r < -1e-12 * (fabs(s.b[i] * py) + fabs(s.c[i]))) {
      lo = 1;
      hi = 0;
      return;
    }
  }
  if (!(l <= h)) {
    lo = 1;
    hi = 0;
    return;
  }
  int a, b;
  ndc_to_pixels(l, h, W, a, b);
  lo = a > s.x0 ? a : s.x0;
  hi = b < s.x1 ? b : s.x1;
}

// The exact coverage test of pixel centre (px, py); on success u, v, z/w (zd) and z/w rounded to
// float32 for the depth test (zw, -0 made +0).
GSHELL_HD bool tri_eval(const TriSetup& s, double px, double py, double& u, double& v, double& zd,
                        float& zw) {
  const double e0 = s.a[0] * px + s.b[0] * py + s.c[0];
  const double e1 = s.a[1] * px + s.b[1] * py + s.c[1];
  const double e2 = s.a[2] * px + s.b[2] * py + s.c[2];
  if (e0 < 0.0 || e1 < 0.0 || e2 < 0.0) return false;
  const double sum = e0 + e1 + e2;
  if (!(sum > 0.0)) return false;
  zd = (e0 * s.z[0] + e1 * s.z[1] + e2 * s.z[2]) * s.inv_det;
  if (!(zd >= -1.0 && zd <= 1.0)) return false;
  u = e0 / sum;
  v = e1 / sum;
  zw = static_cast<float>(zd);
  if (zw == 0.0f) zw = 0.0f;
  return true;
}

at::Tensor rasterize_cpu(const at::Tensor& pos, const at::Tensor& tri, int64_t height, int64_t width);
#ifdef WITH_CUDA
at::Tensor rasterize_cuda(const at::Tensor& pos, const at::Tensor& tri, int64_t height, int64_t width);
#endif

inline at::Tensor rasterize(const at::Tensor& pos, const at::Tensor& tri, int64_t height,
                            int64_t width) {
  const char* op = "rasterize";
  GSHELL_CHECK_DIM(op, pos, 3);
  GSHELL_CHECK(pos.size(2) == 4, op, "expected pos of shape (B, V, 4) but got ", pos.sizes());
  GSHELL_CHECK_FLOAT(op, pos);
  GSHELL_CHECK_CONTIGUOUS(op, pos);
  GSHELL_CHECK_DIM(op, tri, 2);
  GSHELL_CHECK(tri.size(1) == 3, op, "expected tri of shape (F, 3) but got ", tri.sizes());
  GSHELL_CHECK_DTYPE(op, tri, at::kInt);
  GSHELL_CHECK_CONTIGUOUS(op, tri);
  GSHELL_CHECK_SAME_DEVICE(op, pos, tri);
  GSHELL_CHECK(tri.size(0) < (int64_t(1) << 24), op,
               "expected fewer than 2^24 triangles (ids are stored as floats) but got ", tri.size(0));
  GSHELL_CHECK(height >= 1 && height <= 16384 && width >= 1 && width <= 16384, op,
               "expected a resolution in [1, 16384] but got ", height, " x ", width);
  if (tri.numel() > 0) {
    const int64_t lo = tri.min().item<int64_t>(), hi = tri.max().item<int64_t>();
    GSHELL_CHECK(lo >= 0 && hi < pos.size(1), op, "expected tri indices in [0, ", pos.size(1),
                 ") but got values in [", lo, ", ", hi, "]");
  }
  if (pos.is_cuda()) {
#ifdef WITH_CUDA
    return rasterize_cuda(pos, tri, height, width);
#else
    GSHELL_CHECK(false, op, "gshell was built without CUDA support");
#endif
  }
  return rasterize_cpu(pos, tri, height, width);
}

}  // namespace gshell

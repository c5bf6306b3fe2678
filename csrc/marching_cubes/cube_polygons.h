// Polygonisation of one marching-cubes cell, shared by the CPU and CUDA kernels.
//
// Instead of a 256-case table, the cell's surface is built from its faces: on each of the 6
// faces the iso-line segments join the crossing edges (1 segment, or 2 on an ambiguous face),
// and the segments are chained into closed loops, each fanned into triangles. An ambiguous face
// (signs alternating around it) is resolved by the sign of the sum of its 4 corner values,
// added in an order that does not depend on the cell, so the two cells sharing a face always
// draw the same segments on it: the surface has no holes, whatever the field.
//
// Corner c of a cell has offsets (c & 1, c >> 1 & 1, c >> 2 & 1) along (x, y, z). Edge
// e = 4 * axis + bit_b + 2 * bit_c, where (b, c) = (axis + 1, axis + 2) mod 3 are the other axes
// and bit_b, bit_c the offsets of the edge along them.
#pragma once
#include <cstdint>

#include "common/host_device.h"

namespace gshell {

constexpr int kMaxCubeTris = 10;  // 12 crossing edges in loops: at most 12 - 2 triangles

GSHELL_HD int cube_corner(int axis, int along, int b_bit, int c_bit) {
  const int b = (axis + 1) % 3, c = (axis + 2) % 3;
  return (along << axis) | (b_bit << b) | (c_bit << c);
}

// The cell edge joining corners p and q, which differ in one bit.
GSHELL_HD int cube_edge(int p, int q) {
  const int diff = p ^ q;
  const int axis = diff == 1 ? 0 : (diff == 2 ? 1 : 2);
  const int b = (axis + 1) % 3, c = (axis + 2) % 3;
  return 4 * axis + ((p >> b) & 1) + 2 * ((p >> c) & 1);
}

// d: the 8 corner values minus the iso-value; a corner is positive when d > 0.
// Writes up to kMaxCubeTris triangles of cell-edge ids to tris (winding: normals point to the
// positive side), returns their number.
template <typename scalar_t>
GSHELL_HD int cube_polygons(const scalar_t* d, int8_t* tris) {
  int code = 0;
  for (int i = 0; i < 8; ++i) code |= (d[i] > scalar_t(0)) << i;
  if (code == 0 || code == 255) return 0;
  int8_t next[12];
  for (int i = 0; i < 12; ++i) next[i] = -1;
  for (int axis = 0; axis < 3; ++axis) {
    for (int side = 0; side < 2; ++side) {
      // Face corners in counter-clockwise order seen from outside the cell.
      int cyc[4] = {cube_corner(axis, side, 0, 0), cube_corner(axis, side, 1, 0),
                    cube_corner(axis, side, 1, 1), cube_corner(axis, side, 0, 1)};
      if (side == 0) {
        const int t = cyc[1];
        cyc[1] = cyc[3];
        cyc[3] = t;
      }
      int8_t xe[4];
      bool up[4];
      int n = 0;
      for (int i = 0; i < 4; ++i) {
        const int p = cyc[i], q = cyc[(i + 1) & 3];
        const bool pp = (code >> p) & 1, qp = (code >> q) & 1;
        if (pp != qp) {
          xe[n] = static_cast<int8_t>(cube_edge(p, q));
          up[n] = qp;  // the walk goes from negative to positive
          ++n;
        }
      }
      if (n == 2) {
        if (up[0]) next[xe[0]] = xe[1]; else next[xe[1]] = xe[0];
      } else if (n == 4) {
        // Sum of the face's values in ascending corner order (the same in both cells).
        const int c00 = cube_corner(axis, side, 0, 0), c10 = cube_corner(axis, side, 1, 0);
        const int c01 = cube_corner(axis, side, 0, 1), c11 = cube_corner(axis, side, 1, 1);
        const scalar_t center = ((d[c00] + d[c10]) + d[c01]) + d[c11];
        // Positive center: positive corners connect, segments cut off the negative corners
        // (an up crossing joins the previous down); otherwise the next down.
        const int step = center > scalar_t(0) ? 3 : 1;
        for (int i = 0; i < 4; ++i)
          if (up[i]) next[xe[i]] = xe[(i + step) & 3];
      }
    }
  }
  int nt = 0;
  uint32_t seen = 0;
  for (int s = 0; s < 12; ++s) {
    if (next[s] < 0 || ((seen >> s) & 1)) continue;
    int8_t loop[12];
    int len = 0;
    int e = s;
    while (!((seen >> e) & 1) && len < 12) {
      seen |= 1u << e;
      loop[len++] = static_cast<int8_t>(e);
      e = next[e];
      if (e < 0) break;
    }
    for (int i = 1; i + 1 < len && nt < kMaxCubeTris; ++i, ++nt) {
      tris[3 * nt] = loop[0];
      tris[3 * nt + 1] = loop[i + 1];
      tris[3 * nt + 2] = loop[i];
    }
  }
  return nt;
}

}  // namespace gshell

// Polygonisation of one marching-cubes cell, shared by the CPU and CUDA kernels.
//
// Instead of a 256-case table, the cell's surface is built from its faces: on each of the 6
// faces the iso-line segments join the crossing edges (1 segment, or 2 on an ambiguous face),
// and the segments are chained into closed loops. An ambiguous face (signs alternating around
// it) is resolved by the sign of the sum of its 4 corner values, added in an order that does not
// depend on the cell, so the two cells sharing a face always draw the same segments on it: the
// surface has no holes, whatever the field.
//
// Each loop is triangulated without a chord that lies in a cell face: a chord joining two
// vertices on the same face (possible only on an ambiguous face whose two segments belong to
// one loop) could be drawn by the neighbouring cell too, and the edge would then be shared by
// four triangles. A loop is fanned from the first of its vertices whose fan has no such chord;
// a loop without one (it crosses an ambiguous face twice and has 8, 9 or 12 vertices) gets a
// vertex of its own inside the cell (kCubeCentre, placed by the caller at the mean of the loop's
// vertices) and is fanned from it. Every edge of the mesh is then used by at most two triangles
// (exactly two inside the grid), and every vertex's triangles form one fan.
//
// Corner c of a cell has offsets (c & 1, c >> 1 & 1, c >> 2 & 1) along (x, y, z). Edge
// e = 4 * axis + bit_b + 2 * bit_c, where (b, c) = (axis + 1, axis + 2) mod 3 are the other axes
// and bit_b, bit_c the offsets of the edge along them.
#pragma once
#include <cstdint>

#include "common/host_device.h"

namespace gshell {

// At most 12 crossing edges: a fanned loop of n gives n - 2 triangles, a loop with a centre n.
constexpr int kMaxCubeTris = 12;
// The id, in the triangles cube_polygons writes, of the cell's centre vertex (at most one per
// cell: only a loop of 8 or more vertices needs one).
constexpr int kCubeCentre = 12;

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

// The two faces of the cell that edge e lies on, as bits (2 * axis + side) of a 6-bit mask.
GSHELL_HD int cube_edge_faces(int e) {
  const int axis = e >> 2, b = (axis + 1) % 3, c = (axis + 2) % 3;
  return (1 << (2 * b + (e & 1))) | (1 << (2 * c + ((e >> 1) & 1)));
}

// d: the 8 corner values minus the iso-value; a corner is positive when d > 0.
// Writes up to kMaxCubeTris triangles of cell-edge ids (or kCubeCentre) to tris (winding:
// normals point to the positive side), returns their number. When centre is not null, the
// vertices of the loop that needs the centre vertex (if any) are written to centre[0..11]
// (edge ids, -1 after the last).
template <typename scalar_t>
GSHELL_HD int cube_polygons(const scalar_t* d, int8_t* tris, int8_t* centre = nullptr) {
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
  if (centre != nullptr) centre[0] = -1;
  for (int s = 0; s < 12; ++s) {
    if (next[s] < 0 || ((seen >> s) & 1)) continue;
    int8_t loop[12];
    int8_t faces[12];
    int len = 0;
    int e = s;
    while (!((seen >> e) & 1) && len < 12) {
      seen |= 1u << e;
      faces[len] = static_cast<int8_t>(cube_edge_faces(e));
      loop[len++] = static_cast<int8_t>(e);
      e = next[e];
      if (e < 0) break;
    }
    // The first fan apex whose chords (apex, apex + 2 .. apex + len - 2) leave the faces.
    int apex = -1;
    for (int a = 0; a < len && apex < 0; ++a) {
      bool ok = true;
      for (int i = 2; i + 1 < len && ok; ++i) ok = (faces[a] & faces[(a + i) % len]) == 0;
      if (ok) apex = a;
    }
    if (apex >= 0) {
      for (int i = 1; i + 1 < len && nt < kMaxCubeTris; ++i, ++nt) {
        tris[3 * nt] = loop[apex];
        tris[3 * nt + 1] = loop[(apex + i + 1) % len];
        tris[3 * nt + 2] = loop[(apex + i) % len];
      }
    } else {
      for (int i = 0; i < len && nt < kMaxCubeTris; ++i, ++nt) {
        tris[3 * nt] = static_cast<int8_t>(kCubeCentre);
        tris[3 * nt + 1] = loop[(i + 1) % len];
        tris[3 * nt + 2] = loop[i];
      }
      if (centre != nullptr) {
        for (int i = 0; i < 12; ++i) centre[i] = i < len ? loop[i] : int8_t(-1);
      }
    }
  }
  return nt;
}

}  // namespace gshell

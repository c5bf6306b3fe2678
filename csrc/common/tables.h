// Lookup tables shared by the CPU and CUDA kernels. Each table is written once,
// as a macro, and instantiated in host memory (CPU) and constant memory (CUDA),
// so the two implementations cannot drift apart.
#pragma once
#include <cstdint>

// Local edges of a tet (v0,v1,v2,v3), in the order of kaolin/DMTet:
// (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
#define GSHELL_TET_EDGE_TABLE {0, 1, 0, 2, 0, 3, 1, 2, 1, 3, 2, 3}

// Marching tetrahedra: for the 4-bit case code (bit i set when sdf(v_i) > 0),
// up to two triangles as local edge ids (-1 terminates). This is the table of
// DMTet/kaolin, so that faces match kaolin's for the same input.
#define GSHELL_TET_TRI_TABLE         \
  {{-1, -1, -1, -1, -1, -1},         \
   {1, 0, 2, -1, -1, -1},            \
   {4, 0, 3, -1, -1, -1},            \
   {1, 4, 2, 1, 3, 4},               \
   {3, 1, 5, -1, -1, -1},            \
   {2, 3, 0, 2, 5, 3},               \
   {1, 4, 0, 1, 5, 4},               \
   {4, 2, 5, -1, -1, -1},            \
   {4, 5, 2, -1, -1, -1},            \
   {4, 1, 0, 4, 5, 1},               \
   {3, 2, 0, 3, 5, 2},               \
   {1, 3, 5, -1, -1, -1},            \
   {4, 1, 2, 4, 3, 1},               \
   {3, 0, 4, -1, -1, -1},            \
   {2, 0, 1, -1, -1, -1},            \
   {-1, -1, -1, -1, -1, -1}}

#define GSHELL_TET_NUM_TRI_TABLE {0, 1, 1, 2, 1, 2, 2, 1, 1, 2, 2, 1, 2, 1, 1, 0}

// Triangle cut by the mSDF sign: for the 3-bit code (bit k set when
// msdf(v_k) > 0), up to two triangles that cover the part where msdf > 0, in the
// winding of the input triangle (v0,v1,v2). Entries 0..2 name a corner k,
// entries 3..5 the cut vertex on the triangle edge (k-3, k-2 mod 3).
#define GSHELL_TRI_CUT_TABLE \
  {{-1, -1, -1, -1, -1, -1}, \
   {0, 3, 5, -1, -1, -1},    \
   {1, 4, 3, -1, -1, -1},    \
   {5, 0, 1, 5, 1, 4},       \
   {2, 5, 4, -1, -1, -1},    \
   {4, 2, 0, 4, 0, 3},       \
   {3, 1, 2, 3, 2, 5},       \
   {0, 1, 2, -1, -1, -1}}

#define GSHELL_TRI_CUT_NUM_TABLE {0, 1, 1, 2, 1, 2, 2, 1}

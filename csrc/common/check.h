// Argument checks shared by every op. The Python layer validates first and
// raises TypeError/ValueError; these back it up so that a direct call of
// gshell._C can never read out of bounds.
#pragma once
#include <ATen/ATen.h>

#define GSHELL_CHECK(cond, op, ...) TORCH_CHECK(cond, "gshell.", op, ": ", __VA_ARGS__)

#define GSHELL_CHECK_CONTIGUOUS(op, x) \
  GSHELL_CHECK((x).is_contiguous(), op, "expected ", #x, " to be contiguous")

#define GSHELL_CHECK_DTYPE(op, x, dt)                                              \
  GSHELL_CHECK((x).scalar_type() == (dt), op, "expected ", #x, " of dtype ", dt, \
               " but got ", (x).scalar_type())

#define GSHELL_CHECK_DIM(op, x, d)                                                 \
  GSHELL_CHECK((x).dim() == (d), op, "expected ", #x, " with ", d,                \
               " dimensions but got shape ", (x).sizes())

#define GSHELL_CHECK_SAME_DEVICE(op, x, y)                                          \
  GSHELL_CHECK((x).device() == (y).device(), op, "expected ", #x, " and ", #y,     \
               " on the same device but got ", (x).device(), " and ", (y).device())

#define GSHELL_CHECK_FLOAT(op, x)                                                    \
  GSHELL_CHECK((x).scalar_type() == at::kFloat || (x).scalar_type() == at::kDouble, \
               op, "expected ", #x, " of dtype float32 or float64 but got ",         \
               (x).scalar_type())

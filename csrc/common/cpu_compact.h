// Parallel stream compaction on the CPU. The range [0, n) is split into fixed chunks;
// count(i0, i1) says how many outputs of each of K kinds a chunk makes, an exclusive scan over
// chunks gives each chunk its offsets, and write(i0, i1, offsets) fills them. Chunks do not
// depend on the thread count, so the output order is the input order on any machine:
//
//   ChunkedCompact<1> cc(n);
//   auto total = cc.count([&](int64_t i0, int64_t i1) { ...; return Counts<1>{k}; });
//   auto out = at::empty({total[0]}, ...);
//   cc.write([&](int64_t i0, int64_t i1, Counts<1> offset) { ... });
#pragma once
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace gshell {

template <int K>
using Counts = std::array<int64_t, K>;

template <int K>
class ChunkedCompact {
 public:
  explicit ChunkedCompact(int64_t n, int64_t min_chunk = 1 << 14) : n_(n) {
    const int64_t max_chunks = std::max<int64_t>(1, 16 * at::get_num_threads());
    n_chunks_ = n <= 0 ? 0 : std::max<int64_t>(1, std::min<int64_t>(max_chunks, n / min_chunk));
    offsets_.assign(n_chunks_ + 1, Counts<K>{});
  }

  template <typename CountFn>
  Counts<K> count(CountFn fn) {
    at::parallel_for(0, n_chunks_, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) offsets_[c + 1] = fn(lo(c), lo(c + 1));
    });
    for (int64_t c = 0; c < n_chunks_; ++c)
      for (int k = 0; k < K; ++k) offsets_[c + 1][k] += offsets_[c][k];
    return offsets_.back();
  }

  template <typename WriteFn>
  void write(WriteFn fn) const {
    at::parallel_for(0, n_chunks_, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) fn(lo(c), lo(c + 1), offsets_[c]);
    });
  }

 private:
  int64_t lo(int64_t c) const { return n_ * c / n_chunks_; }
  int64_t n_;
  int64_t n_chunks_;
  std::vector<Counts<K>> offsets_;
};

}  // namespace gshell

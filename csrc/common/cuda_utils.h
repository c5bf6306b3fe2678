// CUDA launch helpers and a device-wide inclusive scan (CUB) on int32/int64 counts.
//
// Only c10/cuda headers are used (not ATen/cuda/CUDAContext.h, which pulls in cuBLAS and
// cuSPARSE headers that a bare CUDA toolkit may lack). CUB ships with the toolkit (under
// include/cccl/ from CUDA 13 on, which nvcc searches by default).
#pragma once
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cstdint>

namespace gshell {

constexpr int kThreads = 256;

inline int num_blocks(int64_t n, int threads = kThreads) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, 1 << 30)));
}

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

// Grid-stride loop over [0, n).
#define GSHELL_CUDA_LOOP(i, n)                                                   \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; \
       i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// In-place inclusive prefix sum of n counts; returns the total (one device sync).
template <typename index_t>
int64_t inclusive_scan_total(index_t* data, int64_t n, cudaStream_t stream,
                             const at::TensorOptions& opts) {
  if (n == 0) return 0;
  size_t temp_bytes = 0;
  C10_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, data, data, n, stream));
  at::Tensor temp = at::empty({static_cast<int64_t>(temp_bytes)}, opts.dtype(at::kByte));
  C10_CUDA_CHECK(cub::DeviceScan::InclusiveSum(temp.data_ptr(), temp_bytes, data, data, n, stream));
  index_t total = 0;
  C10_CUDA_CHECK(cudaMemcpyAsync(&total, data + n - 1, sizeof(index_t), cudaMemcpyDeviceToHost, stream));
  C10_CUDA_CHECK(cudaStreamSynchronize(stream));
  return static_cast<int64_t>(total);
}

// Reads an int error flag written by kernels on `stream` (one device sync).
inline int read_flag(const at::Tensor& flag, cudaStream_t stream) {
  int value = 0;
  C10_CUDA_CHECK(cudaMemcpyAsync(&value, flag.data_ptr<int>(), sizeof(int), cudaMemcpyDeviceToHost, stream));
  C10_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

}  // namespace gshell

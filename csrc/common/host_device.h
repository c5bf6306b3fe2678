#pragma once
#if defined(__CUDACC__)
#define GSHELL_HD __host__ __device__ __forceinline__
#else
#define GSHELL_HD inline
#endif

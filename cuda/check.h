// Status checks, one macro per library. Each failure throws train_gpu::Error with the call's
// text, file:line and the library's own message; only the CLI catches it and prints one line.
//
//   CUDA_CHECK(cudaMemcpyAsync(...));          // cudaError_t
//   CUBLAS_CHECK(cublasSgemm(...));            // cublasStatus_t, message from cublasGetStatusString
//   CUDNN_CHECK(cudnnConvolutionForward(...)); // cudnnStatus_t, message from cudnnGetErrorString
//   CUDA_CHECK(cudaGetLastError());            // after every kernel launch
//
// An out-of-memory error also says how much device memory is free (cudaMemGetInfo), so a user
// can tell a too-large --batch-size from another process holding the GPU.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <sstream>
#include <string>

#include "cuda/cudnn_api.h"
#include "host/common/error.h"

namespace train_gpu::cuda {

// "cuda/layers/conv.cu" from an absolute __FILE__: the part a reader finds in the repository.
inline const char* source_location_file(const char* file) {
  const char* best = file;
  for (const char* marker : {"/cuda/", "/tests/", "/host/"}) {
    const char* found = std::strstr(file, marker);
    if (found != nullptr && found + 1 > best) best = found + 1;
  }
  return best;
}

inline std::string mebibytes(std::size_t bytes) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << double(bytes) / (1024.0 * 1024.0) << " MiB";
  return out.str();
}

// "x MiB free of y MiB on this device", or "" when even that query fails (broken context).
inline std::string device_memory_report() {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    (void)cudaGetLastError();
    return "";
  }
  return mebibytes(free_bytes) + " free of " + mebibytes(total_bytes) + " on this device";
}

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  std::ostringstream out;
  out << "CUDA error at " << source_location_file(file) << ":" << line << " in " << call << ": "
      << cudaGetErrorString(status) << " (" << cudaGetErrorName(status) << ")";
  if (status == cudaErrorMemoryAllocation) {
    const std::string report = device_memory_report();
    if (!report.empty()) out << "; " << report << "; try a smaller --batch-size or free the GPU";
  }
  throw Error(out.str());
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  std::ostringstream out;
  out << "cuBLAS error at " << source_location_file(file) << ":" << line << " in " << call << ": "
      << cublasGetStatusString(status);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) {
    const std::string report = device_memory_report();
    if (!report.empty()) out << "; " << report;
  }
  throw Error(out.str());
}

[[noreturn]] inline void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  std::ostringstream out;
  out << "cuDNN error at " << source_location_file(file) << ":" << line << " in " << call << ": "
      << cudnnGetErrorString(status);
  if (status == CUDNN_STATUS_ALLOC_FAILED) {
    const std::string report = device_memory_report();
    if (!report.empty()) out << "; " << report;
  }
  throw Error(out.str());
}

}  // namespace train_gpu::cuda

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    const cudaError_t tg_cuda_status_ = (call);                                            \
    if (tg_cuda_status_ != cudaSuccess)                                                    \
      ::train_gpu::cuda::throw_cuda_error(tg_cuda_status_, #call, __FILE__, __LINE__);     \
  } while (0)

#define CUBLAS_CHECK(call)                                                                 \
  do {                                                                                     \
    const cublasStatus_t tg_cublas_status_ = (call);                                       \
    if (tg_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                        \
      ::train_gpu::cuda::throw_cublas_error(tg_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUDNN_CHECK(call)                                                                  \
  do {                                                                                     \
    const cudnnStatus_t tg_cudnn_status_ = (call);                                         \
    if (tg_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                          \
      ::train_gpu::cuda::throw_cudnn_error(tg_cudnn_status_, #call, __FILE__, __LINE__);   \
  } while (0)

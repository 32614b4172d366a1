// RAII for the library objects the backend creates once: streams, events, the cuDNN and cuBLAS
// handles and cuDNN descriptors, each a unique_ptr whose deleter calls the matching destroy
// function. Deleters never throw; a failed destroy is reported on stderr (it can only happen
// with a broken context, and a destructor may run while an Error unwinds).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <type_traits>

#include "cuda/check.h"
#include "cuda/cudnn_api.h"

namespace train_gpu::cuda {

namespace detail {

inline void report_destroy_failure(const char* what, const char* message) noexcept {
  std::fprintf(stderr, "train_gpu: warning: destroying %s failed: %s\n", what, message);
}

struct StreamDeleter {
  void operator()(cudaStream_t stream) const noexcept {
    const cudaError_t status = cudaStreamDestroy(stream);
    if (status != cudaSuccess) report_destroy_failure("a CUDA stream", cudaGetErrorString(status));
  }
};
struct EventDeleter {
  void operator()(cudaEvent_t event) const noexcept {
    const cudaError_t status = cudaEventDestroy(event);
    if (status != cudaSuccess) report_destroy_failure("a CUDA event", cudaGetErrorString(status));
  }
};
struct CudnnDeleter {
  void operator()(cudnnHandle_t handle) const noexcept {
    const cudnnStatus_t status = cudnnDestroy(handle);
    if (status != CUDNN_STATUS_SUCCESS) report_destroy_failure("the cuDNN handle", cudnnGetErrorString(status));
  }
};
struct CublasDeleter {
  void operator()(cublasHandle_t handle) const noexcept {
    const cublasStatus_t status = cublasDestroy(handle);
    if (status != CUBLAS_STATUS_SUCCESS) report_destroy_failure("the cuBLAS handle", cublasGetStatusString(status));
  }
};
struct TensorDescriptorDeleter {
  void operator()(cudnnTensorDescriptor_t descriptor) const noexcept {
    const cudnnStatus_t status = cudnnDestroyTensorDescriptor(descriptor);
    if (status != CUDNN_STATUS_SUCCESS) report_destroy_failure("a cuDNN tensor descriptor", cudnnGetErrorString(status));
  }
};
struct FilterDescriptorDeleter {
  void operator()(cudnnFilterDescriptor_t descriptor) const noexcept {
    const cudnnStatus_t status = cudnnDestroyFilterDescriptor(descriptor);
    if (status != CUDNN_STATUS_SUCCESS) report_destroy_failure("a cuDNN filter descriptor", cudnnGetErrorString(status));
  }
};
struct ConvolutionDescriptorDeleter {
  void operator()(cudnnConvolutionDescriptor_t descriptor) const noexcept {
    const cudnnStatus_t status = cudnnDestroyConvolutionDescriptor(descriptor);
    if (status != CUDNN_STATUS_SUCCESS) {
      report_destroy_failure("a cuDNN convolution descriptor", cudnnGetErrorString(status));
    }
  }
};

struct PoolingDescriptorDeleter {
  void operator()(cudnnPoolingDescriptor_t descriptor) const noexcept {
    const cudnnStatus_t status = cudnnDestroyPoolingDescriptor(descriptor);
    if (status != CUDNN_STATUS_SUCCESS) report_destroy_failure("a cuDNN pooling descriptor", cudnnGetErrorString(status));
  }
};

}  // namespace detail

using Stream = std::unique_ptr<std::remove_pointer_t<cudaStream_t>, detail::StreamDeleter>;
using Event = std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, detail::EventDeleter>;
using CudnnHandle = std::unique_ptr<std::remove_pointer_t<cudnnHandle_t>, detail::CudnnDeleter>;
using CublasHandle = std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, detail::CublasDeleter>;
using TensorDescriptor = std::unique_ptr<std::remove_pointer_t<cudnnTensorDescriptor_t>, detail::TensorDescriptorDeleter>;
using FilterDescriptor = std::unique_ptr<std::remove_pointer_t<cudnnFilterDescriptor_t>, detail::FilterDescriptorDeleter>;
using ConvolutionDescriptor =
    std::unique_ptr<std::remove_pointer_t<cudnnConvolutionDescriptor_t>, detail::ConvolutionDescriptorDeleter>;
using PoolingDescriptor =
    std::unique_ptr<std::remove_pointer_t<cudnnPoolingDescriptor_t>, detail::PoolingDescriptorDeleter>;

// A stream that does not synchronize with the legacy default stream, so nothing another
// library enqueues there stalls our pipeline.
inline Stream make_stream() {
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return Stream(stream);
}

// Events order streams; timing is off because it makes record/wait cheaper.
inline Event make_event() {
  cudaEvent_t event = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return Event(event);
}

// An event that records time, for measuring on the device.
inline Event make_timing_event() {
  cudaEvent_t event = nullptr;
  CUDA_CHECK(cudaEventCreate(&event));
  return Event(event);
}

inline CudnnHandle make_cudnn_handle(cudaStream_t stream) {
  cudnnHandle_t handle = nullptr;
  CUDNN_CHECK(cudnnCreate(&handle));
  CudnnHandle owned(handle);
  CUDNN_CHECK(cudnnSetStream(handle, stream));
  return owned;
}

inline CublasHandle make_cublas_handle(cudaStream_t stream) {
  cublasHandle_t handle = nullptr;
  CUBLAS_CHECK(cublasCreate(&handle));
  CublasHandle owned(handle);
  CUBLAS_CHECK(cublasSetStream(handle, stream));
  return owned;
}

// The settings both backends train with: a fixed workspace (so cuBLAS never allocates lazily
// inside a step; it must outlive the handle's use), FP32 math for parity with the CPU backend
// unless TF32 is asked for, host scalars, and no atomics (bitwise repeatable sums).
inline void configure_training_cublas(cublasHandle_t handle, void* workspace, std::size_t workspace_bytes, bool tf32) {
  CUBLAS_CHECK(cublasSetWorkspace(handle, workspace, workspace_bytes));
  CUBLAS_CHECK(cublasSetMathMode(handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  CUBLAS_CHECK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));
  CUBLAS_CHECK(cublasSetAtomicsMode(handle, CUBLAS_ATOMICS_NOT_ALLOWED));
}

inline TensorDescriptor make_tensor_descriptor() {
  cudnnTensorDescriptor_t descriptor = nullptr;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&descriptor));
  return TensorDescriptor(descriptor);
}

inline FilterDescriptor make_filter_descriptor() {
  cudnnFilterDescriptor_t descriptor = nullptr;
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&descriptor));
  return FilterDescriptor(descriptor);
}

inline ConvolutionDescriptor make_convolution_descriptor() {
  cudnnConvolutionDescriptor_t descriptor = nullptr;
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&descriptor));
  return ConvolutionDescriptor(descriptor);
}

inline PoolingDescriptor make_pooling_descriptor() {
  cudnnPoolingDescriptor_t descriptor = nullptr;
  CUDNN_CHECK(cudnnCreatePoolingDescriptor(&descriptor));
  return PoolingDescriptor(descriptor);
}

}  // namespace train_gpu::cuda

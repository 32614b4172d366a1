// Owning, move-only buffers: DeviceBuffer<T> (cudaMalloc) and PinnedBuffer<T> (page-locked
// host memory, cudaMallocHost, so cudaMemcpyAsync from it is truly asynchronous). Copying is
// deleted to prevent performance accidents (a silent 50 MB duplicate); destructors never throw
// and report a failed free on stderr, since a destructor may run while an Error unwinds.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

#include "cuda/check.h"

namespace train_gpu::cuda {

namespace detail {

inline void report_free_failure(const char* what, cudaError_t status) noexcept {
  std::fprintf(stderr, "train_gpu: warning: freeing %s failed: %s\n", what, cudaGetErrorString(status));
}

// The two kinds of memory differ only in how they are obtained, released and explained.
struct DeviceMemory {
  static constexpr const char* kDefaultName = "device buffer";
  static void* allocate(std::size_t bytes, const char* what) {
    void* data = nullptr;
    const cudaError_t status = cudaMalloc(&data, bytes);
    if (status == cudaSuccess) return data;
    (void)cudaGetLastError();  // an allocation failure is not sticky; leave the context clean
    const std::string report = device_memory_report();
    throw Error(std::string("cudaMalloc of ") + what + " failed: " + cudaGetErrorString(status) + "; asked for " +
                mebibytes(bytes) + (report.empty() ? "" : ", " + report) +
                "; try a smaller --batch-size, --loader pinned, or free the GPU");
  }
  static void release(void* data) noexcept {
    const cudaError_t status = cudaFree(data);
    if (status != cudaSuccess) report_free_failure("device memory", status);
  }
};

struct PinnedMemory {
  static constexpr const char* kDefaultName = "pinned host buffer";
  static void* allocate(std::size_t bytes, const char* what) {
    void* data = nullptr;
    const cudaError_t status = cudaMallocHost(&data, bytes);
    if (status == cudaSuccess) return data;
    (void)cudaGetLastError();
    throw Error(std::string("cudaMallocHost of ") + what + " (" + mebibytes(bytes) + ") failed: " +
                cudaGetErrorString(status) + "; the host cannot page-lock that much memory; try --loader device");
  }
  static void release(void* data) noexcept {
    const cudaError_t status = cudaFreeHost(data);
    if (status != cudaSuccess) report_free_failure("pinned host memory", status);
  }
};

}  // namespace detail

template <typename T, typename Memory>
class CudaBuffer {
 public:
  CudaBuffer() = default;
  // Uninitialized memory for `count` elements; `what` names it in an out-of-memory error.
  explicit CudaBuffer(std::size_t count, const char* what = Memory::kDefaultName) : count_(count) {
    if (count == 0) return;
    data_ = static_cast<T*>(Memory::allocate(bytes(), what));
  }
  ~CudaBuffer() { release(); }

  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  CudaBuffer(CudaBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  CudaBuffer& operator=(CudaBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  void release() noexcept {
    if (data_ != nullptr) Memory::release(data_);
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

template <typename T>
using DeviceBuffer = CudaBuffer<T, detail::DeviceMemory>;
template <typename T>
using PinnedBuffer = CudaBuffer<T, detail::PinnedMemory>;

}  // namespace train_gpu::cuda

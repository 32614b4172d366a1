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

}  // namespace detail

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Uninitialized device memory for `count` elements; `what` names it in an out-of-memory error.
  explicit DeviceBuffer(std::size_t count, const char* what = "device buffer") : count_(count) {
    if (count == 0) return;
    const cudaError_t status = cudaMalloc(reinterpret_cast<void**>(&data_), bytes());
    if (status != cudaSuccess) {
      data_ = nullptr;
      (void)cudaGetLastError();  // an allocation failure is not sticky; leave the context clean
      const std::string report = device_memory_report();
      throw Error(std::string("cudaMalloc of ") + what + " failed: " + cudaGetErrorString(status) + "; asked for " +
                  mebibytes(bytes()) + (report.empty() ? "" : ", " + report) +
                  "; try a smaller --batch-size, --loader pinned, or free the GPU");
    }
  }
  ~DeviceBuffer() { release(); }

  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
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
    if (data_ == nullptr) return;
    const cudaError_t status = cudaFree(data_);
    if (status != cudaSuccess) detail::report_free_failure("device memory", status);
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t count, const char* what = "pinned host buffer") : count_(count) {
    if (count == 0) return;
    const cudaError_t status = cudaMallocHost(reinterpret_cast<void**>(&data_), bytes());
    if (status != cudaSuccess) {
      data_ = nullptr;
      (void)cudaGetLastError();
      throw Error(std::string("cudaMallocHost of ") + what + " (" + mebibytes(bytes()) +
                  ") failed: " + cudaGetErrorString(status) +
                  "; the host cannot page-lock that much memory; try --loader device");
    }
  }
  ~PinnedBuffer() { release(); }

  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
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
    if (data_ == nullptr) return;
    const cudaError_t status = cudaFreeHost(data_);
    if (status != cudaSuccess) detail::report_free_failure("pinned host memory", status);
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace train_gpu::cuda

// Shared by the GPU tests: a fixture that skips (never fails) where no CUDA device answers, and
// small helpers to move vectors to and from the device.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda/check.h"
#include "cuda/cuda_backend.h"
#include "cuda/memory.h"

namespace train_gpu::cuda::testing {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const DeviceProbe probe = probe_devices();
    if (probe.device_count == 0) GTEST_SKIP() << "no CUDA device: " << probe.error;
    CUDA_CHECK(cudaSetDevice(0));
  }
};

template <typename T>
DeviceBuffer<T> upload(const std::vector<T>& values) {
  DeviceBuffer<T> buffer(values.size());
  CUDA_CHECK(cudaMemcpy(buffer.data(), values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice));
  // A pageable H2D cudaMemcpy may return before its DMA lands, and the tests read these buffers
  // from non-blocking streams that do not wait for the legacy default stream.
  CUDA_CHECK(cudaDeviceSynchronize());
  return buffer;
}

template <typename T>
std::vector<T> download(const DeviceBuffer<T>& buffer) {
  std::vector<T> values(buffer.size());
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(values.data(), buffer.data(), buffer.bytes(), cudaMemcpyDeviceToHost));
  return values;
}

// A device buffer filled with NaN, so an element a kernel fails to write fails the comparison.
inline DeviceBuffer<float> poisoned(std::size_t count) {
  return upload(std::vector<float>(count, std::nanf("")));
}

// |a - b| <= atol + rtol * |ref| for every element; reports the first few offenders.
inline ::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<float>& reference,
                                            double rtol, double atol) {
  if (actual.size() != reference.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << reference.size();
  }
  std::size_t bad = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i];
    const double r = reference[i];
    if (!(std::fabs(a - r) <= atol + rtol * std::fabs(r))) {
      if (bad < 5) failure << "[" << i << "] " << a << " vs reference " << r << "; ";
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return failure << bad << " of " << actual.size() << " elements outside atol " << atol << " + rtol " << rtol;
}

// The same float bits in every element (so -0 vs 0 or two NaN payloads differ); reports the
// first few offenders.
inline ::testing::AssertionResult bitwise_equal(const std::vector<float>& actual, const std::vector<float>& reference) {
  if (actual.size() != reference.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << reference.size();
  }
  std::size_t bad = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (std::memcmp(&actual[i], &reference[i], sizeof(float)) != 0) {
      if (bad < 5) {
        char text[96];  // hex floats: decimal printing would show two different values as equal
        std::snprintf(text, sizeof text, "[%zu] %a vs reference %a; ", i, double(actual[i]), double(reference[i]));
        failure << text;
      }
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return failure << bad << " of " << actual.size() << " elements differ bitwise";
}

}  // namespace train_gpu::cuda::testing

// The device half of the graph path's bookkeeping: math::adam_step_size and advance_counters run
// in a kernel must give exactly the host's bits (cuda/math/rounded_float.h), or a replayed
// graph and an eager launch would update the weights differently. Skipped without a device.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cuda/check.h"
#include "cuda/math/adam_math.h"
#include "cuda/math/step_counters.h"
#include "gpu/cuda_test_fixture.h"

namespace train_gpu::cuda {
namespace {

using testing::download;
using testing::upload;

class StepMath : public testing::CudaTest {};

__global__ void step_sizes_kernel(const int64_t* steps, int count, float learning_rate, float beta1, float beta2,
                                  float* out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < count) out[i] = math::adam_step_size(learning_rate, beta1, beta2, steps[i]);
}

__global__ void advance_kernel(math::StepCounters* counters, math::StepAdvance advance, int times) {
  for (int i = 0; i < times; ++i) math::advance_counters(*counters, advance);
}

TEST_F(StepMath, TheDevicesStepSizeIsTheHostsToTheBit) {
  std::vector<int64_t> steps;
  for (int64_t t = 1; t <= 100000; ++t) steps.push_back(t);
  for (int64_t t = 100000; t < (int64_t{1} << 40); t = t * 3 + 1) steps.push_back(t);
  DeviceBuffer<int64_t> d_steps = upload(steps);
  const int count = static_cast<int>(steps.size());
  struct Hyper { float lr, beta1, beta2; };
  for (const Hyper h : {Hyper{1e-3f, 0.9f, 0.999f}, Hyper{3e-4f, 0.8f, 0.95f}, Hyper{1e-2f, 0.5f, 0.9999f}}) {
    DeviceBuffer<float> d_sizes(steps.size());
    step_sizes_kernel<<<(count + 255) / 256, 256>>>(d_steps.data(), count, h.lr, h.beta1, h.beta2, d_sizes.data());
    CUDA_CHECK(cudaGetLastError());
    const std::vector<float> device = download(d_sizes);
    int mismatches = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const float host = math::adam_step_size(h.lr, h.beta1, h.beta2, steps[i]);
      if (device[i] != host && ++mismatches <= 5) {
        ADD_FAILURE() << "t = " << steps[i] << ": device " << device[i] << ", host " << host;
      }
    }
    EXPECT_EQ(mismatches, 0) << "beta2 " << h.beta2;
  }
}

TEST_F(StepMath, AdvancingOnTheDeviceMatchesTheHost) {
  math::StepCounters start{};
  start.cursor[0] = 64;
  start.adam_step = 100;
  math::StepAdvance advance;
  advance.split = 0;
  advance.count = 64;
  advance.adam = true;
  advance.optimizer = math::OptimizerConfig{};  // Adam at Keras's defaults: lr 1e-3, betas 0.9 and 0.999
  DeviceBuffer<math::StepCounters> counters = upload(std::vector<math::StepCounters>{start});
  advance_kernel<<<1, 1>>>(counters.data(), advance, 937);
  CUDA_CHECK(cudaGetLastError());
  math::StepCounters host = start;
  for (int i = 0; i < 937; ++i) math::advance_counters(host, advance);
  const math::StepCounters device = download(counters)[0];
  EXPECT_EQ(device.cursor[0], host.cursor[0]);
  EXPECT_EQ(device.cursor[1], host.cursor[1]);
  EXPECT_EQ(device.adam_step, host.adam_step);
  EXPECT_EQ(device.adam_step_size, host.adam_step_size);
}

}  // namespace
}  // namespace train_gpu::cuda

// The AdamW, SGD and RMSprop kernels (cuda/kernels/optimizers.cu) against the CPU backend's arena
// loop (host/model/cpu_optimizer.h) on the same inputs: both run the same per-element functions,
// each operation rounded on its own (cuda/math/rounded_float.h), so the same bits -- as
// CudaKernels.AdamMatchesTheSharedUpdateBitwise checks for Adam. Step values are passed by value
// (eager launches) and from device memory (graph replays). Skipped without a device.
#include <gtest/gtest.h>

#include <vector>

#include "cuda/kernels/optimizers.h"
#include "cuda/math/optimizer_math.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/random_inputs.h"
#include "host/model/cpu_optimizer.h"

namespace train_gpu::cuda {
namespace {

using testing::bitwise_equal;
using testing::download;
using testing::uniform;
using testing::upload;

class OptimizerKernels : public testing::CudaTest {};

TEST_F(OptimizerKernels, EveryOptimizerMatchesTheCpuLoopBitwise) {
  constexpr std::size_t kCount = 100003;  // not a multiple of the block size
  for (const math::OptimizerKind kind : {math::OptimizerKind::kAdamW, math::OptimizerKind::kSgd, math::OptimizerKind::kRmsprop}) {
    for (const bool on_device : {false, true}) {
      math::OptimizerConfig config;
      config.kind = kind;
      config.momentum = 0.9f;
      config.nesterov = kind == math::OptimizerKind::kSgd;
      std::vector<float> parameters = uniform(kCount, -0.1f, 0.1f, 4);
      const std::vector<float> gradients = uniform(kCount, -1e-2f, 1e-2f, 5);
      std::vector<float> slot0 = uniform(kCount, -1e-3f, 1e-3f, 6);
      std::vector<float> slot1 = uniform(kCount, 0.0f, 1e-5f, 7);
      DeviceBuffer<float> d_parameters = upload(parameters), d_gradients = upload(gradients), d_slot0 = upload(slot0),
                          d_slot1 = upload(slot1);
      const math::OptimizerStep step = math::optimizer_step(config, 3e-3f, 7);
      DeviceBuffer<float> d_step = upload(std::vector<float>{step.learning_rate, step.step_size});
      const math::PerStep<float> learning_rate =
          on_device ? math::per_step_on_device(d_step.data()) : math::per_step_value(step.learning_rate);
      const math::PerStep<float> step_size =
          on_device ? math::per_step_on_device(d_step.data() + 1) : math::per_step_value(step.step_size);
      launch_optimizer(config, d_parameters.data(), d_gradients.data(), d_slot0.data(), d_slot1.data(), kCount,
                       learning_rate, step_size, nullptr);
      cpu::optimizer_update(config, step, 1.0f, 0, kCount, parameters.data(), gradients.data(), slot0.data(), slot1.data());
      EXPECT_TRUE(bitwise_equal(download(d_parameters), parameters)) << int(kind) << " on_device " << on_device;
      EXPECT_TRUE(bitwise_equal(download(d_slot0), slot0)) << int(kind) << " on_device " << on_device;
      EXPECT_TRUE(bitwise_equal(download(d_slot1), slot1)) << int(kind) << " on_device " << on_device;
    }
  }
}

}  // namespace
}  // namespace train_gpu::cuda

// Our optimizers' per-element math (cuda/math/sgd_math.h, rmsprop_math.h, adamw_math.h) against
// Keras's own optimizers, run by tests/support/keras_optimizer_steps.py on one weight for three
// steps. Keras's defaults and the hyperparameters there are Keras's: only the formula is compared.
// Tolerance 1e-6 absolute on weights near 1 (16 float32 ulps): SGD and RMSprop round the same
// operations in the same order; Keras 3's Adam step (inside AdamW) is written as
// m += (g - m)(1 - b1) and v += (g^2 - v)(1 - b2) rather than TF 2's b1 m + (1 - b1) g, which
// moves the update (~1e-3) by a few of its own ulps, far below 1e-6. Needs
// TRAIN_GPU_KERAS_PYTHON (a Python with keras); skipped otherwise.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/math/adamw_math.h"
#include "cuda/math/optimizer_math.h"
#include "cuda/math/rmsprop_math.h"
#include "cuda/math/sgd_math.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

constexpr float kGradients[3] = {0.5f, -0.25f, 1.0f};

// Ours, on the same weight, for each name the script prints.
std::vector<float> our_steps(const std::string& name) {
  std::vector<float> weights;
  float w = 1.0f, slot0 = 0.0f, slot1 = 0.0f;
  for (int t = 1; t <= 3; ++t) {
    const float g = kGradients[t - 1];
    if (name == "sgd") w = math::sgd_update(w, g, slot0, 0.1f, 0.0f, false);
    if (name == "sgd_momentum") w = math::sgd_update(w, g, slot0, 0.1f, 0.9f, false);
    if (name == "sgd_nesterov") w = math::sgd_update(w, g, slot0, 0.1f, 0.9f, true);
    if (name == "rmsprop") w = math::rmsprop_update(w, g, slot1, slot0, 0.01f, 0.9f, 0.0f, 1e-7f);
    if (name == "rmsprop_momentum") w = math::rmsprop_update(w, g, slot1, slot0, 0.01f, 0.9f, 0.5f, 1e-7f);
    if (name == "adamw") {
      math::OptimizerConfig adamw;
      adamw.kind = math::OptimizerKind::kAdamW;
      const math::OptimizerStep step = math::optimizer_step(adamw, 1e-3f, t);
      w = math::adamw_update(w, g, slot0, slot1, 0.9f, 0.999f, step.step_size, 1e-7f, step.learning_rate, 0.004f);
    }
    weights.push_back(w);
  }
  return weights;
}

TEST(KerasOptimizers, OurStepsAreKerassStepsForEveryOptimizer) {
  const std::string lacking = t::python_lacking(TRAIN_GPU_KERAS_PYTHON, "numpy, keras",
                                                "configure with -DTRAIN_GPU_KERAS_PYTHON=<a python with keras>");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  const t::MergedCommandResult result = t::run_command_merged(
      t::shell_quote(TRAIN_GPU_KERAS_PYTHON) + " " +
      t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/keras_optimizer_steps.py") + " 2>/dev/null");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  int compared = 0;
  for (const std::string& line : t::lines_of(result.output)) {
    std::istringstream fields(line);
    std::string name;
    double keras[3];
    if (!(fields >> name >> keras[0] >> keras[1] >> keras[2])) continue;  // a stray log line
    const std::vector<float> ours = our_steps(name);
    for (int step = 0; step < 3; ++step) EXPECT_NEAR(ours[step], keras[step], 1e-6) << name << " step " << step + 1;
    ++compared;
  }
  EXPECT_EQ(compared, 6) << result.output;
}

}  // namespace
}  // namespace train_gpu

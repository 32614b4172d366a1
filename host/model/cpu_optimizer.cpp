#include "host/model/cpu_optimizer.h"

#include "cuda/math/adam_math.h"
#include "cuda/math/adamw_math.h"
#include "cuda/math/rmsprop_math.h"
#include "cuda/math/rounded_float.h"
#include "cuda/math/sgd_math.h"

namespace train_gpu::cpu {

namespace {

// One loop per optimizer and per clipping, hyperparameters as locals: read through a reference
// they might alias the stores, which would keep the loop scalar; as locals (and with
// -fno-math-errno, host/CMakeLists.txt) the loop vectorizes. The unclipped Adam loop is the one
// the default run spends its update in.
template <bool kScaled>
float gradient_at(const float* gradient, std::size_t i, float scale) {
  return kScaled ? math::mul_rn(gradient[i], scale) : gradient[i];
}

template <bool kScaled>
void adam_loop(const OptimizerConfig config, const math::OptimizerStep step, float scale, std::size_t begin,
               std::size_t end, float* weights, const float* gradient, float* m, float* v) {
  const float beta1 = config.beta1, beta2 = config.beta2, epsilon = config.epsilon, step_size = step.step_size;
  if (config.kind == OptimizerKind::kAdamW) {
    const float learning_rate = step.learning_rate, weight_decay = config.weight_decay;
    for (std::size_t i = begin; i < end; ++i) {
      weights[i] = math::adamw_update(weights[i], gradient_at<kScaled>(gradient, i, scale), m[i], v[i], beta1, beta2,
                                      step_size, epsilon, learning_rate, weight_decay);
    }
    return;
  }
  for (std::size_t i = begin; i < end; ++i) {
    weights[i] = math::adam_update(weights[i], gradient_at<kScaled>(gradient, i, scale), m[i], v[i], beta1, beta2,
                                   step_size, epsilon);
  }
}

template <bool kScaled>
void sgd_loop(const OptimizerConfig config, const math::OptimizerStep step, float scale, std::size_t begin,
              std::size_t end, float* weights, const float* gradient, float* velocity) {
  const float learning_rate = step.learning_rate, momentum = config.momentum;
  const bool nesterov = config.nesterov;
  for (std::size_t i = begin; i < end; ++i) {
    weights[i] = math::sgd_update(weights[i], gradient_at<kScaled>(gradient, i, scale), velocity[i], learning_rate,
                                  momentum, nesterov);
  }
}

template <bool kScaled>
void rmsprop_loop(const OptimizerConfig config, const math::OptimizerStep step, float scale, std::size_t begin,
                  std::size_t end, float* weights, const float* gradient, float* momentum_slot, float* velocity) {
  const float learning_rate = step.learning_rate, rho = config.rho, momentum = config.momentum,
              epsilon = config.epsilon;
  for (std::size_t i = begin; i < end; ++i) {
    weights[i] = math::rmsprop_update(weights[i], gradient_at<kScaled>(gradient, i, scale), velocity[i],
                                      momentum_slot[i], learning_rate, rho, momentum, epsilon);
  }
}

template <bool kScaled>
void update(const OptimizerConfig& config, const math::OptimizerStep& step, float scale, std::size_t begin,
            std::size_t end, float* weights, const float* gradient, float* slot0, float* slot1) {
  switch (config.kind) {
    case OptimizerKind::kAdam:
    case OptimizerKind::kAdamW:
      adam_loop<kScaled>(config, step, scale, begin, end, weights, gradient, slot0, slot1);
      return;
    case OptimizerKind::kSgd:
      sgd_loop<kScaled>(config, step, scale, begin, end, weights, gradient, slot0);
      return;
    case OptimizerKind::kRmsprop:
      rmsprop_loop<kScaled>(config, step, scale, begin, end, weights, gradient, slot0, slot1);
      return;
  }
}

}  // namespace

void optimizer_update(const OptimizerConfig& config, const math::OptimizerStep& step, float gradient_scale,
                      std::size_t begin, std::size_t end, float* weights, const float* gradient, float* slot0,
                      float* slot1) {
  if (gradient_scale == 1.0f) {
    update<false>(config, step, gradient_scale, begin, end, weights, gradient, slot0, slot1);
  } else {
    update<true>(config, step, gradient_scale, begin, end, weights, gradient, slot0, slot1);
  }
}

double sum_of_squares(const float* values, std::size_t count) {
  double sum = 0.0;
  for (std::size_t i = 0; i < count; ++i) sum += double(values[i]) * double(values[i]);
  return sum;
}

}  // namespace train_gpu::cpu

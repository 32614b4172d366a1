// --clip-norm and --label-smoothing on the GPU: the gradient-norm reduction and the clipped
// optimizer kernels (cuda/kernels/gradient_clip.cu, adam.cu, optimizers.cu) against the shared
// math run on the host (cuda/math/clip_math.h, host/model/cpu_optimizer.h), the smoothed
// softmax-CE kernel against math::softmax_xent_row, and whole training steps of the CUDA backend
// against the CPU backend (the oracle), one step and several, clipping active and inactive,
// smoothing 0.1, both kernel sets and graph replays. Skipped where no CUDA device answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/adam.h"
#include "cuda/kernels/gradient_clip.h"
#include "cuda/kernels/optimizers.h"
#include "cuda/kernels/softmax_xent.h"
#include "cuda/math/clip_math.h"
#include "cuda/math/optimizer_math.h"
#include "cuda/math/softmax_xent_math.h"
#include "gpu/backend_inputs.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/one_step_tolerance.h"
#include "gpu/random_inputs.h"
#include "host/model/cpu_backend.h"
#include "host/model/cpu_optimizer.h"
#include "host/model/initializer.h"
#include "host/model/model_spec.h"

namespace train_gpu {
namespace {

using cuda::testing::all_close;
using cuda::testing::bitwise_equal;
using cuda::testing::direct_sum_algorithms;
using cuda::testing::download;
using cuda::testing::one_step_close;
using cuda::testing::random_images;
using cuda::testing::routed_gradient_bound;
using cuda::testing::shuffled;
using cuda::testing::uniform;
using cuda::testing::upload;
using cuda::DeviceBuffer;
using cuda::DeviceTotals;

class ClipAndSmoothingTest : public cuda::testing::CudaTest {};

float read_scale(const cuda::GradientClip& clip) {
  float scale = 0;
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(&scale, clip.scale(), sizeof scale, cudaMemcpyDeviceToHost));
  return scale;
}

// ---------------------------------------------------------------------------------------------
// Kernels

TEST_F(ClipAndSmoothingTest, TheDeviceNormGivesTheHostsClippingFactor) {
  const std::size_t count = model::kParameterCount;  // the tutorial's arena, not a multiple of 256
  const std::vector<float> gradients = uniform(count, -1e-2f, 1e-2f, 31);
  const double squares = cpu::sum_of_squares(gradients.data(), count);
  const DeviceBuffer<float> d_gradients = upload(gradients);
  // Active: a bound a quarter of the norm. Both sums are of the same exact double squares, in
  // another order: ~7e5 additions of positive terms, each rounding by <= 2^-53 of the running
  // sum, so they differ by < 7e5 * 1.1e-16 = 8e-11 relative, and the float factor by at most the
  // one ulp that a value near a rounding boundary can flip.
  const float bound = static_cast<float>(std::sqrt(squares) / 4.0);
  cuda::GradientClip clip(bound, nullptr);
  clip.enqueue(d_gradients.data(), count, nullptr);
  const float expected = math::clip_scale(squares, bound);
  ASSERT_NEAR(expected, 0.25f, 1e-6f);
  const float first = read_scale(clip);
  EXPECT_LE(std::fabs(first - expected), std::nextafter(expected, 1.0f) - expected) << first << " vs " << expected;
  // A second launch (the arrival counter re-armed) gives the same bits: the sum's order is fixed.
  clip.enqueue(d_gradients.data(), count, nullptr);
  EXPECT_EQ(read_scale(clip), first);
  // Inactive: a bound above the norm leaves exactly 1.
  cuda::GradientClip loose(static_cast<float>(std::sqrt(squares) * 2.0), nullptr);
  loose.enqueue(d_gradients.data(), count, nullptr);
  EXPECT_EQ(read_scale(loose), 1.0f);
}

TEST_F(ClipAndSmoothingTest, ClippedOptimizerKernelsMatchTheCpuLoopBitwise) {
  // The same shared per-element math and the same factor (the device's, read back) on both sides,
  // each operation rounded on its own: the same bits, for Adam's kernel and the others'.
  constexpr std::size_t kCount = 100003;
  const std::vector<float> gradients = uniform(kCount, -1e-2f, 1e-2f, 32);
  const DeviceBuffer<float> d_gradients = upload(gradients);
  cuda::GradientClip clip(0.1f, nullptr);
  clip.enqueue(d_gradients.data(), kCount, nullptr);
  const float scale = read_scale(clip);
  ASSERT_LT(scale, 1.0f);  // norm ~ 1e-2 * sqrt(kCount / 3) = 1.8 > 0.1: clipping is active
  for (const math::OptimizerKind kind : {math::OptimizerKind::kAdam, math::OptimizerKind::kAdamW,
                                         math::OptimizerKind::kSgd, math::OptimizerKind::kRmsprop}) {
    math::OptimizerConfig config;
    config.kind = kind;
    config.momentum = kind == math::OptimizerKind::kAdam || kind == math::OptimizerKind::kAdamW ? 0.0f : 0.9f;
    std::vector<float> parameters = uniform(kCount, -0.1f, 0.1f, 33);
    std::vector<float> slot0 = uniform(kCount, -1e-3f, 1e-3f, 34);
    std::vector<float> slot1 = uniform(kCount, 0.0f, 1e-5f, 35);
    DeviceBuffer<float> d_parameters = upload(parameters), d_slot0 = upload(slot0), d_slot1 = upload(slot1);
    const math::OptimizerStep step = math::optimizer_step(config, 3e-3f, 7);
    if (kind == math::OptimizerKind::kAdam) {
      cuda::launch_adam(d_parameters.data(), d_gradients.data(), d_slot0.data(), d_slot1.data(), kCount, config.beta1,
                        config.beta2, step.step_size, config.epsilon, nullptr, nullptr, clip.scale());
    } else {
      cuda::launch_optimizer(config, d_parameters.data(), d_gradients.data(), d_slot0.data(), d_slot1.data(), kCount,
                             math::per_step_value(step.learning_rate), math::per_step_value(step.step_size), nullptr,
                             nullptr, clip.scale());
    }
    cpu::optimizer_update(config, step, scale, 0, kCount, parameters.data(), gradients.data(), slot0.data(),
                          slot1.data());
    EXPECT_TRUE(bitwise_equal(download(d_parameters), parameters)) << int(kind);
    EXPECT_TRUE(bitwise_equal(download(d_slot0), slot0)) << int(kind);
    EXPECT_TRUE(bitwise_equal(download(d_slot1), slot1)) << int(kind);
  }
}

TEST_F(ClipAndSmoothingTest, SmoothedSoftmaxXentMatchesTheSharedRowMath) {
  constexpr int kRows = 300;
  constexpr float kSmoothing = 0.1f;
  const std::vector<float> logits = uniform(kRows * 10, -6.0f, 6.0f, 36);
  // Half the labels are the row's largest logit: there -log p_label is far below the mean over
  // the classes, which smoothing mixes in, so the smoothed loss stands well apart from the plain
  // one (with labels independent of the logits both have the same expectation).
  std::vector<uint8_t> labels(kRows);
  for (int i = 0; i < kRows; ++i) {
    const float* row = logits.data() + i * 10;
    labels[static_cast<std::size_t>(i)] =
        static_cast<uint8_t>(i % 2 == 0 ? std::max_element(row, row + 10) - row : (i * 3) % 10);
  }
  std::vector<float> expected_dlogits(kRows * 10);
  double loss_sum = 0, plain_loss_sum = 0;
  for (int i = 0; i < kRows; ++i) {
    const float* row = logits.data() + i * 10;
    const int label = labels[static_cast<std::size_t>(i)];
    loss_sum += math::softmax_xent_row(row, 10, label, 1.0f / kRows, &expected_dlogits[i * 10], kSmoothing).loss;
    plain_loss_sum += math::softmax_xent_row(row, 10, label, 1.0f / kRows, nullptr).loss;
  }
  const DeviceBuffer<float> d_logits = upload(logits);
  const DeviceBuffer<uint8_t> d_labels = upload(labels);
  DeviceBuffer<float> d_dlogits = cuda::testing::poisoned(kRows * 10);
  DeviceBuffer<DeviceTotals> totals(1);
  cuda::launch_reset_totals(totals.data(), nullptr);
  cuda::SoftmaxXentExtras extras;
  extras.label_smoothing = kSmoothing;
  cuda::launch_softmax_xent(d_logits.data(), d_labels.data(), kRows, 10, d_dlogits.data(), nullptr, totals.data(),
                            nullptr, extras);
  // As CudaKernels.SoftmaxXentMatchesTheSharedRowMathAndAccumulatesTotals: expf/logf within 2
  // ulp of glibc's, so rtol 1e-5 and atol 1e-7 near zero. The smoothed target moves the loss by
  // far more than that (checked first, so the comparison can tell smoothing from none).
  ASSERT_GT(std::fabs(loss_sum - plain_loss_sum), 1e-3 * plain_loss_sum);
  EXPECT_TRUE(all_close(download(d_dlogits), expected_dlogits, 1e-5, 1e-7));
  EXPECT_NEAR(download(totals)[0].sample_loss_sum, loss_sum, 1e-5 * loss_sum);
  // Without dlogits (an evaluation pass) the loss stays plain cross-entropy.
  cuda::launch_reset_totals(totals.data(), nullptr);
  cuda::launch_softmax_xent(d_logits.data(), d_labels.data(), kRows, 10, nullptr, nullptr, totals.data(), nullptr,
                            extras);
  EXPECT_NEAR(download(totals)[0].sample_loss_sum, plain_loss_sum, 1e-5 * plain_loss_sum);
}

// ---------------------------------------------------------------------------------------------
// The backend against the CPU backend

BackendOptions options_with(const std::string& kernels, bool graph) {
  BackendOptions options;
  options.max_batch = 64;
  options.loader = "device";
  options.kernels = kernels;
  options.graph = graph;
  options.graph_steps = 2;
  options.deterministic = true;
  options.conv_algorithms = direct_sum_algorithms();  // comparable with the CPU (backend_inputs.h)
  return options;
}

BackendOptions sgd(BackendOptions options, float learning_rate, float momentum) {
  options.optimizer.kind = OptimizerKind::kSgd;
  options.optimizer.learning_rate = learning_rate;
  options.optimizer.momentum = momentum;
  return options;
}

struct Pair {
  ImageSet train = random_images(512, 41);
  ImageSet test = random_images(64, 42);
  std::unique_ptr<Backend> gpu;
  std::unique_ptr<Backend> cpu;

  explicit Pair(const BackendOptions& options) {
    gpu = cuda::make_cuda_backend(0, options);
    cpu = make_cpu_backend(options);
    for (Backend* backend : {gpu.get(), cpu.get()}) {
      backend->attach_data(train, test);
      backend->set_state(initial_model_state(42));
      backend->set_order(Split::kTrain, shuffled(train.count, 43));
    }
  }
};

double norm_of_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
  return std::sqrt(sum);
}

// One SGD step on each side from the same `start` (velocity in adam_m, optimizer_math.h):
//   u = velocity' - momentum * velocity = -lr * s * g   (s: clipping's factor, 1 when off)
// (without momentum: u = w' - w). The GPU's u against the CPU's: the gradients agree to ~1e-6 relative (one_step_tolerance.h),
// the factors to ~1e-6 relative (norms of those gradients), hence rtol 1e-4; a gradient small
// only through cancellation is off by up to ~1e-8 absolute, times lr * s <= lr: atol 1e-8 * lr;
// and each side rounds momentum * velocity and the subtraction (<= 2 float ulps of |velocity'|,
// 2.4e-7 relative). The weights add velocity' to the same start: the same bound plus one ulp of
// |w|. A conv weight may instead be off by one routed gradient (lr * routed, s <= 1) in at most
// kMaxFlips channels: a max-pooling winner flip, as one_step_tolerance.h derives.
::testing::AssertionResult sgd_step_close(const ModelState& gpu, const ModelState& cpu, const ModelState& start,
                                          double learning_rate, double momentum) {
  using namespace train_gpu::model;
  const double routed = routed_gradient_bound(start, 64);
  std::set<std::size_t> flipped_channels;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  bool failed = false;
  for (std::size_t i = 0; i < gpu.parameters.size(); ++i) {
    // Without momentum SGD keeps no velocity (sgd_math.h): u is what the weight moved.
    const double carried = momentum * double(start.adam_m[i]);
    const double u_gpu = momentum == 0 ? double(gpu.parameters[i]) - double(start.parameters[i])
                                       : double(gpu.adam_m[i]) - carried;
    const double u_cpu = momentum == 0 ? double(cpu.parameters[i]) - double(start.parameters[i])
                                       : double(cpu.adam_m[i]) - carried;
    const double velocity_rounding = 2.4e-7 * std::fabs(double(cpu.adam_m[i]));
    const double weight_rounding = 1.2e-7 * std::fabs(double(cpu.parameters[i]));
    const double bound = 1e-4 * std::fabs(u_cpu) + 1e-8 * learning_rate + velocity_rounding;
    const double velocity_error = std::fabs(u_gpu - u_cpu);
    const double weight_error = std::fabs(double(gpu.parameters[i]) - double(cpu.parameters[i]));
    if (velocity_error <= bound && weight_error <= bound + weight_rounding) continue;
    const bool conv_weight = i >= kConvWeightOffset && i < kConvWeightOffset + kConvWeightCount;
    const double flip = learning_rate * routed;
    if (conv_weight && velocity_error <= bound + flip && weight_error <= bound + flip + weight_rounding) {
      flipped_channels.insert((i - kConvWeightOffset) / (kConvKernel * kConvKernel));
      continue;
    }
    if (!failed) {
      failure << "[" << i << "] w " << gpu.parameters[i] << " vs " << cpu.parameters[i] << ", velocity "
              << gpu.adam_m[i] << " vs " << cpu.adam_m[i] << " (bound " << bound << "); ";
    }
    failed = true;
  }
  if (flipped_channels.size() > std::size_t{cuda::testing::kMaxFlips}) {
    failure << flipped_channels.size() << " conv channels differ by up to a routed gradient: more than "
            << cuda::testing::kMaxFlips << " pooling flips; ";
    failed = true;
  }
  return failed ? failure : ::testing::AssertionSuccess();
}

// `steps` SGD steps of both backends, each from the CPU's state (the GPU set to it first), each
// compared with one step's bounds (sgd_step_close); the GPU's state after each step goes to
// `check` too.
void expect_steps_match(Pair& pair, int steps, double learning_rate, double momentum, const std::string& name,
                        const std::function<void(const ModelState& gpu, const ModelState& start, int step)>& check = {}) {
  for (int step = 0; step < steps; ++step) {
    const ModelState start = pair.cpu->state();
    pair.gpu->set_state(start);
    pair.gpu->train_step(step * 64, 64);
    pair.cpu->train_step(step * 64, 64);
    const ModelState gpu = pair.gpu->state();
    EXPECT_TRUE(sgd_step_close(gpu, pair.cpu->state(), start, learning_rate, momentum)) << name << " step " << step;
    if (check) check(gpu, start, step);
  }
}

// A tenth of the global norm of the CPU's first gradient from Pair's start: a bound that clips
// every step of the few the tests take (the norm falls slowly at these rates).
float a_clipping_bound() {
  Pair probe(sgd(options_with("classic", false), 1.0f, 0.0f));
  probe.cpu->train_step(0, 64);
  // lr 1 and no momentum: the weights moved by exactly the gradient.
  return static_cast<float>(norm_of_difference(probe.cpu->state().parameters, initial_model_state(42).parameters) /
                            10.0);
}

TEST_F(ClipAndSmoothingTest, AnInactiveClipAndZeroSmoothingGiveTheUnclippedBits) {
  // A bound far above any gradient norm: factor exactly 1, and x * 1 is x, so the GPU's steps are
  // bit for bit those of a run without the flag, eager and replayed, for both kernel sets.
  for (const char* kernels : {"classic", "fused"}) {
    for (const bool graph : {false, true}) {
      const BackendOptions plain = options_with(kernels, graph);
      BackendOptions clipped = plain;
      clipped.clip_norm = 1e6f;
      ModelState states[2];
      for (int run = 0; run < 2; ++run) {
        Pair pair(run == 0 ? plain : clipped);
        for (int64_t first = 0; first < 320; first += 64) pair.gpu->train_step(first, 64);
        states[run] = pair.gpu->state();
      }
      const std::string name = std::string(kernels) + (graph ? "/graph" : "");
      EXPECT_EQ(states[1].step, 5) << name;
      EXPECT_TRUE(bitwise_equal(states[1].parameters, states[0].parameters)) << name;
      EXPECT_TRUE(bitwise_equal(states[1].adam_m, states[0].adam_m)) << name;
      EXPECT_TRUE(bitwise_equal(states[1].adam_v, states[0].adam_v)) << name;
    }
  }
}

TEST_F(ClipAndSmoothingTest, ClippedStepsMatchTheCpuAndMoveByTheBound) {
  // Plain SGD: a clipped step moves the weights by exactly lr * clip_norm in norm.
  constexpr float kLearningRate = 0.05f;
  const float clip_norm = a_clipping_bound();
  ASSERT_GT(clip_norm, 0.0f);
  for (const char* kernels : {"classic", "fused"}) {
    for (const bool graph : {false, true}) {
      const std::string name = std::string(kernels) + (graph ? "/graph" : "");
      BackendOptions options = sgd(options_with(kernels, graph), kLearningRate, 0.0f);
      options.clip_norm = clip_norm;
      Pair pair(options);
      expect_steps_match(pair, 4, kLearningRate, 0.0, name, [&](const ModelState& gpu, const ModelState& start, int step) {
        // ||lr * s * g|| = lr * clip_norm to float precision (s and each product rounded: ~1e-7
        // relative). What the weights show adds each w + u's rounding, e_i <= ulp(|w| <= 0.25) =
        // 3e-8: unbiased and uncorrelated with u, they change the norm by about
        // |u . e| / ||u|| + ||e||^2 / (2 ||u||) <= 3e-8 + 1e-10 / ||u||, under 1e-5 relative for
        // the ||u|| >= 1e-4 of any bound this test picks; 1e-3 leaves room and still fails an
        // unclipped step (which moves by 10 times the bound at the first step).
        const double moved = norm_of_difference(gpu.parameters, start.parameters);
        EXPECT_NEAR(moved, kLearningRate * clip_norm, 1e-3 * kLearningRate * clip_norm) << name << " step " << step;
      });
    }
  }
}

TEST_F(ClipAndSmoothingTest, ClippedMomentumStepsMatchTheCpuOverSeveralSteps) {
  constexpr float kLearningRate = 0.01f, kMomentum = 0.9f;
  BackendOptions options = sgd(options_with("fused", true), kLearningRate, kMomentum);
  options.clip_norm = a_clipping_bound();
  Pair pair(options);
  expect_steps_match(pair, 6, kLearningRate, kMomentum, "fused/graph");
}

TEST_F(ClipAndSmoothingTest, OneSmoothedAdamStepMatchesTheCpu) {
  // one_step_tolerance.h's bounds hold with smoothing: its routed-gradient bound uses
  // sum_k |p_k - y_k| <= 2, true of any target distribution y, smoothed or not.
  for (const char* kernels : {"classic", "fused"}) {
    BackendOptions options = options_with(kernels, false);
    options.label_smoothing = 0.1f;
    Pair pair(options);
    Pair plain(options_with(kernels, false));
    pair.gpu->train_step(0, 64);
    pair.cpu->train_step(0, 64);
    plain.cpu->train_step(0, 64);
    const ModelState cpu = pair.cpu->state();
    // The bounds tell smoothing from none: fc2's bias gradients, e (label share - 1/10) apart,
    // give moments 5 to 15% apart at this start (measured on the CPU), against rtol 1e-4.
    ASSERT_FALSE(one_step_close(plain.cpu->state(), cpu, initial_model_state(42), 64, options.optimizer.learning_rate));
    EXPECT_TRUE(one_step_close(pair.gpu->state(), cpu, initial_model_state(42), 64, options.optimizer.learning_rate))
        << kernels;
    // The training loss is the smoothed one on both, within the 1e-4 the other backend
    // comparisons allow a batch loss. (At this start the predictions are nearly uniform, and the
    // smoothed loss only 5e-5 from the plain one: the state above is what shows the smoothing.)
    const double gpu_loss = pair.gpu->take_totals(PassKind::kTraining).batch_loss_sum;
    const double cpu_loss = pair.cpu->take_totals(PassKind::kTraining).batch_loss_sum;
    EXPECT_NEAR(gpu_loss, cpu_loss, 1e-4 * cpu_loss) << kernels;
  }
}

// The velocities of fc2's biases differ by 5 to 15% with smoothing and without (as above), far
// beyond sgd_step_close's rtol: an ignored --label-smoothing fails this.
TEST_F(ClipAndSmoothingTest, SmoothedAndClippedMomentumStepsMatchTheCpuOverSeveralSteps) {
  constexpr float kLearningRate = 0.01f, kMomentum = 0.9f;
  for (const float clip_norm : {0.0f, a_clipping_bound()}) {
    BackendOptions options = sgd(options_with("classic", true), kLearningRate, kMomentum);
    options.label_smoothing = 0.1f;
    options.clip_norm = clip_norm;
    Pair pair(options);
    expect_steps_match(pair, 6, kLearningRate, kMomentum, "clip " + std::to_string(clip_norm));
    const double gpu_loss = pair.gpu->take_totals(PassKind::kTraining).batch_loss_sum;
    const double cpu_loss = pair.cpu->take_totals(PassKind::kTraining).batch_loss_sum;
    EXPECT_NEAR(gpu_loss, cpu_loss, 1e-4 * cpu_loss) << "clip " << clip_norm;
  }
}

}  // namespace
}  // namespace train_gpu

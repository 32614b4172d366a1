// The CPU backend through the Backend interface (host/model/backend.h): full Adam steps against
// a float64 reimplementation of the step, the totals each pass reports, evaluation, activations,
// training on a separable synthetic problem, and the errors it raises on bad calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/common/random.h"
#include "host/data/image_set.h"
#include "host/model/backend.h"
#include "host/model/cpu_backend.h"
#include "host/model/cpu_threads.h"
#include "host/model/initializer.h"
#include "host/model/model_spec.h"
#include "reference_network.h"
#include "support/overflowing_gradient.h"
#include "support/pool_threads.h"

namespace train_gpu {
namespace {

using namespace model;

constexpr double kUnitRoundoff = 1.0 / 16777216.0;  // 2^-24

ImageSet image_set_of(const reference::RandomBatch& batch) {
  ImageSet set;
  set.count = int64_t(batch.labels.size());
  set.rows = kImageSide;
  set.cols = kImageSide;
  set.pixels = batch.pixels;
  set.labels = batch.labels;
  return set;
}

std::unique_ptr<Backend> make_backend(int max_batch) {
  BackendOptions options;
  options.max_batch = max_batch;
  return make_cpu_backend(options);
}

// The images and labels of `set` at order[first, first + count), as the reference sees them.
void select(const reference::RandomBatch& all, const std::vector<int32_t>& order, int64_t first, int count,
            std::vector<double>& images, std::vector<int>& labels) {
  images.clear();
  labels.clear();
  for (int n = 0; n < count; ++n) {
    const std::size_t sample = std::size_t(order[std::size_t(first + n)]);
    images.insert(images.end(), all.images.begin() + std::ptrdiff_t(sample * kImagePixels),
                  all.images.begin() + std::ptrdiff_t((sample + 1) * kImagePixels));
    labels.push_back(all.int_labels[sample]);
  }
}

// ---------------------------------------------------------------------------------------------
// A full training step against float64.
//
// Error budget. The float gradients agree with float64 to 2e-5 of each tensor's largest
// gradient plus 2e-5 relative (gradient_check_test measures ~6e-7). Adam is linear in g for m
// and v, so m and v inherit that bound (scaled by 1 - beta); the weight's update
// lr_t m / (sqrt v + eps) is steepest in g where |g| is tiny: there an error dg in g moves the
// update by up to lr_t dm / (sqrt v + eps). The bound below propagates dg through exactly these
// formulas per element, plus a few roundings of w, m and v themselves.

struct StepBound {
  std::vector<double> dm, dv, dw;  // per-element error bounds, carried from step to step
};

void propagate_bound(StepBound& bound, const std::vector<double>& grads, const std::vector<double>& m,
                     const std::vector<double>& v, const std::vector<double>& w, int64_t t) {
  const double b1 = double(0.9f), b2 = double(0.999f), eps = double(1e-7f);
  const double step = 1e-3 * std::sqrt(1 - std::pow(b2, double(t))) / (1 - std::pow(b1, double(t)));
  std::vector<double> scale(kTensorCount);
  for (int k = 0; k < kTensorCount; ++k) {
    const TensorSpec& tensor = kParameterTensors[k];
    for (std::size_t i = 0; i < tensor.count; ++i)
      scale[std::size_t(k)] = std::max(scale[std::size_t(k)], std::fabs(grads[tensor.offset + i]));
  }
  for (int k = 0; k < kTensorCount; ++k) {
    const TensorSpec& tensor = kParameterTensors[k];
    for (std::size_t j = 0; j < tensor.count; ++j) {
      const std::size_t i = tensor.offset + j;
      const double dg = 2e-5 * scale[std::size_t(k)] + 2e-5 * std::fabs(grads[i]);
      // The reference runs with the same float32 hyperparameters, so beyond dg only the float
      // arithmetic's own roundings remain: a few u of m and v per step.
      bound.dm[i] = b1 * bound.dm[i] + (1 - b1) * dg + 8 * kUnitRoundoff * std::fabs(m[i]);
      bound.dv[i] = b2 * bound.dv[i] + (1 - b2) * 2 * std::fabs(grads[i]) * dg + (1 - b2) * dg * dg +
                    8 * kUnitRoundoff * v[i];
      const double root = std::sqrt(v[i]);
      const double droot = root > 0 ? std::min(bound.dv[i] / (2 * root), std::sqrt(bound.dv[i])) : std::sqrt(bound.dv[i]);
      const double update = step * std::fabs(m[i]) / (root + eps);
      bound.dw[i] += 4 * kUnitRoundoff * std::fabs(w[i]) + 16 * kUnitRoundoff * update +
                     step * (bound.dm[i] + std::fabs(m[i]) * droot / (root + eps)) / (root + eps);
    }
  }
}

// Returns the largest error / bound ratio, for the record.
double expect_arena_near(const std::vector<float>& actual, const std::vector<double>& expected,
                         const std::vector<double>& bound, const char* what) {
  int failures = 0;
  double worst = 0;
  for (std::size_t i = 0; i < expected.size() && failures < 5; ++i) {
    const double error = std::fabs(double(actual[i]) - expected[i]);
    if (bound[i] > 0) worst = std::max(worst, error / bound[i]);
    if (!(error <= bound[i])) {
      ++failures;
      std::size_t k = 0;
      while (k + 1 < kTensorCount && kParameterTensors[k + 1].offset <= i) ++k;
      ADD_FAILURE() << what << " of " << kParameterTensors[k].name << "[" << i - kParameterTensors[k].offset
                    << "] = " << actual[i] << ", float64 " << expected[i] << ", error " << error << " > " << bound[i];
    }
  }
  return worst;
}

struct StepCase {
  const char* name;
  int64_t initial_step;  // 0: a fresh optimizer; > 0: moments already populated
  int steps;
};

void PrintTo(const StepCase& c, std::ostream* os) { *os << c.name; }

class CpuBackendStepTest : public ::testing::TestWithParam<StepCase> {};

TEST_P(CpuBackendStepTest, AdamStepsMatchAFloat64Reimplementation) {
  const StepCase c = GetParam();
  constexpr int kBatch = 6, kSamples = 20;
  const reference::RandomBatch all = reference::random_batch(kSamples, 901);
  const ImageSet train = image_set_of(all), test = image_set_of(reference::random_batch(3, 902));
  std::vector<int32_t> order(kSamples);
  std::iota(order.begin(), order.end(), 0);
  Rng shuffle(903);
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[shuffle.below(i + 1)]);

  ModelState state = initial_model_state(904);
  if (c.initial_step > 0) {
    Rng rng(905);
    for (std::size_t i = 0; i < kParameterCount; ++i) {
      state.adam_m[i] = 1e-4f * (rng.uniform01() - 0.5f);
      state.adam_v[i] = 1e-7f * rng.uniform01();
    }
    state.step = c.initial_step;
  }
  auto backend = make_backend(8);
  backend->attach_data(train, test);
  backend->set_state(state);
  backend->set_order(Split::kTrain, order);

  std::vector<double> w = reference::to_double(state.parameters), m = reference::to_double(state.adam_m),
                      v = reference::to_double(state.adam_v);
  StepBound bound{std::vector<double>(kParameterCount, 0.0), std::vector<double>(kParameterCount, 0.0),
                  std::vector<double>(kParameterCount, 0.0)};
  PassTotals expected(kClasses);
  for (int s = 0; s < c.steps; ++s) {
    const int64_t first = 1 + s * kBatch;  // an offset into the order, not a sample index
    backend->train_step(first, kBatch);

    std::vector<double> images;
    std::vector<int> labels;
    select(all, order, first, kBatch, images, labels);
    const reference::Network net = reference::forward(w, images, labels, kBatch);
    const std::vector<double> grads = reference::backward(w, images, labels, kBatch, net);
    const int64_t t = c.initial_step + s + 1;
    reference::adam_step(w, m, v, grads, t, 1e-3, double(0.9f), double(0.999f), double(1e-7f));
    propagate_bound(bound, grads, m, v, w, t);

    expected.batch_loss_sum += net.mean_loss;
    for (int n = 0; n < kBatch; ++n) {
      expected.sample_loss_sum += net.losses[std::size_t(n)];
      expected.correct += net.predicted[std::size_t(n)] == labels[std::size_t(n)];
      expected.confusion[std::size_t(labels[std::size_t(n)] * kClasses + net.predicted[std::size_t(n)])] += 1;
    }
  }

  const ModelState after = backend->state();
  EXPECT_EQ(after.step, c.initial_step + c.steps);
  RecordProperty("m_worst_error_over_bound", std::to_string(expect_arena_near(after.adam_m, m, bound.dm, "m")));
  RecordProperty("v_worst_error_over_bound", std::to_string(expect_arena_near(after.adam_v, v, bound.dv, "v")));
  RecordProperty("w_worst_error_over_bound",
                 std::to_string(expect_arena_near(after.parameters, w, bound.dw, "weight")));
  // Every weight with a nonzero gradient moved: the update really happened (a no-op would pass
  // the bound only where the bound exceeds the whole move).
  int moved = 0;
  for (std::size_t i = 0; i < kParameterCount; ++i) moved += after.parameters[i] != state.parameters[i];
  EXPECT_GT(moved, int(kParameterCount / 4));

  const PassTotals totals = backend->take_totals(PassKind::kTraining);
  EXPECT_EQ(totals.batches, c.steps);
  EXPECT_EQ(totals.samples, int64_t(c.steps) * kBatch);
  EXPECT_EQ(totals.correct, expected.correct);
  EXPECT_EQ(totals.confusion, expected.confusion);
  EXPECT_EQ(totals.first_nonfinite_batch, -1);
  // Losses: the float forward agrees with float64 to ~1e-6 relative (gradient_check_test);
  // 1e-5 relative bounds it with margin.
  EXPECT_NEAR(totals.batch_loss_sum, expected.batch_loss_sum, 1e-5 * expected.batch_loss_sum);
  EXPECT_NEAR(totals.sample_loss_sum, expected.sample_loss_sum, 1e-5 * expected.sample_loss_sum);
}

INSTANTIATE_TEST_SUITE_P(States, CpuBackendStepTest,
                         ::testing::Values(StepCase{"FreshOptimizer", 0, 1}, StepCase{"FreshOptimizerTwoSteps", 0, 2},
                                           StepCase{"ResumedAtStep3", 3, 2}),
                         [](const ::testing::TestParamInfo<StepCase>& param) { return param.param.name; });

// ---------------------------------------------------------------------------------------------
// Evaluation, totals, activations

struct SmallFixture {
  SmallFixture()
      : all(reference::random_batch(10, 1001)),
        test_batch(reference::random_batch(7, 1002)),
        train(image_set_of(all)),
        test(image_set_of(test_batch)),
        state(initial_model_state(1003)),
        backend(make_backend(4)) {
    backend->attach_data(train, test);
    backend->set_state(state);
    std::vector<int32_t> order(std::size_t(train.count));
    std::iota(order.begin(), order.end(), 0);
    backend->set_order(Split::kTrain, order);
    test_order = {6, 5, 4, 3, 2, 1, 0};
    backend->set_order(Split::kTest, test_order);
  }
  reference::RandomBatch all, test_batch;
  ImageSet train, test;
  ModelState state;
  std::unique_ptr<Backend> backend;
  std::vector<int32_t> test_order;
};

TEST(CpuBackendTest, EvaluateBatchReportsProbabilitiesAndTotalsWithoutUpdating) {
  SmallFixture f;
  std::vector<float> probabilities(4 * kClasses, std::numeric_limits<float>::quiet_NaN());
  f.backend->evaluate_batch(Split::kTest, 2, 4, probabilities.data());
  f.backend->evaluate_batch(Split::kTest, 6, 1);

  std::vector<double> images;
  std::vector<int> labels;
  select(f.test_batch, f.test_order, 2, 4, images, labels);
  const std::vector<double> w = reference::to_double(f.state.parameters);
  const reference::Network net = reference::forward(w, images, labels, 4);
  for (int n = 0; n < 4; ++n) {
    const double* z = &net.logits[std::size_t(n) * kClasses];
    const double z_max = *std::max_element(z, z + kClasses);
    double sum = 0;
    for (int j = 0; j < kClasses; ++j) sum += std::exp(z[j] - z_max);
    for (int j = 0; j < kClasses; ++j) {
      // Logits agree to ~1e-6 relative of their magnitude (< 1 here): probabilities to ~1e-6.
      EXPECT_NEAR(probabilities[std::size_t(n * kClasses + j)], std::exp(z[j] - z_max) / sum, 1e-5);
    }
  }
  select(f.test_batch, f.test_order, 6, 1, images, labels);
  const reference::Network last = reference::forward(w, images, labels, 1);

  const PassTotals totals = f.backend->take_totals(PassKind::kEvaluation);
  EXPECT_EQ(totals.batches, 2);
  EXPECT_EQ(totals.samples, 5);
  EXPECT_NEAR(totals.batch_loss_sum, net.mean_loss + last.mean_loss, 1e-5 * (net.mean_loss + last.mean_loss));
  int64_t correct = last.predicted[0] == labels[0];
  for (int n = 0; n < 4; ++n) correct += net.predicted[std::size_t(n)] == int(f.test_batch.int_labels[std::size_t(f.test_order[std::size_t(2 + n)])]);
  EXPECT_EQ(totals.correct, correct);
  int64_t confusion_total = 0;
  for (int64_t c : totals.confusion) confusion_total += c;
  EXPECT_EQ(confusion_total, 5);

  // Evaluation changes nothing, and touches only the evaluation totals.
  const ModelState after = f.backend->state();
  EXPECT_EQ(after.parameters, f.state.parameters);
  EXPECT_EQ(after.step, 0);
  EXPECT_EQ(f.backend->take_totals(PassKind::kTraining).batches, 0);
  EXPECT_EQ(f.backend->take_totals(PassKind::kEvaluation).batches, 0);  // taken above: reset
}

TEST(CpuBackendTest, PeekKeepsTotalsAndTakeResetsThem) {
  SmallFixture f;
  f.backend->train_step(0, 4);
  f.backend->train_step(4, 4);
  const PassTotals peeked = f.backend->peek_totals(PassKind::kTraining);
  EXPECT_EQ(peeked.batches, 2);
  EXPECT_EQ(peeked.samples, 8);
  EXPECT_GT(peeked.batch_loss_sum, 0.0);
  EXPECT_EQ(f.backend->peek_totals(PassKind::kTraining).batch_loss_sum, peeked.batch_loss_sum);
  EXPECT_EQ(f.backend->peek_totals(PassKind::kEvaluation).batches, 0);
  const PassTotals taken = f.backend->take_totals(PassKind::kTraining);
  EXPECT_EQ(taken.batch_loss_sum, peeked.batch_loss_sum);
  EXPECT_EQ(taken.sample_loss_sum, peeked.sample_loss_sum);
  const PassTotals empty = f.backend->peek_totals(PassKind::kTraining);
  EXPECT_EQ(empty.batches, 0);
  EXPECT_EQ(empty.samples, 0);
  EXPECT_EQ(empty.batch_loss_sum, 0.0);
  EXPECT_EQ(empty.first_nonfinite_batch, -1);
  EXPECT_EQ(f.backend->state().step, 2);
}

TEST(CpuBackendTest, RecordsTheFirstNonFiniteBatchOfThePassAndStillSteps) {
  SmallFixture f;
  f.backend->train_step(0, 4);  // batch 0 of the pass: finite
  ModelState poisoned = f.backend->state();
  poisoned.parameters[kFc2BiasOffset + 3] = std::numeric_limits<float>::infinity();  // logits inf - inf = NaN
  f.backend->set_state(poisoned);
  f.backend->train_step(4, 4);  // batch 1: non-finite
  f.backend->train_step(0, 4);  // batch 2: still non-finite; the first one stays recorded
  const PassTotals totals = f.backend->take_totals(PassKind::kTraining);
  EXPECT_EQ(totals.first_nonfinite_batch, 1);
  EXPECT_EQ(totals.batches, 3);
  EXPECT_EQ(f.backend->state().step, 3);  // recording is all the backend does; stopping is the trainer's
  // A new pass starts clean.
  f.backend->set_state(f.state);
  f.backend->train_step(0, 4);
  EXPECT_EQ(f.backend->take_totals(PassKind::kTraining).first_nonfinite_batch, -1);

  // Evaluation records its own.
  f.backend->set_state(poisoned);
  f.backend->evaluate_batch(Split::kTest, 0, 2);
  EXPECT_EQ(f.backend->take_totals(PassKind::kEvaluation).first_nonfinite_batch, 0);
}

// A batch whose loss is finite but whose fc1 gradient overflows (support/overflowing_gradient.h):
// the loss check cannot see it, so the gradients' own check must. Unflagged, Adam turns the
// infinite gradients into NaN weights (inf / inf) that the trainer would save as good.
TEST(CpuBackendTest, RecordsABatchWithAFiniteLossButOverflowingGradients) {
  SmallFixture f;
  f.backend->train_step(0, 4);  // batch 0 of the pass: finite
  ModelState overflowing = f.backend->state();
  testing::make_fc1_gradient_overflow(overflowing);
  f.backend->set_state(overflowing);
  f.backend->train_step(4, 4);  // batch 1
  const PassTotals totals = f.backend->take_totals(PassKind::kTraining);
  ASSERT_EQ(totals.batches, 2);
  // The premise: the loss stayed finite (so only the gradient check can flag the batch) ...
  EXPECT_TRUE(std::isfinite(totals.batch_loss_sum)) << totals.batch_loss_sum;
  EXPECT_GT(totals.batch_loss_sum, 1e3) << "not the state of overflowing_gradient.h";
  // ... and the gradient did overflow: only a non-finite gradient makes Adam's update NaN.
  const std::vector<float> after = f.backend->state().parameters;
  const auto fc1 = after.begin() + std::ptrdiff_t(kFc1WeightOffset);
  EXPECT_GT(std::count_if(fc1, fc1 + std::ptrdiff_t(kFc1WeightCount), [](float w) { return !std::isfinite(w); }), 0);
  EXPECT_EQ(totals.first_nonfinite_batch, 1);
}

TEST(CpuBackendTest, ActivationsOfOneImageMatchFloat64) {
  SmallFixture f;
  const int64_t index = 5;  // a sample index of the test split, not an order position
  const ImageActivations activations = f.backend->activations(Split::kTest, index);
  ASSERT_EQ(activations.conv_relu.size(), std::size_t(kConvOutputs));
  ASSERT_EQ(activations.probabilities.size(), std::size_t(kClasses));
  const std::vector<double> image(f.test_batch.images.begin() + index * kImagePixels,
                                  f.test_batch.images.begin() + (index + 1) * kImagePixels);
  const reference::Network net =
      reference::forward(reference::to_double(f.state.parameters), image, {f.test_batch.int_labels[std::size_t(index)]}, 1);
  for (std::size_t i = 0; i < std::size_t(kConvOutputs); ++i) {
    // 9 products of |w| <= 0.34 (Glorot for fans 9, 288) and pixels <= 1, plus a zero bias:
    // the float sum errs by at most 10 * 2^-24 * 3.1 = 2e-6.
    ASSERT_NEAR(activations.conv_relu[i], net.conv_relu[i], 2e-6) << "conv map element " << i;
  }
  double sum = 0;
  for (int j = 0; j < kClasses; ++j) sum += activations.probabilities[std::size_t(j)];
  EXPECT_NEAR(sum, 1.0, 1e-6);
  const double z_max = *std::max_element(net.logits.begin(), net.logits.end());
  double denominator = 0;
  for (double z : net.logits) denominator += std::exp(z - z_max);
  for (int j = 0; j < kClasses; ++j) {
    EXPECT_NEAR(activations.probabilities[std::size_t(j)], std::exp(net.logits[std::size_t(j)] - z_max) / denominator, 1e-5);
  }
}

TEST(CpuBackendTest, DescriptionNamesTheKernelsThreadsAndDenormalMode) {
  BackendOptions options;
  options.max_batch = 4;
  options.threads = 3;
  const std::string description = make_cpu_backend(options)->description();
  EXPECT_EQ(description.rfind("cpu (oneDNN ", 0), 0u) << description;
  EXPECT_NE(description.find(" sgemm, conv+pool "), std::string::npos) << description;
  EXPECT_NE(description.find(", 3 threads, denormals flushed)"), std::string::npos) << description;
  options.threads = 1;
  options.flush_denormals = false;
  EXPECT_NE(make_cpu_backend(options)->description().find(", 1 thread, denormals kept)"), std::string::npos);
  options.threads = -1;
  EXPECT_THROW(make_cpu_backend(options), Error);
}

// The state after `steps` training steps of batch 16 on seeded random images, from `start`.
ModelState state_after_steps(BackendOptions options, const ModelState& start, int steps) {
  constexpr int kBatch = 16, kBatches = 4;
  const ImageSet train = image_set_of(reference::random_batch(kBatch * kBatches, 931));
  const ImageSet test = image_set_of(reference::random_batch(2, 932));
  options.max_batch = kBatch;
  auto backend = make_cpu_backend(options);
  backend->attach_data(train, test);
  backend->set_state(start);
  std::vector<int32_t> order(std::size_t(train.count));
  std::iota(order.begin(), order.end(), 0);
  backend->set_order(Split::kTrain, order);
  for (int s = 0; s < steps; ++s) backend->train_step((s % kBatches) * kBatch, kBatch);
  return backend->state();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::size_t denormal_count(const std::vector<float>& values) {
  return std::size_t(std::count_if(values.begin(), values.end(),
                                   [](float v) { return std::fpclassify(v) == FP_SUBNORMAL; }));
}

// --deterministic's promise on the CPU and what the thread count does to it: reruns with the
// same count are bit-identical, and so are runs with other counts (the per-image loops do not
// depend on their thread, and oneDNN's sgemm at these shapes does not split its sums by thread).
TEST(CpuBackendTest, TrainingBitsDoNotDependOnRerunsOrTheThreadCount) {
  const ModelState start = initial_model_state(933);
  BackendOptions options;
  options.threads = 2;
  const ModelState two = state_after_steps(options, start, 6);
  const ModelState again = state_after_steps(options, start, 6);
  EXPECT_TRUE(same_bits(two.parameters, again.parameters));
  EXPECT_TRUE(same_bits(two.adam_v, again.adam_v));
  for (int threads : {1, 3}) {
    options.threads = threads;
    const ModelState other = state_after_steps(options, start, 6);
    EXPECT_TRUE(same_bits(two.parameters, other.parameters)) << threads << " threads";
    EXPECT_TRUE(same_bits(two.adam_m, other.adam_m)) << threads << " threads";
  }
  cpu::set_thread_count(0);
}

// The pool's thread count is process-wide: a backend made later with another count must not
// leave an earlier one computing with it.
TEST(CpuBackendTest, EachBackendComputesWithItsOwnThreadCount) {
  const ModelState start = initial_model_state(936);
  BackendOptions options;
  options.threads = 1;
  options.max_batch = 4;
  const ImageSet train = image_set_of(reference::random_batch(4, 937)), test = image_set_of(reference::random_batch(2, 938));
  auto one = make_cpu_backend(options);
  one->attach_data(train, test);
  one->set_state(start);
  one->set_order(Split::kTrain, {0, 1, 2, 3});
  options.threads = 3;
  auto three = make_cpu_backend(options);
  EXPECT_EQ(cpu::thread_count(), 3);
  one->train_step(0, 4);
  EXPECT_EQ(cpu::thread_count(), 1);
  EXPECT_NE(one->description().find(", 1 thread,"), std::string::npos) << one->description();
  cpu::set_thread_count(0);
}

// Flush-to-zero on the threads that compute (Adam's loop runs on the pool's threads): first
// moments that start denormal are flushed, not carried; and the parameters stay within the
// tolerance the GPU comparisons allow between CPU and GPU (tests/gpu/cuda_backend_test.cpp,
// OneTrainingStepMatchesTheCpuBackend: rtol 1e-4 plus atol 1e-5), so flushing is not a
// difference the oracle's users can see. Before the flushed run the pool's threads are set to
// keep denormals (support/pool_threads.h): pool threads made inside a flushing call would flush
// by inheritance, and the test would pass without the backend setting their mode.
TEST(CpuBackendTest, FlushedDenormalsStayWithinTheGpuComparisonTolerance) {
  ModelState start = initial_model_state(934);
  start.step = 50;
  Rng rng(935);
  for (std::size_t i = 0; i < kParameterCount; ++i) {
    // A third of the first moments denormal (|m| < 2^-126), as long-idle weights' moments become.
    start.adam_m[i] = i % 3 == 0 ? 1e-39f * (rng.uniform01() - 0.5f) : 1e-4f * (rng.uniform01() - 0.5f);
    start.adam_v[i] = 1e-8f * rng.uniform01();
  }
  ASSERT_GT(denormal_count(start.adam_m), kParameterCount / 4);
  BackendOptions options;
  options.threads = 2;
  options.flush_denormals = false;
  const ModelState kept = state_after_steps(options, start, 3);
  options.flush_denormals = true;
  testing::set_pool_threads_flush_denormals(options.threads, false);
  const ModelState flushed = state_after_steps(options, start, 3);

  EXPECT_GT(denormal_count(kept.adam_m), 0u);  // without flushing, parameters with zero gradient keep them
  EXPECT_EQ(denormal_count(flushed.adam_m), 0u);
  EXPECT_EQ(denormal_count(flushed.adam_v), 0u);
  EXPECT_EQ(denormal_count(flushed.parameters), 0u);
  EXPECT_FALSE(same_bits(kept.adam_m, flushed.adam_m));
  std::size_t outside = 0;
  for (std::size_t i = 0; i < kParameterCount; ++i) {
    const double a = flushed.parameters[i], b = kept.parameters[i];
    outside += !(std::fabs(a - b) <= 1e-4 * std::fabs(b) + 1e-5);
  }
  EXPECT_EQ(outside, 0u);
  // The caller's own mode is its own again after every step.
  EXPECT_FALSE(cpu::flushes_denormals());
}

// ---------------------------------------------------------------------------------------------
// Learning: a separable synthetic problem

// Class k is a bright 5x8 block at its own place in a 2x5 grid, on uniform noise up to 80.
ImageSet block_images(int64_t count, uint64_t seed) {
  ImageSet set;
  set.count = count;
  set.rows = kImageSide;
  set.cols = kImageSide;
  set.pixels.resize(std::size_t(count) * kImagePixels);
  set.labels.resize(std::size_t(count));
  Rng rng(seed);
  for (int64_t n = 0; n < count; ++n) {
    const int label = int(rng.below(kClasses));
    set.labels[std::size_t(n)] = static_cast<uint8_t>(label);
    uint8_t* image = set.pixels.data() + n * kImagePixels;
    for (int p = 0; p < kImagePixels; ++p) image[p] = static_cast<uint8_t>(rng.below(81));
    const int top = 3 + (label / 5) * 12, left = 1 + (label % 5) * 5;
    for (int y = top; y < top + 8; ++y)
      for (int x = left; x < left + 5; ++x) image[y * kImageSide + x] = static_cast<uint8_t>(200 + rng.below(56));
  }
  return set;
}

TEST(CpuBackendTest, TrainingASeparableProblemDrivesTheLossDown) {
  const ImageSet train = block_images(1600, 11), test = block_images(400, 12);
  constexpr int kBatch = 32;
  auto backend = make_backend(kBatch);
  backend->attach_data(train, test);
  backend->set_state(initial_model_state(13));
  std::vector<int32_t> order(std::size_t(train.count)), test_order(std::size_t(test.count));
  std::iota(order.begin(), order.end(), 0);
  std::iota(test_order.begin(), test_order.end(), 0);
  backend->set_order(Split::kTrain, order);
  backend->set_order(Split::kTest, test_order);

  backend->evaluate_batch(Split::kTest, 0, kBatch);
  const double initial_loss = backend->take_totals(PassKind::kEvaluation).mean_batch_loss();
  EXPECT_GT(initial_loss, 1.5);  // about log(10) = 2.3 before training

  for (int64_t first = 0; first + kBatch <= train.count; first += kBatch) backend->train_step(first, kBatch);  // 50 steps
  const PassTotals epoch = backend->take_totals(PassKind::kTraining);
  EXPECT_EQ(epoch.batches, 50);
  EXPECT_EQ(epoch.first_nonfinite_batch, -1);

  for (int64_t first = 0; first < test.count; first += kBatch) {
    backend->evaluate_batch(Split::kTest, first, int(std::min<int64_t>(kBatch, test.count - first)));
  }
  const PassTotals evaluation = backend->take_totals(PassKind::kEvaluation);
  EXPECT_EQ(evaluation.samples, 400);
  // The classes differ in where 40 bright pixels sit: one epoch of Adam at 1e-3 learns that.
  EXPECT_LT(evaluation.mean_sample_loss(), 0.1 * initial_loss);
  EXPECT_GT(evaluation.accuracy(), 0.97);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(CpuBackendTest, RejectsBadStatesBatchesAndOrders) {
  SmallFixture f;
  ModelState wrong = f.state;
  wrong.parameters.pop_back();
  EXPECT_THROW(f.backend->set_state(wrong), Error);
  wrong = f.state;
  wrong.adam_v.push_back(0.0f);
  EXPECT_THROW(f.backend->set_state(wrong), Error);
  wrong = f.state;
  wrong.adam_m.clear();
  EXPECT_THROW(f.backend->set_state(wrong), Error);
  wrong = f.state;
  wrong.step = -1;
  EXPECT_THROW(f.backend->set_state(wrong), Error);

  EXPECT_THROW(f.backend->train_step(0, 5), Error);   // max_batch is 4
  EXPECT_THROW(f.backend->train_step(0, 0), Error);
  EXPECT_THROW(f.backend->train_step(-1, 2), Error);
  EXPECT_THROW(f.backend->train_step(8, 3), Error);   // 11 > the order's 10
  EXPECT_NO_THROW(f.backend->train_step(8, 2));       // exactly to the end
  EXPECT_THROW(f.backend->evaluate_batch(Split::kTest, 5, 3), Error);  // 8 > 7
  EXPECT_THROW(f.backend->evaluate_batch(Split::kTest, 0, 5), Error);
  EXPECT_THROW(f.backend->set_order(Split::kTest, {0, 7}), Error);  // the test split has 7 images
  EXPECT_THROW(f.backend->set_order(Split::kTrain, {-1}), Error);
  EXPECT_THROW(f.backend->activations(Split::kTest, 7), Error);
  EXPECT_EQ(f.backend->peek_totals(PassKind::kTraining).batches, 1);  // only the valid step counted
}

TEST(CpuBackendTest, RejectsCallsOutOfOrderAndBadData) {
  BackendOptions options;
  options.max_batch = 0;
  EXPECT_THROW(make_cpu_backend(options), Error);

  auto backend = make_backend(4);
  EXPECT_THROW(backend->state(), Error);  // no state yet
  const ImageSet good = image_set_of(reference::random_batch(5, 1));
  EXPECT_THROW(backend->set_order(Split::kTrain, {0, 1}), Error);  // no data yet
  ImageSet wrong_size = good;
  wrong_size.rows = 32;
  EXPECT_THROW(backend->attach_data(wrong_size, good), Error);
  ImageSet truncated = good;
  truncated.pixels.pop_back();
  EXPECT_THROW(backend->attach_data(good, truncated), Error);
  ImageSet bad_label = good;
  bad_label.labels[2] = 10;
  EXPECT_THROW(backend->attach_data(bad_label, good), Error);

  backend->attach_data(good, good);
  backend->set_order(Split::kTrain, {0, 1, 2, 3});
  EXPECT_THROW(backend->train_step(0, 2), Error);  // no state yet
  backend->set_state(initial_model_state(1));
  EXPECT_NO_THROW(backend->train_step(0, 2));
  EXPECT_THROW(backend->evaluate_batch(Split::kTest, 0, 1), Error);  // no test order yet
}

}  // namespace
}  // namespace train_gpu

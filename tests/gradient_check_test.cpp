// The whole network's gradients: the float32 CPU path (cpu::network_forward/backward) against
// the float64 backprop of reference_network.h on every parameter, and that backprop against
// central finite differences of the float64 loss on a sample of every tensor's parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <numeric>
#include <vector>

#include "cuda/math/softmax_xent_math.h"
#include "host/common/random.h"
#include "host/model/cpu_layers.h"
#include "host/model/initializer.h"
#include "host/model/model_spec.h"
#include "reference_network.h"

namespace train_gpu {
namespace {

using namespace model;

constexpr int kBatch = 4;

struct Problem {
  std::vector<float> parameters;
  reference::RandomBatch batch;
};

// Glorot weights as the trainer starts from, plus small random biases so that the bias paths
// carry non-trivial values too.
Problem make_problem(uint64_t seed) {
  Problem problem;
  problem.parameters = initial_model_state(seed).parameters;
  Rng rng(seed + 100);
  for (const TensorSpec& tensor : kParameterTensors) {
    if (tensor.rank != 1) continue;
    for (std::size_t i = 0; i < tensor.count; ++i) problem.parameters[tensor.offset + i] = 0.1f * (rng.uniform01() - 0.5f);
  }
  problem.batch = reference::random_batch(kBatch, seed + 200);
  return problem;
}

// The float path's gradient of the batch's mean loss, as the backend computes it.
std::vector<float> float_gradients(const Problem& problem, double* mean_loss) {
  cpu::NetworkWorkspace workspace(kBatch);
  for (std::size_t i = 0; i < problem.batch.images.size(); ++i) workspace.images[i] = float(problem.batch.images[i]);
  cpu::network_forward(problem.parameters.data(), kBatch, workspace);
  double loss = 0;
  for (int n = 0; n < kBatch; ++n) {
    loss += math::softmax_xent_row(&workspace.logits[std::size_t(n) * kClasses], kClasses,
                                   problem.batch.int_labels[std::size_t(n)], 1.0f / kBatch,
                                   &workspace.dlogits[std::size_t(n) * kClasses])
                .loss;
  }
  *mean_loss = loss / kBatch;
  std::vector<float> gradients(kParameterCount, std::numeric_limits<float>::quiet_NaN());
  cpu::network_backward(problem.parameters.data(), kBatch, workspace, gradients.data());
  return gradients;
}

double tensor_max_abs(const std::vector<double>& values, const TensorSpec& tensor) {
  double result = 0;
  for (std::size_t i = 0; i < tensor.count; ++i) result = std::max(result, std::fabs(values[tensor.offset + i]));
  return result;
}

// Float32 against float64, every element of every tensor. The float forward carries sums of up
// to 5408 products (fc1) whose rounding is a random walk of ~sqrt(K) u ~ 5e-6 relative to the
// terms' magnitude, and backward sums of up to 4 * 676 (conv weights); errors also pass from
// layer to layer. A gradient element can be a near-cancelling sum, so the bound is set against
// the tensor's largest gradient: 2e-5 of it (observed worst: 6e-7), plus 2e-5 relative.
TEST(GradientCheckTest, FloatBackpropMatchesFloat64Backprop) {
  for (const uint64_t seed : {1u, 2u}) {
    const Problem problem = make_problem(seed);
    double float_loss = 0;
    const std::vector<float> gradients = float_gradients(problem, &float_loss);
    const std::vector<double> params = reference::to_double(problem.parameters);
    const reference::Network net = reference::forward(params, problem.batch.images, problem.batch.int_labels, kBatch);
    const std::vector<double> expected = reference::backward(params, problem.batch.images, problem.batch.int_labels, kBatch, net);
    // The loss: 1e-5 relative, the same argument on a value of ~2.3.
    EXPECT_NEAR(float_loss, net.mean_loss, 1e-5 * net.mean_loss) << "seed " << seed;

    for (const TensorSpec& tensor : kParameterTensors) {
      const double scale = tensor_max_abs(expected, tensor);
      ASSERT_GT(scale, 0.0) << tensor.name << ": an all-zero gradient would make this check vacuous";
      double worst = 0;
      for (std::size_t i = 0; i < tensor.count; ++i) {
        const double ref = expected[tensor.offset + i];
        const double error = std::fabs(double(gradients[tensor.offset + i]) - ref);
        worst = std::max(worst, error / scale);
        ASSERT_LE(error, 2e-5 * scale + 2e-5 * std::fabs(ref))
            << tensor.name << "[" << i << "] = " << gradients[tensor.offset + i] << ", float64 " << ref;
      }
      char text[32];
      std::snprintf(text, sizeof text, "%.3g", worst);
      RecordProperty(std::string(tensor.name) + "_worst_error_over_max_seed" + std::to_string(seed), text);
    }
  }
}

// Indices of `tensor` to probe: its largest gradients (where an error would show most) and a
// few at random (which may be zero: a dead unit's weights must then have zero difference).
std::vector<std::size_t> probe_indices(const TensorSpec& tensor, const std::vector<double>& gradients, Rng& rng) {
  std::vector<std::size_t> order(tensor.count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  const std::size_t largest = std::min<std::size_t>(4, tensor.count);
  std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(largest), order.end(), [&](std::size_t a, std::size_t b) {
    return std::fabs(gradients[tensor.offset + a]) > std::fabs(gradients[tensor.offset + b]);
  });
  std::vector<std::size_t> picks(order.begin(), order.begin() + std::ptrdiff_t(largest));
  for (int k = 0; k < 4; ++k) picks.push_back(std::size_t(rng.below(tensor.count)));
  return picks;
}

// Central differences of the float64 loss: (L(p + h) - L(p - h)) / 2h. Within one linear piece of
// the ReLUs and poolings the loss is smooth (softmax-CE of an affine map), so the truncation
// error is h^2/6 |L'''| ~ 1e-11 for h = 1e-5 and unit-scale third derivatives, and the
// rounding error 1e-16 * L / h ~ 3e-11. Probes whose +h and -h passes land on different pieces
// (a kink crossed) are skipped, and counted so the test cannot pass by skipping everything.
// Bound: 1e-6 relative plus 1e-9 absolute, two orders above both error sources.
TEST(GradientCheckTest, Float64BackpropMatchesFiniteDifferences) {
  const Problem problem = make_problem(3);
  std::vector<double> params = reference::to_double(problem.parameters);
  const auto& images = problem.batch.images;
  const auto& labels = problem.batch.int_labels;
  const reference::Network net = reference::forward(params, images, labels, kBatch);
  const std::vector<double> gradients = reference::backward(params, images, labels, kBatch, net);
  double float_loss = 0;
  const std::vector<float> float_grads = float_gradients(problem, &float_loss);

  constexpr double kStep = 1e-5;
  Rng rng(77);
  int checked = 0, skipped = 0;
  for (const TensorSpec& tensor : kParameterTensors) {
    const double scale = tensor_max_abs(gradients, tensor);
    for (const std::size_t i : probe_indices(tensor, gradients, rng)) {
      const std::size_t at = tensor.offset + i;
      const double original = params[at];
      params[at] = original + kStep;
      const reference::Network plus = reference::forward(params, images, labels, kBatch);
      params[at] = original - kStep;
      const reference::Network minus = reference::forward(params, images, labels, kBatch);
      params[at] = original;
      if (!plus.same_piece(minus) || !plus.same_piece(net)) {
        ++skipped;
        continue;
      }
      ++checked;
      const double difference = (plus.mean_loss - minus.mean_loss) / (2 * kStep);
      EXPECT_NEAR(gradients[at], difference, 1e-6 * std::fabs(difference) + 1e-9)
          << tensor.name << "[" << i << "]: backprop " << gradients[at] << ", finite difference " << difference;
      // And the float path against the finite difference, at the float-vs-float64 bound above.
      EXPECT_NEAR(float_grads[at], difference, 2e-5 * scale + 2e-5 * std::fabs(difference))
          << tensor.name << "[" << i << "] (float path)";
    }
  }
  RecordProperty("probes_checked", checked);
  RecordProperty("probes_skipped_at_kinks", skipped);
  EXPECT_GE(checked, 40) << skipped << " probes crossed a kink";
}

}  // namespace
}  // namespace train_gpu

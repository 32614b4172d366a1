// Each CPU layer (host/model/cpu_layers.h) against the float64 loops of reference_network.h.
//
// Tolerances: a float32 sum of K products differs from the exact sum by at most about
// K * 2^-24 * sum|terms| (the classical gamma_K bound; blocked or FMA summation in oneDNN and
// the fused convolution only does better). So every comparison here bounds |actual - reference| by
//   kSafety * K * 2^-24 * magnitude + 2^-24 * |reference|
// where `magnitude` is the same layer evaluated in float64 on the absolute values of its inputs
// (sum|terms| per element) and the last term covers the final rounding to float. kSafety = 2
// absorbs the rounding of the inputs' own products.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <vector>

#include "host/common/error.h"
#include "host/common/random.h"
#include "host/model/cpu_conv_pool.h"
#include "host/model/cpu_layers.h"
#include "host/model/cpu_threads.h"
#include "host/model/model_spec.h"
#include "reference_network.h"

namespace train_gpu {
namespace {

constexpr double kUnitRoundoff = 1.0 / 16777216.0;  // 2^-24
constexpr double kSafety = 2.0;
const float kPoison = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_floats(std::size_t count, uint64_t seed, float low, float high) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (auto& v : values) v = low + (high - low) * rng.uniform01();
  return values;
}

std::vector<double> absolute(const std::vector<float>& values) {
  std::vector<double> result(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) result[i] = std::fabs(double(values[i]));
  return result;
}

// |actual - reference| <= kSafety * terms * u * magnitude + u * |reference| for every element.
void expect_within_summation_bound(const float* actual, const std::vector<double>& reference,
                                   const std::vector<double>& magnitude, double terms, const char* what) {
  int failures = 0;
  for (std::size_t i = 0; i < reference.size() && failures < 5; ++i) {
    const double bound = kSafety * terms * kUnitRoundoff * magnitude[i] + kUnitRoundoff * std::fabs(reference[i]);
    const double error = std::fabs(double(actual[i]) - reference[i]);
    if (!(error <= bound)) {  // also catches NaN: an unwritten, poisoned element
      ADD_FAILURE() << what << "[" << i << "] = " << actual[i] << ", reference " << reference[i] << ", error " << error
                    << " > bound " << bound;
      ++failures;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution + ReLU + max pooling, fused (cpu_conv_pool.h)

// What the fused forward gives for `count` images.
struct FusedForward {
  std::vector<float> maps;      // (count, 32, 26, 26)
  std::vector<float> pooled;    // (count, 5408)
  std::vector<uint8_t> argmax;  // (count, 5408)
};

FusedForward fused_forward(const std::vector<float>& images, int count, const std::vector<float>& weight,
                           const std::vector<float>& bias) {
  FusedForward out;
  out.maps.assign(std::size_t(count) * model::kConvOutputs, kPoison);
  out.pooled.assign(std::size_t(count) * model::kFlatFeatures, kPoison);
  out.argmax.assign(std::size_t(count) * model::kFlatFeatures, 255);
  cpu::conv_relu_pool_forward(images.data(), count, weight.data(), bias.data(), out.pooled.data(), out.argmax.data(),
                              out.maps.data());
  return out;
}

// Seeded random images in [0, 1], weights in [-0.5, 0.5] and biases in [-0.3, 0.3].
struct ConvInputs {
  std::vector<float> images, weight, bias;
};

ConvInputs random_conv_inputs(int count, uint64_t seed) {
  using namespace model;
  return {random_floats(std::size_t(count) * kImagePixels, seed, 0.0f, 1.0f),
          random_floats(kConvWeightCount, seed + 1, -0.5f, 0.5f), random_floats(kConvFilters, seed + 2, -0.3f, 0.3f)};
}

// The flat (count * 32, 26, 26) index of pooled element o's winner, from its in-window position.
std::size_t winner_index(std::size_t o, uint8_t position) {
  using namespace model;
  const std::size_t map = o / (kPoolSide * kPoolSide), py = o / kPoolSide % kPoolSide, px = o % kPoolSide;
  return (map * kConvSide + 2 * py + position / 2) * kConvSide + 2 * px + position % 2;
}

std::vector<double> relu_of(std::vector<double> values) {
  for (double& v : values) v = std::max(v, 0.0);
  return values;
}

// Small integers: every product and partial sum is exact in float32, so the fused loops must
// reproduce the float64 convolution, ReLU and pooling bit for bit, ties included (ReLU's zeros
// and equal integers tie often: the first maximum in row-major order must win).
TEST(CpuLayersTest, ConvReluPoolIsExactOnSmallIntegers) {
  using namespace model;
  const int count = 3;
  Rng rng(11);
  std::vector<float> images(std::size_t(count) * kImagePixels), weight(kConvWeightCount), bias(kConvFilters);
  for (auto& v : images) v = float(rng.below(4));
  for (auto& v : weight) v = float(int(rng.below(5)) - 2);
  for (auto& v : bias) v = float(int(rng.below(7)) - 3);
  const FusedForward out = fused_forward(images, count, weight, bias);

  const auto maps = relu_of(reference::conv_forward(reference::to_double(images), count, kImageSide, kConvFilters,
                                                    reference::to_double(weight).data(),
                                                    reference::to_double(bias).data()));
  int positives = 0;
  for (std::size_t i = 0; i < maps.size(); ++i) {
    ASSERT_EQ(double(out.maps[i]), maps[i]) << "map element " << i;
    positives += maps[i] > 0;
  }
  EXPECT_GT(positives, 1000);  // both ReLU branches are exercised
  EXPECT_LT(positives, int(maps.size()) - 1000);

  std::vector<std::size_t> winner;
  const auto pooled = reference::maxpool_forward(maps, count * kConvFilters, kConvSide, winner);
  int ties = 0;
  for (std::size_t o = 0; o < pooled.size(); ++o) {
    ASSERT_EQ(double(out.pooled[o]), pooled[o]) << "pooled " << o;
    ASSERT_EQ(winner_index(o, out.argmax[o]), winner[o]) << "argmax of window " << o;
    const std::size_t last = winner_index(o, 3);
    ties += maps[last] == pooled[o] && winner[o] != last;
  }
  EXPECT_GT(ties, 1000);  // windows whose maximum appears twice or more: the tie rule is exercised
}

// Random floats: maps and pooled values within the float32 summation bound of the float64
// result; argmax equal wherever the window's two largest values are further apart than that.
TEST(CpuLayersTest, ConvReluPoolMatchesFloat64OnRandomInputs) {
  using namespace model;
  const int count = 5;  // not a multiple of the thread count: the split's uneven share runs
  const auto [images, weight, bias] = random_conv_inputs(count, 21);
  const FusedForward out = fused_forward(images, count, weight, bias);

  const auto maps = relu_of(reference::conv_forward(reference::to_double(images), count, kImageSide, kConvFilters,
                                                    reference::to_double(weight).data(),
                                                    reference::to_double(bias).data()));
  const auto magnitude = reference::conv_forward(absolute(images), count, kImageSide, kConvFilters,
                                                 absolute(weight).data(), absolute(bias).data());
  expect_within_summation_bound(out.maps.data(), maps, magnitude, 10, "conv maps");

  std::vector<std::size_t> winner;
  const auto pooled = reference::maxpool_forward(maps, count * kConvFilters, kConvSide, winner);
  std::vector<double> pooled_magnitude(pooled.size());
  for (std::size_t o = 0; o < pooled.size(); ++o) pooled_magnitude[o] = magnitude[winner[o]];
  expect_within_summation_bound(out.pooled.data(), pooled, pooled_magnitude, 10, "pooled");
  int compared = 0;
  for (std::size_t o = 0; o < pooled.size(); ++o) {
    const double bound = 2 * (kSafety * 10 * kUnitRoundoff * pooled_magnitude[o] + kUnitRoundoff * pooled[o]);
    bool clear = true;  // no other position within 2 bounds of the maximum
    for (uint8_t k = 0; k < 4; ++k) {
      const std::size_t i = winner_index(o, k);
      if (i != winner[o] && pooled[o] - maps[i] <= bound) clear = false;
    }
    if (!clear) continue;
    ASSERT_EQ(winner_index(o, out.argmax[o]), winner[o]) << "argmax of window " << o;
    ++compared;
  }
  EXPECT_GT(compared, int(pooled.size()) / 2);
}

// The parameter gradients against float64: dpooled routed to each window's winner in the maps
// (the reference's winner, from the same argmax), then the reference convolution backward.
TEST(CpuLayersTest, ConvReluPoolBackwardParamsMatchesFloat64) {
  using namespace model;
  const int count = 5;
  const auto [images, weight, bias] = random_conv_inputs(count, 31);
  const FusedForward forward = fused_forward(images, count, weight, bias);
  auto dpooled = random_floats(std::size_t(count) * kFlatFeatures, 34, -1e-3f, 1e-3f);
  for (std::size_t i = 0; i < dpooled.size(); ++i) {
    if (forward.pooled[i] <= 0.0f) dpooled[i] = 0.0f;  // as ReLU's backward leaves them
  }

  std::vector<float> scratch(std::size_t(count) * cpu::kConvGradientFloatsPerImage, kPoison);
  std::vector<float> weight_grad(kConvWeightCount, kPoison), bias_grad(kConvFilters, kPoison);
  cpu::conv_relu_pool_backward_params(images.data(), dpooled.data(), forward.argmax.data(), count, scratch.data(),
                                      weight_grad.data(), bias_grad.data());

  std::vector<double> dmaps(std::size_t(count) * kConvOutputs, 0.0), abs_dmaps(dmaps.size(), 0.0);
  for (std::size_t o = 0; o < dpooled.size(); ++o) {
    dmaps[winner_index(o, forward.argmax[o])] = dpooled[o];
    abs_dmaps[winner_index(o, forward.argmax[o])] = std::fabs(double(dpooled[o]));
  }
  std::vector<double> ref_w(kConvWeightCount), ref_b(kConvFilters), mag_w(kConvWeightCount), mag_b(kConvFilters);
  reference::conv_backward(reference::to_double(images), dmaps, count, kImageSide, kConvFilters, ref_w.data(),
                           ref_b.data());
  reference::conv_backward(absolute(images), abs_dmaps, count, kImageSide, kConvFilters, mag_w.data(), mag_b.data());
  const double terms = double(count) * kConvSide * kConvSide;  // 3380 products per weight, at most
  expect_within_summation_bound(weight_grad.data(), ref_w, mag_w, terms, "conv weight grad");
  expect_within_summation_bound(bias_grad.data(), ref_b, mag_b, terms, "conv bias grad");
}

// The same inputs with 1 and with 3 threads: bit-identical outputs (each image's work does not
// depend on its thread, and the backward pass adds its per-image sums in image order).
TEST(CpuLayersTest, ConvReluPoolResultsDoNotDependOnTheThreadCount) {
  using namespace model;
  const int count = 7;
  const ConvInputs in = random_conv_inputs(count, 51);
  const auto dpooled = random_floats(std::size_t(count) * kFlatFeatures, 54, -1e-3f, 1e-3f);
  auto run = [&](int threads) {
    cpu::set_thread_count(threads);
    FusedForward out = fused_forward(in.images, count, in.weight, in.bias);
    std::vector<float> scratch(std::size_t(count) * cpu::kConvGradientFloatsPerImage);
    std::vector<float> gradients(kConvWeightCount + kConvBiasCount);
    cpu::conv_relu_pool_backward_params(in.images.data(), dpooled.data(), out.argmax.data(), count, scratch.data(),
                                        gradients.data(), gradients.data() + kConvWeightCount);
    out.maps.insert(out.maps.end(), gradients.begin(), gradients.end());
    return out;
  };
  const FusedForward one = run(1), three = run(3);
  cpu::set_thread_count(0);
  EXPECT_EQ(0, std::memcmp(one.maps.data(), three.maps.data(), one.maps.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(one.pooled.data(), three.pooled.data(), one.pooled.size() * sizeof(float)));
  EXPECT_EQ(one.argmax, three.argmax);
}

// A pattern placed through the top-left tap alone (maps = the image): [[5, 7], [7, 1]] has its
// first maximum at position 1; all-equal windows (a positive bias on zeros) at position 0.
TEST(CpuLayersTest, ConvReluPoolTiesGoToTheFirstPositionInRowMajorOrder) {
  using namespace model;
  std::vector<float> image(kImagePixels, 0.0f), weight(kConvWeightCount, 0.0f), bias(kConvFilters, 0.0f);
  for (int f = 0; f < kConvFilters; ++f) weight[std::size_t(f) * 9] = 1.0f;  // tap (0, 0): map[y][x] = image[y][x]
  image[0] = 5;
  image[1] = 7;
  image[kImageSide] = 7;
  image[kImageSide + 1] = 1;
  bias[1] = 2.0f;  // filter 1: map = image + 2, so its all-zero windows become all-2 ties
  const FusedForward out = fused_forward(image, 1, weight, bias);
  const std::size_t plane = kPoolSide * kPoolSide;
  EXPECT_EQ(out.pooled[0], 7.0f);
  EXPECT_EQ(out.argmax[0], 1);
  EXPECT_EQ(out.pooled[1], 0.0f);  // a window of ReLU'd zeros
  EXPECT_EQ(out.argmax[1], 0);
  EXPECT_EQ(out.pooled[plane + 1], 2.0f);
  EXPECT_EQ(out.argmax[plane + 1], 0);
}

// ---------------------------------------------------------------------------------------------
// ReLU

TEST(CpuLayersTest, ReluAndItsBackwardFollowTheOutputSign) {
  std::vector<float> values = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.5f, -1e30f};
  cpu::relu_inplace(values.data(), values.size());
  const std::vector<float> expected = {0.0f, 0.0f, 0.0f, 1e-30f, 3.5f, 0.0f};
  EXPECT_EQ(values, expected);
  std::vector<float> gradient = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  cpu::relu_backward_inplace(values.data(), gradient.data(), gradient.size());
  const std::vector<float> expected_gradient = {0.0f, 0.0f, 0.0f, 4.0f, 5.0f, 0.0f};
  EXPECT_EQ(gradient, expected_gradient);
}

// ---------------------------------------------------------------------------------------------
// Dense

struct DenseShape {
  int count, in, out;
};

class CpuDenseTest : public ::testing::TestWithParam<DenseShape> {};

TEST_P(CpuDenseTest, ForwardAndBackwardMatchFloat64) {
  const DenseShape shape = GetParam();
  const auto input = random_floats(std::size_t(shape.count) * shape.in, 51, 0.0f, 1.0f);
  const auto weight = random_floats(std::size_t(shape.out) * shape.in, 52, -0.05f, 0.05f);
  const auto bias = random_floats(std::size_t(shape.out), 53, -0.1f, 0.1f);
  const auto doutput = random_floats(std::size_t(shape.count) * shape.out, 54, -0.01f, 0.01f);

  std::vector<float> output(std::size_t(shape.count) * shape.out, kPoison);
  cpu::dense_forward(input.data(), shape.count, shape.in, shape.out, weight.data(), bias.data(), output.data());
  const auto ref_out = reference::dense_forward(reference::to_double(input), shape.count, shape.in, shape.out,
                                                reference::to_double(weight).data(), reference::to_double(bias).data());
  const auto mag_out = reference::dense_forward(absolute(input), shape.count, shape.in, shape.out,
                                                absolute(weight).data(), absolute(bias).data());
  expect_within_summation_bound(output.data(), ref_out, mag_out, shape.in + 1, "dense output");

  std::vector<float> weight_grad(weight.size(), kPoison), bias_grad(bias.size(), kPoison),
      dinput(input.size(), kPoison);
  cpu::dense_backward(input.data(), doutput.data(), shape.count, shape.in, shape.out, weight.data(),
                      weight_grad.data(), bias_grad.data(), dinput.data());
  std::vector<double> ref_w(weight.size()), ref_b(bias.size()), mag_w(weight.size()), mag_b(bias.size());
  std::vector<double> ref_dx, mag_dx;
  reference::dense_backward(reference::to_double(input), reference::to_double(doutput), shape.count, shape.in,
                            shape.out, reference::to_double(weight).data(), ref_w.data(), ref_b.data(), &ref_dx);
  reference::dense_backward(absolute(input), absolute(doutput), shape.count, shape.in, shape.out,
                            absolute(weight).data(), mag_w.data(), mag_b.data(), &mag_dx);
  expect_within_summation_bound(weight_grad.data(), ref_w, mag_w, shape.count, "dense weight grad");
  expect_within_summation_bound(bias_grad.data(), ref_b, mag_b, shape.count, "dense bias grad");
  expect_within_summation_bound(dinput.data(), ref_dx, mag_dx, shape.out, "dense input grad");

  // Without an input gradient the parameter gradients are the same, and dinput is untouched.
  std::vector<float> weight_grad2(weight.size(), kPoison), bias_grad2(bias.size(), kPoison);
  cpu::dense_backward(input.data(), doutput.data(), shape.count, shape.in, shape.out, weight.data(),
                      weight_grad2.data(), bias_grad2.data(), nullptr);
  EXPECT_EQ(weight_grad2, weight_grad);
  EXPECT_EQ(bias_grad2, bias_grad);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CpuDenseTest,
                         ::testing::Values(DenseShape{5, 37, 11},                                  // odd, small
                                           DenseShape{3, model::kFlatFeatures, model::kHidden},    // fc1
                                           DenseShape{64, model::kHidden, model::kClasses}));      // fc2

// ---------------------------------------------------------------------------------------------
// Whole network and helpers

TEST(CpuLayersTest, NetworkRejectsABatchLargerThanItsWorkspace) {
  cpu::NetworkWorkspace workspace(2);
  std::vector<float> parameters(model::kParameterCount, 0.0f), gradients(model::kParameterCount);
  EXPECT_THROW(cpu::network_forward(parameters.data(), 3, workspace), Error);
  EXPECT_THROW(cpu::network_forward(parameters.data(), 0, workspace), Error);
  EXPECT_THROW(cpu::network_backward(parameters.data(), 3, workspace, gradients.data()), Error);
  EXPECT_THROW(cpu::NetworkWorkspace(0), Error);
}

TEST(CpuLayersTest, AllFiniteFindsNanAndInfinityAnywhere) {
  std::vector<float> values(1001, 1.0f);
  values[3] = std::numeric_limits<float>::max();
  values[4] = std::numeric_limits<float>::denorm_min();
  values[5] = -0.0f;
  EXPECT_TRUE(cpu::all_finite(values.data(), values.size()));
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    for (const std::size_t at : {std::size_t{0}, std::size_t{517}, values.size() - 1}) {
      std::vector<float> copy = values;
      copy[at] = bad;
      EXPECT_FALSE(cpu::all_finite(copy.data(), copy.size())) << bad << " at " << at;
    }
  }
  EXPECT_TRUE(cpu::all_finite(values.data(), 0));
}

}  // namespace
}  // namespace train_gpu

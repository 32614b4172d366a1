// Each CPU layer (host/model/cpu_layers.h) against the float64 loops of reference_network.h.
//
// Tolerances: a float32 sum of K products differs from the exact sum by at most about
// K * 2^-24 * sum|terms| (the classical gamma_K bound; blocked or FMA summation in OpenBLAS only
// does better). So every comparison here bounds |actual - reference| by
//   kSafety * K * 2^-24 * magnitude + 2^-24 * |reference|
// where `magnitude` is the same layer evaluated in float64 on the absolute values of its inputs
// (sum|terms| per element) and the last term covers the final rounding to float. kSafety = 2
// absorbs the rounding of the inputs' own products.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "host/common/error.h"
#include "host/common/random.h"
#include "host/model/cpu_layers.h"
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

// (count, channels, plane) NCHW <-> (channels, count, plane) CNHW, the convolution's layout.
template <typename T>
std::vector<T> nchw_to_cnhw(const std::vector<T>& values, int count, int channels, std::size_t plane) {
  std::vector<T> result(values.size());
  for (int n = 0; n < count; ++n)
    for (int c = 0; c < channels; ++c)
      for (std::size_t p = 0; p < plane; ++p)
        result[(std::size_t(c) * count + n) * plane + p] = values[(std::size_t(n) * channels + c) * plane + p];
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
// Convolution

TEST(CpuLayersTest, Im2colPlacesEveryTapOfEveryWindow) {
  const int count = 2, side = 6, out = side - 2;
  std::vector<float> images(std::size_t(count) * side * side);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = float(i);  // each pixel its own index: exact
  std::vector<float> columns(std::size_t(count) * 9 * out * out, kPoison);
  cpu::im2col_3x3(images.data(), count, side, columns.data());
  for (int n = 0; n < count; ++n)
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx)
        for (int y = 0; y < out; ++y)
          for (int x = 0; x < out; ++x) {
            const float expected = images[(std::size_t(n) * side + y + ky) * side + x + kx];
            const float actual = columns[(std::size_t(ky * 3 + kx) * count + n) * out * out + std::size_t(y) * out + x];
            ASSERT_EQ(actual, expected) << "n " << n << " tap " << ky << "," << kx << " at " << y << "," << x;
          }
}

// Small integers: every product and partial sum is exact in float32, so the im2col + GEMM
// plumbing must reproduce the direct convolution bit for bit.
TEST(CpuLayersTest, ConvForwardIsExactOnSmallIntegers) {
  using namespace model;
  const int count = 3, filters = kConvFilters;
  Rng rng(11);
  std::vector<float> images(std::size_t(count) * kImagePixels), weight(std::size_t(filters) * 9), bias(filters);
  for (auto& v : images) v = float(rng.below(4));
  for (auto& v : weight) v = float(int(rng.below(5)) - 2);
  for (auto& v : bias) v = float(int(rng.below(7)) - 3);
  std::vector<float> columns(std::size_t(count) * 9 * kConvSide * kConvSide, kPoison);
  std::vector<float> output(std::size_t(count) * kConvOutputs, kPoison);
  cpu::im2col_3x3(images.data(), count, kImageSide, columns.data());
  cpu::conv_forward_relu(columns.data(), count, kConvSide, filters, weight.data(), bias.data(), output.data());

  const auto reference = nchw_to_cnhw(
      reference::conv_forward(reference::to_double(images), count, kImageSide, filters,
                              reference::to_double(weight).data(), reference::to_double(bias).data()),
      count, filters, std::size_t(kConvSide) * kConvSide);
  int positives = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    ASSERT_EQ(double(output[i]), std::max(reference[i], 0.0)) << "element " << i;
    positives += reference[i] > 0;
  }
  // Both ReLU branches are exercised.
  EXPECT_GT(positives, 1000);
  EXPECT_LT(positives, int(reference.size()) - 1000);
}

TEST(CpuLayersTest, ConvForwardMatchesFloat64OnRandomInputs) {
  using namespace model;
  const int count = 4, filters = kConvFilters;
  const auto images = random_floats(std::size_t(count) * kImagePixels, 21, 0.0f, 1.0f);
  const auto weight = random_floats(std::size_t(filters) * 9, 22, -0.5f, 0.5f);
  const auto bias = random_floats(std::size_t(filters), 23, -0.3f, 0.3f);
  std::vector<float> columns(std::size_t(count) * 9 * kConvSide * kConvSide, kPoison);
  std::vector<float> output(std::size_t(count) * kConvOutputs, kPoison);
  cpu::im2col_3x3(images.data(), count, kImageSide, columns.data());
  cpu::conv_forward_relu(columns.data(), count, kConvSide, filters, weight.data(), bias.data(), output.data());

  const std::size_t plane = std::size_t(kConvSide) * kConvSide;
  auto reference = nchw_to_cnhw(reference::conv_forward(reference::to_double(images), count, kImageSide, filters,
                                                        reference::to_double(weight).data(),
                                                        reference::to_double(bias).data()),
                                count, filters, plane);
  for (double& v : reference) v = std::max(v, 0.0);
  const auto magnitude = nchw_to_cnhw(reference::conv_forward(absolute(images), count, kImageSide, filters,
                                                              absolute(weight).data(), absolute(bias).data()),
                                      count, filters, plane);
  expect_within_summation_bound(output.data(), reference, magnitude, 10, "conv output");
}

TEST(CpuLayersTest, ConvBackwardParamsMatchesFloat64) {
  using namespace model;
  // 5 images: 3380 terms per bias gradient, not a multiple of 8, so the 8-lane sum's tail runs.
  const int count = 5, filters = kConvFilters;
  const auto images = random_floats(std::size_t(count) * kImagePixels, 31, 0.0f, 1.0f);
  // Generated in NCHW for the reference; the layer gets it in its CNHW.
  auto doutput = random_floats(std::size_t(count) * kConvOutputs, 32, -1e-3f, 1e-3f);
  for (std::size_t i = 0; i < doutput.size(); i += 3) doutput[i] = 0.0f;  // as ReLU backward leaves them
  const auto doutput_cnhw = nchw_to_cnhw(doutput, count, filters, std::size_t(kConvSide) * kConvSide);
  std::vector<float> columns(std::size_t(count) * 9 * kConvSide * kConvSide);
  cpu::im2col_3x3(images.data(), count, kImageSide, columns.data());
  std::vector<float> weight_grad(std::size_t(filters) * 9, kPoison), bias_grad(filters, kPoison);
  cpu::conv_backward_params(columns.data(), doutput_cnhw.data(), count, kConvSide, filters, weight_grad.data(),
                            bias_grad.data());

  std::vector<double> ref_w(weight_grad.size()), ref_b(bias_grad.size()), mag_w(weight_grad.size()),
      mag_b(bias_grad.size());
  reference::conv_backward(reference::to_double(images), reference::to_double(doutput), count, kImageSide, filters,
                           ref_w.data(), ref_b.data());
  reference::conv_backward(absolute(images), absolute(doutput), count, kImageSide, filters, mag_w.data(), mag_b.data());
  const double terms = double(count) * kConvSide * kConvSide;  // 3380 products per weight
  expect_within_summation_bound(weight_grad.data(), ref_w, mag_w, terms, "conv weight grad");
  expect_within_summation_bound(bias_grad.data(), ref_b, mag_b, terms, "conv bias grad");
}

// ---------------------------------------------------------------------------------------------
// Max pooling

TEST(CpuLayersTest, MaxPoolForwardAndBackwardMatchReferenceWithoutTies) {
  const int count = 3, channels = 4, side = 26, half = side / 2;
  // Distinct values (a shuffled ramp), so every window has one maximum.
  const std::size_t size = std::size_t(count) * channels * side * side;
  std::vector<float> input(size);
  for (std::size_t i = 0; i < size; ++i) input[i] = float(i) - float(size / 2);
  Rng rng(41);
  for (std::size_t i = size - 1; i > 0; --i) std::swap(input[i], input[rng.below(i + 1)]);

  std::vector<float> output(size / 4, kPoison);
  std::vector<uint8_t> argmax(size / 4, 255);
  const std::size_t plane = std::size_t(side) * side;
  const auto input_cnhw = nchw_to_cnhw(input, count, channels, plane);  // the layer reads the conv's CNHW
  cpu::maxpool2x2_forward(input_cnhw.data(), count, channels, side, output.data(), argmax.data());
  std::vector<std::size_t> winner;
  const auto reference = reference::maxpool_forward(reference::to_double(input), count * channels, side, winner);
  for (std::size_t o = 0; o < reference.size(); ++o) {
    ASSERT_EQ(double(output[o]), reference[o]) << "pooled " << o;
    // The winner's flat index from the stored in-window position.
    const std::size_t map = o / (half * half), py = o / half % half, px = o % half;
    const std::size_t flat = (map * side + 2 * py + argmax[o] / 2) * side + 2 * px + argmax[o] % 2;
    ASSERT_EQ(flat, winner[o]) << "argmax of window " << o;
  }

  const auto doutput = random_floats(size / 4, 42, -1.0f, 1.0f);
  std::vector<float> dinput(size, kPoison);
  cpu::maxpool2x2_backward(doutput.data(), argmax.data(), count, channels, side, dinput.data());
  std::vector<float> expected(size, 0.0f);
  for (std::size_t o = 0; o < winner.size(); ++o) expected[winner[o]] = doutput[o];
  const auto expected_cnhw = nchw_to_cnhw(expected, count, channels, plane);
  for (std::size_t i = 0; i < size; ++i) ASSERT_EQ(dinput[i], expected_cnhw[i]) << "dinput " << i;  // pure routing: exact
}

TEST(CpuLayersTest, MaxPoolTiesGoToTheFirstPositionInRowMajorOrder) {
  // One 4x4 map, four windows: [[5, 7], [7, 1]] has its first maximum at position 1; [[0, 0],
  // [0, 0]] (ReLU's usual tie) and the all -1 windows at position 0.
  const float square[16] = {5, 7, 0, 0,  //
                            7, 1, 0, 0,  //
                            -1, -1, -1, -1,  //
                            -1, -1, -1, -1};
  float output[4];
  uint8_t argmax[4];
  cpu::maxpool2x2_forward(square, 1, 1, 4, output, argmax);
  EXPECT_EQ(output[0], 7.0f);
  EXPECT_EQ(argmax[0], 1);
  EXPECT_EQ(output[1], 0.0f);
  EXPECT_EQ(argmax[1], 0);
  EXPECT_EQ(argmax[2], 0);  // all -1
  EXPECT_EQ(argmax[3], 0);
}

TEST(CpuLayersTest, MaxPoolRejectsAnOddSide) {
  float buffer[9] = {};
  uint8_t argmax[4] = {};
  EXPECT_THROW(cpu::maxpool2x2_forward(buffer, 1, 1, 3, buffer, argmax), Error);
  EXPECT_THROW(cpu::maxpool2x2_backward(buffer, argmax, 1, 1, 3, buffer), Error);
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

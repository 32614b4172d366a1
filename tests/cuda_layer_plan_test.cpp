// CPU tests of what the spec-driven CUDA layers decide without a device (cuda/network/layer_plan.h)
// and of the pooling math their kernels run (cuda/math/window_pool_math.h), the latter against the
// CPU backend's oneDNN pooling layer, the oracle the GPU tests use too: a wrong window bound, a
// padded cell counted, or a gradient routed to the wrong input fails here, on any machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda/math/pad_math.h"
#include "cuda/math/window_pool_math.h"
#include "cuda/network/layer_plan.h"
#include "host/model/cpu/conv2d_layer.h"
#include "host/model/cpu/pooling_layer.h"
#include "support/example_specs.h"

namespace train_gpu {
namespace {

using namespace testing::layers;
using cuda::ConvolutionPlan;
using cuda::cudnn_output_size;
using cuda::plan_convolution;

model::LayerSpec first_layer(const model::Shape& input, const model::LayerSpec& layer) {
  return model::build_network(input, {layer, flatten(), dense(2)}).layers.front();
}

TEST(ConvolutionPlanTest, SymmetricPaddingGoesToCudnnAndGivesTheSpecsOutput) {
  struct Case {
    model::Shape input;
    model::LayerSpec layer;
  };
  const Case cases[] = {
      {{1, 28, 28}, conv(8, 3)},                          // valid: no padding
      {{3, 32, 32}, conv(8, 3, 1, Padding::kSame)},       // same, odd kernel, stride 1: 1 each side
      {{3, 32, 32}, conv(8, 5, 1, Padding::kSame)},       // 2 each side
      {{2, 9, 9}, conv(4, 3, 2, Padding::kSame)},         // total (5-1)*2+3-9 = 2: 1 each side
      {{2, 11, 7}, conv(4, 3, 2, Padding::kValid)},       // valid with a stride that leaves a remainder
  };
  for (const Case& c : cases) {
    const model::LayerSpec layer = first_layer(c.input, c.layer);
    const ConvolutionPlan plan = plan_convolution(layer);
    SCOPED_TRACE(model::to_string(c.input) + " k" + std::to_string(layer.kernel_h) + " s" + std::to_string(layer.stride_h));
    EXPECT_FALSE(plan.explicit_padding);
    EXPECT_EQ(plan.pad_h, layer.pad_top);
    EXPECT_EQ(plan.pad_w, layer.pad_left);
    EXPECT_EQ(plan.convolved, layer.input);
    EXPECT_EQ(cudnn_output_size(layer.input.height, plan.pad_h, layer.kernel_h, layer.stride_h), layer.output.height);
    EXPECT_EQ(cudnn_output_size(layer.input.width, plan.pad_w, layer.kernel_w, layer.stride_w), layer.output.width);
  }
}

TEST(ConvolutionPlanTest, AsymmetricSamePaddingIsExplicitAndGivesTheSpecsOutput) {
  struct Case {
    model::Shape input;
    model::LayerSpec layer;
  };
  const Case cases[] = {
      {{3, 32, 32}, conv(8, 3, 2, Padding::kSame)},  // total (16-1)*2+3-32 = 1: 0 top, 1 bottom
      {{1, 28, 28}, conv(8, 2, 1, Padding::kSame)},  // even kernel: total 1
      {{1, 28, 28}, conv(8, 4, 1, Padding::kSame)},  // total 3: 1 top, 2 bottom
  };
  for (const Case& c : cases) {
    const model::LayerSpec layer = first_layer(c.input, c.layer);
    SCOPED_TRACE(model::to_string(c.input) + " k" + std::to_string(layer.kernel_h) + " s" + std::to_string(layer.stride_h));
    // The premise: TensorFlow's padding is asymmetric here, which cuDNN's descriptor cannot hold.
    ASSERT_NE(layer.pad_top, layer.pad_bottom);
    const ConvolutionPlan plan = plan_convolution(layer);
    EXPECT_TRUE(plan.explicit_padding);
    EXPECT_EQ(plan.pad_h, 0);
    EXPECT_EQ(plan.pad_w, 0);
    EXPECT_EQ(plan.convolved.channels, layer.input.channels);
    EXPECT_EQ(plan.convolved.height, layer.input.height + layer.pad_top + layer.pad_bottom);
    EXPECT_EQ(plan.convolved.width, layer.input.width + layer.pad_left + layer.pad_right);
    EXPECT_EQ(cudnn_output_size(plan.convolved.height, 0, layer.kernel_h, layer.stride_h), layer.output.height);
    EXPECT_EQ(cudnn_output_size(plan.convolved.width, 0, layer.kernel_w, layer.stride_w), layer.output.width);
  }
}

std::vector<float> random_values(std::size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& x : values) x = value(rng);
  return values;
}

// max |a - b| over max |b|.
double normwise_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 0, worst = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    scale = std::max(scale, std::fabs(double(b[i])));
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  }
  return worst / scale;
}

// The route the GPU takes for asymmetric same padding (pad_math.h, then a valid convolution of
// the padded copy, then the gradient's crop) against the same-padded convolution itself, both on
// the CPU backend's oneDNN layer: the same outputs, input gradients and weight gradients. Both
// sides sum the same products (the padding's are exact zeros), in orders oneDNN may choose
// differently for the two shapes: a few ulps of sums of at most 4 * 4 * 4 = 64 terms of |x| <= 1,
// so 1e-5 of the largest element.
TEST(ConvolutionPlanTest, AValidConvolutionOfThePaddedCopyIsTheSamePaddedConvolution) {
  struct Case {
    model::Shape input;
    model::LayerSpec layer;
  };
  model::LayerSpec wide = conv(3, 3, 2, Padding::kSame, Activation::kLinear);
  wide.kernel_w = 4;
  const Case cases[] = {
      {{3, 10, 10}, conv(4, 3, 2, Padding::kSame, Activation::kLinear)},         // 0 top, 1 bottom
      {{2, 9, 9}, conv(3, 4, 1, Padding::kSame, Activation::kLinear, false)},    // 1 top, 2 bottom, no bias
      {{2, 8, 11}, wide},                                                        // 3x4 kernel, different pads per axis
  };
  const int count = 2;
  for (const Case& c : cases) {
    const model::NetworkSpec same_spec = model::build_network(c.input, {c.layer, flatten(), dense(2)});
    const model::LayerSpec& same = same_spec.layers.front();
    SCOPED_TRACE(model::to_string(c.input) + " k" + std::to_string(same.kernel_h) + "x" + std::to_string(same.kernel_w));
    const ConvolutionPlan plan = plan_convolution(same);
    ASSERT_TRUE(plan.explicit_padding);
    model::LayerSpec valid_layer = c.layer;
    valid_layer.padding = Padding::kValid;
    const model::NetworkSpec valid_spec = model::build_network(plan.convolved, {valid_layer, flatten(), dense(2)});
    ASSERT_EQ(valid_spec.layers.front().output, same.output);

    // One parameter vector per spec with the convolution's tensors equal (both put them first).
    const std::size_t conv_floats = same_spec.parameters[std::size_t(same.first_parameter + same.parameter_tensors - 1)].offset +
                                    same_spec.parameters[std::size_t(same.first_parameter + same.parameter_tensors - 1)].count;
    std::vector<float> same_parameters = random_values(same_spec.parameter_count, 1);
    std::vector<float> valid_parameters = random_values(valid_spec.parameter_count, 2);
    std::copy(same_parameters.begin(), same_parameters.begin() + std::ptrdiff_t(conv_floats), valid_parameters.begin());

    const std::vector<float> input = random_values(std::size_t(count) * std::size_t(same.input.size()), 3);
    std::vector<float> padded(std::size_t(count) * std::size_t(plan.convolved.size()), std::nanf(""));
    const int planes = count * same.input.channels;
    const int padded_plane = plan.convolved.height * plan.convolved.width;
    const int input_plane = same.input.height * same.input.width;
    for (int plane = 0; plane < planes; ++plane) {
      for (int p = 0; p < padded_plane; ++p) {
        const int source = math::padded_source(p / plan.convolved.width, p % plan.convolved.width, same.input.height,
                                               same.input.width, same.pad_top, same.pad_left);
        padded[std::size_t(plane * padded_plane + p)] = source < 0 ? 0.0f : input[std::size_t(plane * input_plane + source)];
      }
    }
    const std::vector<float> doutput = random_values(std::size_t(count) * std::size_t(same.output.size()), 4);

    struct Result {
      std::vector<float> output, dinput, gradients;
    };
    const auto run = [&](const model::NetworkSpec& spec, std::vector<float>& parameters, const std::vector<float>& x) {
      cpu::Conv2DLayer layer(spec, 0);
      Result result;
      result.output.assign(doutput.size(), std::nanf(""));
      cpu::LayerForward forward;
      forward.count = count;
      forward.input = x.data();
      forward.output = result.output.data();
      forward.parameters = parameters.data();
      forward.training = true;
      layer.forward(forward);
      std::vector<float> scratch = doutput;
      result.dinput.assign(x.size(), std::nanf(""));
      result.gradients.assign(spec.parameter_count, 0.0f);
      cpu::LayerBackward backward;
      backward.count = count;
      backward.input = x.data();
      backward.output = result.output.data();
      backward.doutput = scratch.data();
      backward.dinput = result.dinput.data();
      backward.parameters = parameters.data();
      backward.gradients = result.gradients.data();
      layer.backward(backward);
      result.gradients.resize(conv_floats);
      return result;
    };
    const Result reference = run(same_spec, same_parameters, input);
    const Result route = run(valid_spec, valid_parameters, padded);
    EXPECT_LE(normwise_difference(route.output, reference.output), 1e-5);
    EXPECT_LE(normwise_difference(route.gradients, reference.gradients), 1e-5);
    std::vector<float> cropped(input.size(), std::nanf(""));
    for (int plane = 0; plane < planes; ++plane) {
      for (int p = 0; p < input_plane; ++p) {
        const int cell = math::padded_cell(p / same.input.width, p % same.input.width, plan.convolved.width,
                                           same.pad_top, same.pad_left);
        cropped[std::size_t(plane * input_plane + p)] = route.dinput[std::size_t(plane * padded_plane + cell)];
      }
    }
    EXPECT_LE(normwise_difference(cropped, reference.dinput), 1e-5);
  }
}

TEST(WindowPoolMathTest, OutputsCoveringAnInputAreExactlyTheWindowsHoldingIt) {
  // Brute force over every geometry of a small range: pool_outputs_covering against the windows.
  for (int kernel = 1; kernel <= 4; ++kernel) {
    for (int stride = 1; stride <= 3; ++stride) {
      for (int pad = 0; pad < kernel; ++pad) {
        const int size = 9;
        const int outputs = (size + 2 * pad - kernel) / stride + 1;
        for (int i = 0; i < size; ++i) {
          const math::WindowRange covering = math::pool_outputs_covering(i, stride, pad, kernel, outputs);
          for (int o = 0; o < outputs; ++o) {
            const math::WindowRange window = math::pool_window(o, stride, pad, kernel, size);
            const bool holds = i >= window.begin && i < window.end;
            EXPECT_EQ(holds, o >= covering.begin && o < covering.end)
                << "kernel " << kernel << " stride " << stride << " pad " << pad << " input " << i << " output " << o;
          }
        }
      }
    }
  }
}

struct PoolCase {
  const char* name;
  model::Shape input;
  model::LayerSpec layer;
};

std::vector<PoolCase> pool_cases() {
  model::LayerSpec wide = pool(LayerKind::kMaxPool2D, 2);
  wide.kernel_w = 3;
  wide.stride_h = 1;
  wide.stride_w = 2;
  model::LayerSpec wide_average = wide;
  wide_average.kind = LayerKind::kAvgPool2D;
  wide_average.padding = Padding::kSame;
  return {
      {"max 2 valid, odd side", {2, 7, 7}, pool(LayerKind::kMaxPool2D, 2)},
      {"max 2 same, odd side (asymmetric)", {2, 7, 7}, pool(LayerKind::kMaxPool2D, 2, 2, Padding::kSame)},
      {"max 3 stride 2 valid (overlapping)", {3, 9, 8}, pool(LayerKind::kMaxPool2D, 3, 2)},
      {"max 3 stride 1 same (overlapping, symmetric)", {2, 6, 6}, pool(LayerKind::kMaxPool2D, 3, 1, Padding::kSame)},
      {"average 2 valid", {2, 8, 8}, pool(LayerKind::kAvgPool2D, 2)},
      {"average 3 stride 2 same, even side (asymmetric)", {3, 8, 8}, pool(LayerKind::kAvgPool2D, 3, 2, Padding::kSame)},
      {"average 3 stride 1 same (edges count fewer cells)", {2, 5, 6}, pool(LayerKind::kAvgPool2D, 3, 1, Padding::kSame)},
      {"max 2x3 strides 1x2", {2, 6, 9}, wide},
      {"average 2x3 strides 1x2 same", {2, 6, 9}, wide_average},
  };
}

// The per-element math over a whole (count, C, H, W) batch, as the kernels run it.
void window_math_forward(const model::LayerSpec& layer, int count, const std::vector<float>& input,
                         std::vector<float>& output, std::vector<int>& winners) {
  const math::PoolGeometry g = cuda::pool_geometry(layer);
  const int planes = count * layer.input.channels;
  output.assign(std::size_t(planes) * g.out_h * g.out_w, std::nanf(""));
  winners.assign(output.size(), -1);
  for (int plane = 0; plane < planes; ++plane) {
    const float* in = input.data() + std::size_t(plane) * g.in_h * g.in_w;
    for (int o = 0; o < g.out_h * g.out_w; ++o) {
      const std::size_t at = std::size_t(plane) * g.out_h * g.out_w + std::size_t(o);
      if (layer.kind == LayerKind::kMaxPool2D) {
        const math::PoolMax best = math::max_pool_window(in, g, o / g.out_w, o % g.out_w);
        output[at] = best.value;
        winners[at] = best.winner;
      } else {
        output[at] = math::average_pool_window(in, g, o / g.out_w, o % g.out_w);
      }
    }
  }
}

std::vector<float> window_math_backward(const model::LayerSpec& layer, int count, const std::vector<float>& doutput,
                                        const std::vector<int>& winners) {
  const math::PoolGeometry g = cuda::pool_geometry(layer);
  const int planes = count * layer.input.channels;
  std::vector<float> dinput(std::size_t(planes) * g.in_h * g.in_w, std::nanf(""));
  for (int plane = 0; plane < planes; ++plane) {
    const std::size_t out_at = std::size_t(plane) * g.out_h * g.out_w;
    for (int p = 0; p < g.in_h * g.in_w; ++p) {
      dinput[std::size_t(plane) * g.in_h * g.in_w + std::size_t(p)] =
          layer.kind == LayerKind::kMaxPool2D
              ? math::max_pool_input_gradient(doutput.data() + out_at, winners.data() + out_at, g, p / g.in_w, p % g.in_w)
              : math::average_pool_input_gradient(doutput.data() + out_at, g, p / g.in_w, p % g.in_w);
    }
  }
  return dinput;
}

TEST(WindowPoolMathTest, ForwardAndBackwardMatchTheCpuBackendsOneDnnPooling) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  const int count = 3;
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(c.name);
    const model::NetworkSpec spec = model::build_network(c.input, {c.layer, flatten(), dense(2)});
    const model::LayerSpec& layer = spec.layers.front();
    // Distinct random floats: no ties, so both sides pick the same winner.
    std::vector<float> input(std::size_t(count) * std::size_t(layer.input.size()));
    for (float& x : input) x = value(rng);
    std::vector<float> doutput(std::size_t(count) * std::size_t(layer.output.size()));
    for (float& x : doutput) x = value(rng);

    cpu::PoolingLayer oracle(spec, 0);
    std::vector<float> expected_output(doutput.size(), std::nanf(""));
    cpu::LayerForward forward;
    forward.count = count;
    forward.input = input.data();
    forward.output = expected_output.data();
    forward.training = true;
    oracle.forward(forward);
    std::vector<float> expected_dinput(input.size(), std::nanf(""));
    std::vector<float> scratch_doutput = doutput;
    cpu::LayerBackward backward;
    backward.count = count;
    backward.input = input.data();
    backward.output = expected_output.data();
    backward.doutput = scratch_doutput.data();
    backward.dinput = expected_dinput.data();
    oracle.backward(backward);

    std::vector<float> output;
    std::vector<int> winners;
    window_math_forward(layer, count, input, output, winners);
    const std::vector<float> dinput = window_math_backward(layer, count, doutput, winners);
    // Max: a selection, exact. Average: a sum of at most 9 cells of |x| <= 1 divided by the count,
    // in an order oneDNN may choose differently (and it may multiply by 1/count instead): a few
    // ulps of 1, so 1e-6 absolute. Backward: at most 9 (overlapping windows) terms of |g| <= 1,
    // each possibly divided by its count: again a few ulps of 9, 4e-6 absolute.
    for (std::size_t i = 0; i < output.size(); ++i) {
      ASSERT_NEAR(output[i], expected_output[i], layer.kind == LayerKind::kMaxPool2D ? 0.0 : 1e-6) << "output " << i;
    }
    for (std::size_t i = 0; i < dinput.size(); ++i) ASSERT_NEAR(dinput[i], expected_dinput[i], 4e-6) << "dinput " << i;
  }
}

TEST(WindowPoolMathTest, SamePaddingNeverLetsAPaddedCellWinOrCount) {
  // All-negative inputs: a padded zero that took part would win every edge window.
  model::LayerSpec layer = first_layer({1, 5, 5}, pool(LayerKind::kMaxPool2D, 2, 2, Padding::kSame));
  ASSERT_EQ(layer.output.height, 3);
  std::vector<float> input(25);
  for (int i = 0; i < 25; ++i) input[std::size_t(i)] = -1.0f - float(i);
  std::vector<float> output;
  std::vector<int> winners;
  window_math_forward(layer, 1, input, output, winners);
  // Bottom-right window holds only input (4, 4) = -25.
  EXPECT_EQ(output[8], -25.0f);
  EXPECT_EQ(winners[8], 24);
  // Average: the bottom-right window's one cell is its mean.
  layer.kind = LayerKind::kAvgPool2D;
  window_math_forward(layer, 1, input, output, winners);
  EXPECT_EQ(output[8], -25.0f);
  EXPECT_EQ(output[0], (-1.0f - 2.0f - 6.0f - 7.0f) / 4.0f);
}

}  // namespace
}  // namespace train_gpu

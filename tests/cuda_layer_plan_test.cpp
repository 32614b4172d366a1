// CPU tests of what the spec-driven CUDA layers decide without a device (cuda/network/layer_plan.h)
// and of the pooling math their kernels run (cuda/math/window_pool_math.h), the latter against the
// CPU backend's oneDNN pooling layer, the oracle the GPU tests use too: a wrong window bound, a
// padded cell counted, or a gradient routed to the wrong input fails here, on any machine.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda/math/window_pool_math.h"
#include "cuda/network/layer_plan.h"
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

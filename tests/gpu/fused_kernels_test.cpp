// The kernels behind --kernels fused, --pooling cudnn and --graph, each against its CPU-checked
// twin: the shared __host__ __device__ math run on the CPU, the classic kernel it replaces, or a
// float64 loop. Outputs are poisoned with NaN first. Skipped where no CUDA device answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>

#include "cuda/handles.h"
#include "cuda/kernels/adam.h"
#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/gather_scale.h"
#include "cuda/kernels/nonfinite.h"
#include "cuda/kernels/softmax_xent.h"
#include "cuda/kernels/step_counters.h"
#include "cuda/layers/cudnn_pool.h"
#include "cuda/layers/dense_epilogue.h"
#include "cuda/layers/pool.h"
#include "cuda/math/activation_math.h"
#include "cuda/math/adam_math.h"
#include "cuda/math/pool_math.h"
#include "cuda/math/softmax_xent_math.h"
#include "cuda/math/step_counters.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/random_inputs.h"

namespace train_gpu::cuda {
namespace {

using testing::all_close;
using testing::download;
using testing::poisoned;
using testing::small_integers;
using testing::uniform;
using testing::upload;

class FusedKernels : public testing::CudaTest {};

constexpr int kChannels = 32, kSide = 26, kOut = 13;

// A scratch for the multi-block channel sums, counters zeroed as the backend does once.
struct ChannelScratch {
  DeviceBuffer<float> partials{std::size_t{kChannels} * kMaxChannelSumChunks};
  DeviceBuffer<unsigned int> counters = upload(std::vector<unsigned int>(kChannels, 0u));
  ChannelSumScratch get() { return ChannelSumScratch{partials.data(), counters.data()}; }
};

// ---------------------------------------------------------------------------------------------

TEST_F(FusedKernels, BiasReluPoolingEqualsBiasReluThenPooling) {
  constexpr int kCount = 3;
  const std::vector<float> raw = uniform(std::size_t{kCount} * kChannels * kSide * kSide, -1.0f, 1.0f, 31);
  const std::vector<float> bias = uniform(kChannels, -0.3f, 0.3f, 32);
  DeviceBuffer<float> d_raw = upload(raw);
  DeviceBuffer<float> d_bias = upload(bias);
  const std::size_t outputs = std::size_t{kCount} * kChannels * kOut * kOut;
  DeviceBuffer<float> output = poisoned(outputs);
  DeviceBuffer<uint8_t> argmax = upload(std::vector<uint8_t>(outputs, 255));
  // Without the activated maps first (training), then in place into the raw maps (features).
  launch_bias_relu_maxpool2x2_forward(d_raw.data(), d_bias.data(), kCount, kChannels, kSide, output.data(),
                                      argmax.data(), nullptr, nullptr);
  const std::vector<float> first_output = download(output);
  launch_bias_relu_maxpool2x2_forward(d_raw.data(), d_bias.data(), kCount, kChannels, kSide, output.data(),
                                      argmax.data(), d_raw.data(), nullptr);

  // The classic pair on the CPU: bias + ReLU, then the plain window.
  std::vector<float> activated(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    activated[i] = math::relu(raw[i] + bias[(i / (kSide * kSide)) % kChannels]);
  }
  std::vector<float> expected_output(outputs);
  std::vector<uint8_t> expected_argmax(outputs);
  for (std::size_t plane = 0; plane < std::size_t{kCount} * kChannels; ++plane) {
    for (int y = 0; y < kOut; ++y) {
      for (int x = 0; x < kOut; ++x) {
        const math::PoolWinner w = math::maxpool2x2_window(activated.data() + plane * kSide * kSide, kSide, y, x);
        expected_output[plane * kOut * kOut + std::size_t(y) * kOut + std::size_t(x)] = w.value;
        expected_argmax[plane * kOut * kOut + std::size_t(y) * kOut + std::size_t(x)] = w.position;
      }
    }
  }
  // Same additions, comparisons and copies: exact.
  EXPECT_TRUE(all_close(first_output, expected_output, 0, 0));
  EXPECT_TRUE(all_close(download(output), expected_output, 0, 0));
  EXPECT_EQ(download(argmax), expected_argmax);
  EXPECT_TRUE(all_close(download(d_raw), activated, 0, 0));
}

TEST_F(FusedKernels, PoolingBackwardWithBiasSumEqualsTheClassicPairAndADoubleSum) {
  // Real forward state: post-ReLU maps pooled by the classic kernel (its argmax and outputs).
  constexpr int kCount = 64;  // the training batch: 11 chunks per channel
  std::vector<float> input = uniform(std::size_t{kCount} * kChannels * kSide * kSide, -1.0f, 1.0f, 33);
  for (float& x : input) x = math::relu(x);
  const std::vector<float> doutput = uniform(std::size_t{kCount} * kChannels * kOut * kOut, -1.0f, 1.0f, 34);
  DeviceBuffer<float> d_input = upload(input);
  DeviceBuffer<float> pooled = poisoned(doutput.size());
  DeviceBuffer<uint8_t> argmax(doutput.size());
  launch_maxpool2x2_forward(d_input.data(), kCount, kChannels, kSide, pooled.data(), argmax.data(), nullptr);
  DeviceBuffer<float> d_doutput = upload(doutput);
  DeviceBuffer<float> classic = poisoned(input.size());
  launch_maxpool2x2_relu_backward(d_doutput.data(), argmax.data(), d_input.data(), kCount, kChannels, kSide,
                                  classic.data(), nullptr);
  ChannelScratch scratch;
  DeviceBuffer<float> fused = poisoned(input.size());
  DeviceBuffer<float> bias_grad = poisoned(kChannels);
  launch_maxpool2x2_relu_backward_bias(d_doutput.data(), argmax.data(), pooled.data(), kCount, kChannels, kSide,
                                       fused.data(), bias_grad.data(), scratch.get(), nullptr);
  // The mask from the pooled output is the mask from the winner's input: bitwise the same.
  const std::vector<float> dinput = download(fused);
  EXPECT_TRUE(all_close(dinput, download(classic), 0, 0));

  std::vector<float> expected(kChannels);
  double largest_abs = 0;
  for (int c = 0; c < kChannels; ++c) {
    double sum = 0, abs_sum = 0;
    for (int n = 0; n < kCount; ++n) {
      for (int p = 0; p < kSide * kSide; ++p) {
        const double g = dinput[(std::size_t(n) * kChannels + c) * kSide * kSide + p];
        sum += g;
        abs_sum += std::fabs(g);
      }
    }
    expected[std::size_t(c)] = static_cast<float>(sum);
    largest_abs = std::max(largest_abs, abs_sum);
  }
  // Float sums of 43,264 terms per channel: ~17 per thread, an 8-level tree, 11 chunk partials;
  // rounding error below (17 + 8 + 11) * 2^-24 * sum|g| < 3e-6 * sum|g|.
  const std::vector<float> first = download(bias_grad);
  EXPECT_TRUE(all_close(first, expected, 0, 3e-6 * largest_abs));
  // Deterministic, and the arrival counters were re-armed: a second launch gives the same bits.
  launch_maxpool2x2_relu_backward_bias(d_doutput.data(), argmax.data(), pooled.data(), kCount, kChannels, kSide,
                                       fused.data(), bias_grad.data(), scratch.get(), nullptr);
  EXPECT_EQ(download(bias_grad), first);
  EXPECT_EQ(download(scratch.counters), std::vector<unsigned int>(kChannels, 0u));
}

TEST_F(FusedKernels, SpreadChannelSumMatchesADoubleSumAndRepeatsBitwise) {
  ChannelScratch scratch;
  struct Shape { int count, channels, plane; };
  for (const Shape shape : {Shape{100, 32, 676}, Shape{5, 10, 1}, Shape{1, 32, 676}, Shape{1000, 32, 676}}) {
    const std::vector<float> values =
        uniform(std::size_t(shape.count) * shape.channels * shape.plane, -1.0f, 1.0f, 35);
    DeviceBuffer<float> d_values = upload(values);
    DeviceBuffer<float> sums = poisoned(std::size_t(shape.channels));
    launch_channel_sum_spread(d_values.data(), shape.count, shape.channels, shape.plane, sums.data(), scratch.get(),
                              nullptr);
    std::vector<float> expected(std::size_t(shape.channels));
    double largest_abs = 0;
    for (int c = 0; c < shape.channels; ++c) {
      double sum = 0, abs_sum = 0;
      for (int n = 0; n < shape.count; ++n) {
        for (int p = 0; p < shape.plane; ++p) {
          const double x = values[(std::size_t(n) * shape.channels + c) * shape.plane + p];
          sum += x;
          abs_sum += std::fabs(x);
        }
      }
      expected[std::size_t(c)] = static_cast<float>(sum);
      largest_abs = std::max(largest_abs, abs_sum);
    }
    // Float sums; the worst shape is 1000 x 676, where the 64-chunk cap binds: 10,816 elements per
    // block (16 samples), <= 43 per thread, an 8-level tree, 64 chunk partials, so rounding error
    // below (43 + 8 + 64) * 2^-24 * sum|x| < 7e-6 * sum|x| (the smaller shapes: 4096 per block).
    const std::vector<float> first = download(sums);
    EXPECT_TRUE(all_close(first, expected, 0, 1e-5 * largest_abs)) << shape.count << "x" << shape.plane;
    launch_channel_sum_spread(d_values.data(), shape.count, shape.channels, shape.plane, sums.data(), scratch.get(),
                              nullptr);
    EXPECT_EQ(download(sums), first) << shape.count << "x" << shape.plane;
  }
}

TEST_F(FusedKernels, MultiBlockSoftmaxMatchesTheRowMathAndAdvancesTheCountersOnce) {
  constexpr int kRows = 1000;  // 4 blocks of 256
  const std::vector<float> logits = uniform(kRows * 10, -6.0f, 6.0f, 36);
  std::vector<uint8_t> labels(kRows);
  for (int i = 0; i < kRows; ++i) labels[std::size_t(i)] = static_cast<uint8_t>((i * 3) % 10);
  std::vector<float> expected_dlogits(kRows * 10);
  double loss_sum = 0;
  unsigned long long correct = 0;
  for (int i = 0; i < kRows; ++i) {
    const math::SoftmaxXentRow r = math::softmax_xent_row(&logits[std::size_t(i) * 10], 10, labels[std::size_t(i)],
                                                          1.0f / kRows, &expected_dlogits[std::size_t(i) * 10]);
    loss_sum += r.loss;
    correct += r.predicted == labels[std::size_t(i)] ? 1 : 0;
  }
  const int blocks = softmax_xent_blocks(kRows, 8);
  ASSERT_EQ(blocks, 4);
  DeviceBuffer<double> loss_partials(8);
  DeviceBuffer<unsigned long long> correct_partials(8);
  DeviceBuffer<unsigned int> counter = upload(std::vector<unsigned int>{0u});
  const SoftmaxXentScratch scratch{loss_partials.data(), correct_partials.data(), counter.data(), 8};
  math::StepCounters start{};
  start.cursor[0] = 128;
  start.adam_step = 41;
  DeviceBuffer<math::StepCounters> counters = upload(std::vector<math::StepCounters>{start});
  SoftmaxXentExtras extras;
  extras.scratch = &scratch;
  extras.counters = counters.data();
  extras.advance.split = 0;
  extras.advance.count = kRows;
  extras.advance.adam = true;
  extras.advance.optimizer = math::OptimizerConfig{};  // Adam at Keras's defaults: lr 1e-3, betas 0.9 and 0.999

  DeviceBuffer<float> d_logits = upload(logits);
  DeviceBuffer<uint8_t> d_labels = upload(labels);
  DeviceBuffer<float> dlogits = poisoned(kRows * 10);
  DeviceBuffer<DeviceTotals> totals(1);
  launch_reset_totals(totals.data(), nullptr);
  launch_softmax_xent(d_logits.data(), d_labels.data(), kRows, 10, dlogits.data(), nullptr, totals.data(), nullptr,
                      extras);
  // Per-row math as in the single-block test: a few ulps between CUDA's and glibc's expf/logf.
  EXPECT_TRUE(all_close(download(dlogits), expected_dlogits, 1e-5, 1e-7));
  const DeviceTotals t = download(totals)[0];
  EXPECT_EQ(t.batches, 1u);
  EXPECT_EQ(t.samples, unsigned(kRows));
  EXPECT_EQ(t.correct, correct);
  EXPECT_NEAR(t.sample_loss_sum, loss_sum, 1e-5 * loss_sum);
  const math::StepCounters after = download(counters)[0];
  EXPECT_EQ(after.cursor[0], 128 + kRows);  // once per launch, not once per block
  EXPECT_EQ(after.adam_step, 42);
  // The device's step size is the host's, to the bit (rounded_float.h).
  EXPECT_EQ(after.adam_step_size, math::adam_step_size(1e-3f, 0.9f, 0.999f, 42));
  EXPECT_EQ(download(counter)[0], 0u);  // re-armed for the next launch

  // Reproducible: the same batch again adds exactly the same loss.
  launch_softmax_xent(d_logits.data(), d_labels.data(), kRows, 10, dlogits.data(), nullptr, totals.data(), nullptr,
                      extras);
  EXPECT_EQ(download(totals)[0].sample_loss_sum, 2 * t.sample_loss_sum);
}

TEST_F(FusedKernels, CursorAndStepSizeOnTheDeviceGiveTheArgumentsResults) {
  // Gather at a device cursor set by launch_set_counter == gather at that position by argument;
  // Adam at a device step size == Adam with the same value by argument. Bitwise.
  constexpr int kPixels = 784, kSamples = 8;
  std::vector<uint8_t> pixels(kSamples * kPixels);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7) % 256);
  const std::vector<uint8_t> labels = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<int32_t> order = {7, 6, 5, 4, 3, 2, 1, 0};
  DeviceBuffer<uint8_t> d_pixels = upload(pixels);
  DeviceBuffer<uint8_t> d_labels = upload(labels);
  DeviceBuffer<int32_t> d_order = upload(order);
  DeviceBuffer<math::StepCounters> counters = upload(std::vector<math::StepCounters>(1, math::StepCounters{}));
  launch_set_counter(&counters.data()->cursor[1], 3, nullptr);
  DeviceBuffer<float> at_cursor = poisoned(4 * kPixels), by_value = poisoned(4 * kPixels);
  DeviceBuffer<uint8_t> cursor_labels(4), value_labels(4);
  launch_gather_scale_at_cursor(d_pixels.data(), d_labels.data(), d_order.data(), &counters.data()->cursor[1], 4,
                                kPixels, at_cursor.data(), cursor_labels.data(), nullptr);
  launch_gather_scale(d_pixels.data(), d_labels.data(), d_order.data(), 3, 4, kPixels, by_value.data(),
                      value_labels.data(), nullptr);
  EXPECT_TRUE(all_close(download(at_cursor), download(by_value), 0, 0));
  EXPECT_EQ(download(cursor_labels), download(value_labels));
  EXPECT_EQ(download(cursor_labels)[0], 4);

  constexpr std::size_t kCount = 10007;
  const std::vector<float> parameters = uniform(kCount, -0.1f, 0.1f, 37);
  const std::vector<float> gradients = uniform(kCount, -1e-2f, 1e-2f, 38);
  const std::vector<float> moments = uniform(kCount, 0.0f, 1e-5f, 39);
  math::StepCounters with_step{};
  with_step.adam_step_size = math::adam_step_size(1e-3f, 0.9f, 0.999f, 9);
  DeviceBuffer<math::StepCounters> step_counters = upload(std::vector<math::StepCounters>{with_step});
  DeviceBuffer<float> d_gradients = upload(gradients);
  DeviceBuffer<float> p1 = upload(parameters), m1 = upload(moments), v1 = upload(moments);
  DeviceBuffer<float> p2 = upload(parameters), m2 = upload(moments), v2 = upload(moments);
  launch_adam_at_counters(p1.data(), d_gradients.data(), m1.data(), v1.data(), kCount, 0.9f, 0.999f,
                          &step_counters.data()->adam_step_size, 1e-7f, nullptr);
  launch_adam(p2.data(), d_gradients.data(), m2.data(), v2.data(), kCount, 0.9f, 0.999f, with_step.adam_step_size,
              1e-7f, nullptr);
  EXPECT_EQ(download(p1), download(p2));
  EXPECT_EQ(download(m1), download(m2));
  EXPECT_EQ(download(v1), download(v2));
}

TEST_F(FusedKernels, AdamFlagsANonFiniteGradientLikeTheSeparateCheckAndUpdatesTheSame) {
  constexpr std::size_t kCount = 700000;  // the arena's size: many blocks, a grid-stride loop
  std::vector<float> gradients = uniform(kCount, -1e-2f, 1e-2f, 50);
  const std::vector<float> parameters = uniform(kCount, -0.1f, 0.1f, 51);
  const std::vector<float> moments = uniform(kCount, 0.0f, 1e-5f, 52);
  const float step_size = math::adam_step_size(1e-3f, 0.9f, 0.999f, 3);
  for (const bool poison : {false, true}) {
    if (poison) gradients[654321] = std::nanf("");
    DeviceBuffer<float> d_gradients = upload(gradients);
    DeviceBuffer<float> p1 = upload(parameters), m1 = upload(moments), v1 = upload(moments);
    DeviceBuffer<float> p2 = upload(parameters), m2 = upload(moments), v2 = upload(moments);
    DeviceTotals start = empty_device_totals();
    start.batches = 4;  // softmax_xent counted batches 0..3: a bad gradient belongs to batch 3
    DeviceBuffer<DeviceTotals> fused_totals = upload(std::vector<DeviceTotals>{start});
    DeviceBuffer<DeviceTotals> separate_totals = upload(std::vector<DeviceTotals>{start});
    launch_adam(p1.data(), d_gradients.data(), m1.data(), v1.data(), kCount, 0.9f, 0.999f, step_size, 1e-7f, nullptr,
                fused_totals.data());
    launch_flag_nonfinite(d_gradients.data(), kCount, separate_totals.data(), nullptr);
    launch_adam(p2.data(), d_gradients.data(), m2.data(), v2.data(), kCount, 0.9f, 0.999f, step_size, 1e-7f, nullptr);
    EXPECT_EQ(download(fused_totals)[0].first_nonfinite_batch, poison ? 3 : -1);
    EXPECT_EQ(download(fused_totals)[0].first_nonfinite_batch, download(separate_totals)[0].first_nonfinite_batch);
    // The check only reads: the update is the plain launch's, bit for bit (NaN included).
    const std::vector<float> fused_parameters = download(p1), plain_parameters = download(p2);
    EXPECT_EQ(std::memcmp(fused_parameters.data(), plain_parameters.data(), kCount * sizeof(float)), 0) << poison;
  }
}

TEST_F(FusedKernels, CudnnPoolingRoutesLikeTheCustomKernels) {
  // Post-ReLU random maps: positive values never tie; windows of clamped zeros tie, but the ReLU
  // mask zeroes whatever cuDNN routes there. So forward and masked backward are exact.
  constexpr int kCount = 4;
  std::vector<float> input = uniform(std::size_t{kCount} * kChannels * kSide * kSide, -1.0f, 1.0f, 40);
  for (float& x : input) x = math::relu(x);
  const std::vector<float> doutput = uniform(std::size_t{kCount} * kChannels * kOut * kOut, -1.0f, 1.0f, 41);
  Stream stream = make_stream();
  CudnnHandle cudnn = make_cudnn_handle(stream.get());
  CudnnPool pool(cudnn.get(), CudnnPoolMode::kMax, kChannels, maxpool2x2_geometry(kSide));
  DeviceBuffer<float> d_input = upload(input), d_doutput = upload(doutput);
  DeviceBuffer<float> cudnn_output = poisoned(doutput.size()), custom_output = poisoned(doutput.size());
  DeviceBuffer<uint8_t> argmax(doutput.size());
  pool.forward(d_input.data(), kCount, cudnn_output.data());
  DeviceBuffer<float> cudnn_dinput = poisoned(input.size());
  pool.backward(d_input.data(), cudnn_output.data(), d_doutput.data(), kCount, cudnn_dinput.data());
  launch_relu_backward(d_input.data(), cudnn_dinput.data(), input.size(), stream.get());
  launch_maxpool2x2_forward(d_input.data(), kCount, kChannels, kSide, custom_output.data(), argmax.data(),
                            stream.get());
  DeviceBuffer<float> custom_dinput = poisoned(input.size());
  launch_maxpool2x2_relu_backward(d_doutput.data(), argmax.data(), d_input.data(), kCount, kChannels, kSide,
                                  custom_dinput.data(), stream.get());
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  EXPECT_TRUE(all_close(download(cudnn_output), download(custom_output), 0, 0));
  EXPECT_TRUE(all_close(download(cudnn_dinput), download(custom_dinput), 0, 0));
}

// ---------------------------------------------------------------------------------------------
// cuBLASLt epilogues on fc1's and fc2's real shapes with small integers: every product and sum
// is an integer below 2^24, so each fused result must equal the float64 loop exactly.

struct DenseCase {
  int count, in, out;
};

class EpilogueDenseTest : public testing::CudaTest {
 protected:
  void SetUp() override {
    testing::CudaTest::SetUp();
    if (IsSkipped()) return;
    stream_ = make_stream();
    workspace_ = DeviceBuffer<unsigned char>(std::size_t{32} << 20);
    dense_ = std::make_unique<EpilogueDense>(stream_.get(), workspace_.data(), workspace_.bytes(), false);
  }
  bool supported(std::initializer_list<std::pair<DenseEpilogue, DenseCase>> uses) {
    bool all = true;
    for (const auto& [epilogue, c] : uses) all = dense_->supports(epilogue, c.count, c.in, c.out) && all;
    return all;
  }
  void sync() { CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

  Stream stream_;
  DeviceBuffer<unsigned char> workspace_;
  std::unique_ptr<EpilogueDense> dense_;
};

TEST_F(EpilogueDenseTest, ForwardBiasReluAndBiasAreExact) {
  const DenseCase cases[] = {{64, 5408, 128}, {32, 5408, 128}, {64, 128, 10}};
  for (const DenseCase c : cases) {
    if (!supported({{DenseEpilogue::kForwardBiasRelu, c}, {DenseEpilogue::kForwardBias, c}})) {
      GTEST_SKIP() << "cuBLASLt offers no algorithm here (the backend then runs the unfused kernels): "
                   << dense_->describe();
    }
  }
  for (const DenseCase c : cases) {
    const std::vector<float> input = small_integers(std::size_t(c.count) * c.in, 0, 2, 42);
    const std::vector<float> weight = small_integers(std::size_t(c.out) * c.in, -2, 2, 43);
    // Half-integer biases: pre-activations are never exactly 0, where ReLU conventions may differ
    // (a measure-zero event for real float data).
    std::vector<float> bias = small_integers(std::size_t(c.out), -20, 20, 44);
    for (float& b : bias) b += 0.5f;
    DeviceBuffer<float> d_input = upload(input), d_weight = upload(weight), d_bias = upload(bias);
    DeviceBuffer<float> relu_out = poisoned(std::size_t(c.count) * c.out), plain_out = poisoned(relu_out.size());
    DeviceBuffer<uint8_t> mask(dense_relu_mask_bytes(c.count, c.out));
    dense_->forward_bias_relu(c.count, c.in, c.out, d_input.data(), d_weight.data(), d_bias.data(), relu_out.data(),
                              mask.data());
    dense_->forward_bias(c.count, c.in, c.out, d_input.data(), d_weight.data(), d_bias.data(), plain_out.data());
    sync();
    std::vector<float> expected(relu_out.size());
    for (int n = 0; n < c.count; ++n) {
      for (int o = 0; o < c.out; ++o) {
        double sum = bias[std::size_t(o)];
        for (int i = 0; i < c.in; ++i) sum += double(input[std::size_t(n) * c.in + i]) * weight[std::size_t(o) * c.in + i];
        expected[std::size_t(n) * c.out + o] = static_cast<float>(sum);
      }
    }
    EXPECT_TRUE(all_close(download(plain_out), expected, 0, 0)) << c.count << " " << c.in;
    for (float& y : expected) y = math::relu(y);
    EXPECT_TRUE(all_close(download(relu_out), expected, 0, 0)) << c.count << " " << c.in;
  }
}

TEST_F(EpilogueDenseTest, BackwardEpiloguesGiveGradientsAndBiasGradientsExactly) {
  // fc2's backward at batch 64: dW2 and db2 from BGRADB; dH masked by fc1's ReLU and db1 from
  // DRELU_BGRAD, with the mask written by fc1's RELU_AUX_BIAS forward.
  constexpr int kCount = 64, kIn1 = 40, kHidden = 128, kClasses = 10;
  if (!supported({{DenseEpilogue::kForwardBiasRelu, DenseCase{kCount, kIn1, kHidden}},
                  {DenseEpilogue::kBackwardWeightBias, DenseCase{kCount, kHidden, kClasses}},
                  {DenseEpilogue::kBackwardInputRelu, DenseCase{kCount, kHidden, kClasses}}})) {
    GTEST_SKIP() << "cuBLASLt offers no algorithm here (the backend then runs the unfused kernels): "
                 << dense_->describe();
  }
  const std::vector<float> x = small_integers(std::size_t{kCount} * kIn1, -2, 2, 45);
  const std::vector<float> w1 = small_integers(std::size_t{kHidden} * kIn1, -2, 2, 46);
  std::vector<float> b1 = small_integers(kHidden, -3, 3, 47);
  for (float& b : b1) b += 0.5f;  // no pre-activation exactly 0 (see the forward test)
  const std::vector<float> w2 = small_integers(std::size_t{kClasses} * kHidden, -3, 3, 48);
  const std::vector<float> dz = small_integers(std::size_t{kCount} * kClasses, -3, 3, 49);
  DeviceBuffer<float> d_x = upload(x), d_w1 = upload(w1), d_b1 = upload(b1), d_w2 = upload(w2), d_dz = upload(dz);
  DeviceBuffer<float> hidden = poisoned(std::size_t{kCount} * kHidden);
  DeviceBuffer<uint8_t> mask(dense_relu_mask_bytes(kCount, kHidden));
  dense_->forward_bias_relu(kCount, kIn1, kHidden, d_x.data(), d_w1.data(), d_b1.data(), hidden.data(), mask.data());
  DeviceBuffer<float> dw2 = poisoned(w2.size()), db2 = poisoned(kClasses);
  DeviceBuffer<float> dh = poisoned(std::size_t{kCount} * kHidden), db1 = poisoned(kHidden);
  dense_->backward_weight_bias(kCount, kHidden, kClasses, hidden.data(), d_dz.data(), dw2.data(), db2.data());
  dense_->backward_input_relu(kCount, kHidden, kClasses, d_dz.data(), d_w2.data(), mask.data(), dh.data(), db1.data());
  sync();
  const std::vector<float> h = download(hidden);
  std::vector<float> expected_dw2(w2.size()), expected_db2(kClasses, 0.0f), expected_dh(dh.size()),
      expected_db1(kHidden, 0.0f);
  for (int o = 0; o < kClasses; ++o) {
    double bias_sum = 0;
    for (int n = 0; n < kCount; ++n) bias_sum += dz[std::size_t(n) * kClasses + o];
    expected_db2[std::size_t(o)] = static_cast<float>(bias_sum);
    for (int i = 0; i < kHidden; ++i) {
      double sum = 0;
      for (int n = 0; n < kCount; ++n) sum += double(dz[std::size_t(n) * kClasses + o]) * h[std::size_t(n) * kHidden + i];
      expected_dw2[std::size_t(o) * kHidden + i] = static_cast<float>(sum);
    }
  }
  for (int i = 0; i < kHidden; ++i) {
    double bias_sum = 0;
    for (int n = 0; n < kCount; ++n) {
      double sum = 0;
      for (int o = 0; o < kClasses; ++o) sum += double(dz[std::size_t(n) * kClasses + o]) * w2[std::size_t(o) * kHidden + i];
      const float masked = math::relu_backward(h[std::size_t(n) * kHidden + i], static_cast<float>(sum));
      expected_dh[std::size_t(n) * kHidden + i] = masked;
      bias_sum += masked;
    }
    expected_db1[std::size_t(i)] = static_cast<float>(bias_sum);
  }
  EXPECT_TRUE(all_close(download(dw2), expected_dw2, 0, 0));
  EXPECT_TRUE(all_close(download(db2), expected_db2, 0, 0));
  EXPECT_TRUE(all_close(download(dh), expected_dh, 0, 0));
  EXPECT_TRUE(all_close(download(db1), expected_db1, 0, 0));
}

}  // namespace
}  // namespace train_gpu::cuda

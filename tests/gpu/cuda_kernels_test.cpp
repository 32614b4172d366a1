// Direct tests of the CUDA kernels and layers against CPU references: the shared per-element
// math of cuda/math/ (softmax-CE, Adam, scaling, pooling, ReLU) and naive loops (GEMM,
// convolution, sums). Outputs are poisoned with NaN first, so an unwritten element fails.
// Skipped where no CUDA device answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/handles.h"
#include "cuda/kernels/adam.h"
#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/gather_scale.h"
#include "cuda/kernels/nonfinite.h"
#include "cuda/kernels/softmax_xent.h"
#include "cuda/layers/conv.h"
#include "cuda/layers/dense.h"
#include "cuda/layers/pool.h"
#include "cuda/loader/batch_loader.h"
#include "cuda/loader/batch_stager.h"
#include "cuda/math/activation_math.h"
#include "cuda/math/adam_math.h"
#include "cuda/math/pool_math.h"
#include "cuda/math/softmax_xent_math.h"
#include "host/model/cpu_threads.h"
#include "gpu/cuda_test_fixture.h"
#include "gpu/random_inputs.h"

namespace train_gpu::cuda {
namespace {

using testing::all_close;
using testing::bitwise_equal;
using testing::download;
using testing::poisoned;
using testing::small_integers;
using testing::uniform;
using testing::upload;

class CudaKernels : public testing::CudaTest {};

DeviceTotals read_totals(const DeviceBuffer<DeviceTotals>& totals) { return download(totals)[0]; }

// ---------------------------------------------------------------------------------------------

TEST_F(CudaKernels, SoftmaxXentMatchesTheSharedRowMathAndAccumulatesTotals) {
  // 300 rows: more than the kernel's 256 threads, so the stride loop is exercised.
  constexpr int kRows = 300;
  const std::vector<float> logits = uniform(kRows * 10, -6.0f, 6.0f, 1);
  std::vector<uint8_t> labels(kRows);
  for (int i = 0; i < kRows; ++i) labels[static_cast<std::size_t>(i)] = static_cast<uint8_t>((i * 7) % 10);

  std::vector<float> expected_dlogits(kRows * 10);
  std::vector<float> expected_probabilities(kRows * 10);
  double loss_sum = 0;
  unsigned long long correct = 0;
  std::vector<unsigned long long> confusion(100, 0);
  for (int i = 0; i < kRows; ++i) {
    const float* row = logits.data() + i * 10;
    const int label = labels[static_cast<std::size_t>(i)];
    const math::SoftmaxXentRow r = math::softmax_xent_row(row, 10, label, 1.0f / kRows, &expected_dlogits[i * 10]);
    math::softmax_row(row, 10, &expected_probabilities[i * 10]);
    loss_sum += r.loss;
    correct += r.predicted == label ? 1 : 0;
    ++confusion[static_cast<std::size_t>(label * 10 + r.predicted)];
  }

  DeviceBuffer<float> d_logits = upload(logits);
  DeviceBuffer<uint8_t> d_labels = upload(labels);
  DeviceBuffer<float> d_dlogits = poisoned(kRows * 10);
  DeviceBuffer<float> d_probabilities = poisoned(kRows * 10);
  DeviceBuffer<DeviceTotals> totals(1);
  launch_reset_totals(totals.data(), nullptr);
  for (int repeat = 0; repeat < 2; ++repeat) {
    launch_softmax_xent(d_logits.data(), d_labels.data(), kRows, 10, d_dlogits.data(), d_probabilities.data(),
                        totals.data(), nullptr);
  }
  // Same formula on both sides; expf/logf differ by at most 2 ulp between CUDA and glibc, and
  // nvcc may contract a multiply-add, so a few float ulps: rtol 1e-5, atol 1e-7 for values near 0.
  EXPECT_TRUE(all_close(download(d_dlogits), expected_dlogits, 1e-5, 1e-7));
  EXPECT_TRUE(all_close(download(d_probabilities), expected_probabilities, 1e-5, 1e-7));
  const DeviceTotals t = read_totals(totals);
  EXPECT_EQ(t.batches, 2u);
  EXPECT_EQ(t.samples, 2u * kRows);
  EXPECT_EQ(t.correct, 2 * correct);
  EXPECT_EQ(t.first_nonfinite_batch, -1);
  EXPECT_NEAR(t.sample_loss_sum, 2 * loss_sum, 1e-5 * 2 * loss_sum);
  EXPECT_NEAR(t.batch_loss_sum, 2 * loss_sum / kRows, 1e-5 * 2 * loss_sum / kRows);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(t.confusion[i], 2 * confusion[i]) << "confusion " << i;
}

TEST_F(CudaKernels, SoftmaxXentFlagsANonFiniteBatchByItsIndex) {
  std::vector<float> logits = uniform(4 * 10, -1.0f, 1.0f, 2);
  DeviceBuffer<float> good = upload(logits);
  logits[13] = std::nanf("");
  DeviceBuffer<float> bad = upload(logits);
  DeviceBuffer<uint8_t> labels = upload(std::vector<uint8_t>{1, 2, 3, 4});
  DeviceBuffer<DeviceTotals> totals(1);
  launch_reset_totals(totals.data(), nullptr);
  launch_softmax_xent(good.data(), labels.data(), 4, 10, nullptr, nullptr, totals.data(), nullptr);
  launch_softmax_xent(bad.data(), labels.data(), 4, 10, nullptr, nullptr, totals.data(), nullptr);
  launch_softmax_xent(bad.data(), labels.data(), 4, 10, nullptr, nullptr, totals.data(), nullptr);
  EXPECT_EQ(read_totals(totals).first_nonfinite_batch, 1);  // the first bad batch, not the last
}

TEST_F(CudaKernels, NonfiniteGradientsFlagTheCurrentBatchOnce) {
  std::vector<float> gradients = uniform(700000, -1.0f, 1.0f, 3);
  DeviceBuffer<float> finite = upload(gradients);
  gradients[654321] = INFINITY;
  DeviceBuffer<float> infinite = upload(gradients);
  DeviceBuffer<DeviceTotals> totals(1);
  DeviceTotals start = empty_device_totals();
  start.batches = 3;  // as if softmax_xent had counted batches 0, 1, 2
  CUDA_CHECK(cudaMemcpy(totals.data(), &start, sizeof start, cudaMemcpyHostToDevice));
  launch_flag_nonfinite(finite.data(), finite.size(), totals.data(), nullptr);
  EXPECT_EQ(read_totals(totals).first_nonfinite_batch, -1);
  launch_flag_nonfinite(infinite.data(), infinite.size(), totals.data(), nullptr);
  EXPECT_EQ(read_totals(totals).first_nonfinite_batch, 2);
  start.batches = 5;
  start.first_nonfinite_batch = 2;
  CUDA_CHECK(cudaMemcpy(totals.data(), &start, sizeof start, cudaMemcpyHostToDevice));
  launch_flag_nonfinite(infinite.data(), infinite.size(), totals.data(), nullptr);
  EXPECT_EQ(read_totals(totals).first_nonfinite_batch, 2);
}

TEST_F(CudaKernels, AdamMatchesTheSharedUpdateBitwise) {
  constexpr std::size_t kCount = 100003;  // not a multiple of the block size
  std::vector<float> parameters = uniform(kCount, -0.1f, 0.1f, 4);
  const std::vector<float> gradients = uniform(kCount, -1e-2f, 1e-2f, 5);
  std::vector<float> m = uniform(kCount, -1e-3f, 1e-3f, 6);
  std::vector<float> v = uniform(kCount, 0.0f, 1e-5f, 7);
  DeviceBuffer<float> d_parameters = upload(parameters);
  DeviceBuffer<float> d_gradients = upload(gradients);
  DeviceBuffer<float> d_m = upload(m);
  DeviceBuffer<float> d_v = upload(v);
  const float step_size = math::adam_step_size(1e-3f, 0.9f, 0.999f, 7);
  launch_adam(d_parameters.data(), d_gradients.data(), d_m.data(), d_v.data(), kCount, 0.9f, 0.999f, step_size, 1e-7f,
              nullptr);
  for (std::size_t i = 0; i < kCount; ++i) {
    parameters[i] = math::adam_update(parameters[i], gradients[i], m[i], v[i], 0.9f, 0.999f, step_size, 1e-7f);
  }
  // The same function, each operation rounded on its own on both sides (cuda/math/rounded_float.h:
  // no FMA contraction, IEEE division and square root): the same bits. With nvcc's default
  // contraction, 869 of these m values missed even rtol 1e-6 where b1*m and (1-b1)*g cancel.
  EXPECT_TRUE(bitwise_equal(download(d_m), m));
  EXPECT_TRUE(bitwise_equal(download(d_v), v));
  EXPECT_TRUE(bitwise_equal(download(d_parameters), parameters));
}

// Moments decayed into the subnormal range (~750 steps without gradient): the device flushes them
// (-ftz=true) as the CPU backend does with its default FTZ/DAZ, so the same bits again.
TEST_F(CudaKernels, AdamFlushesSubnormalMomentsAsTheCpuBackendDoes) {
  const bool previous = cpu::flushes_denormals();
  cpu::set_flush_denormals(true);
  if (!cpu::flushes_denormals()) GTEST_SKIP() << "this CPU has no flush-to-zero mode to compare with";
  constexpr std::size_t kCount = 4099;
  std::vector<float> parameters = uniform(kCount, -0.1f, 0.1f, 40);
  std::vector<float> gradients(kCount, 0.0f);
  for (std::size_t i = 0; i < kCount; i += 7) gradients[i] = 1e-20f;  // g^2 underflows: v stays tiny
  std::vector<float> m = uniform(kCount, -4e-38f, 4e-38f, 41);       // around FLT_MIN = 1.18e-38
  std::vector<float> v = uniform(kCount, 0.0f, 4e-38f, 42);
  DeviceBuffer<float> d_parameters = upload(parameters), d_gradients = upload(gradients), d_m = upload(m),
                      d_v = upload(v);
  for (int64_t t = 800; t < 803; ++t) {
    const float step_size = math::adam_step_size(1e-3f, 0.9f, 0.999f, t);
    launch_adam(d_parameters.data(), d_gradients.data(), d_m.data(), d_v.data(), kCount, 0.9f, 0.999f, step_size,
                1e-7f, nullptr);
    for (std::size_t i = 0; i < kCount; ++i) {
      parameters[i] = math::adam_update(parameters[i], gradients[i], m[i], v[i], 0.9f, 0.999f, step_size, 1e-7f);
    }
  }
  cpu::set_flush_denormals(previous);
  // The inputs did reach the subnormal range and the host flushed them: the case is exercised.
  EXPECT_GT(std::count(m.begin(), m.end(), 0.0f), 1000);
  EXPECT_TRUE(bitwise_equal(download(d_m), m));
  EXPECT_TRUE(bitwise_equal(download(d_v), v));
  EXPECT_TRUE(bitwise_equal(download(d_parameters), parameters));
}

TEST_F(CudaKernels, GatherScaleFollowsTheOrderAndScalesExactly) {
  constexpr int kPixels = 784;
  constexpr int kSamples = 10;
  std::vector<uint8_t> pixels(kSamples * kPixels);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 31) % 256);
  std::vector<uint8_t> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<int32_t> order = {9, 3, 0, 7, 7, 2};
  DeviceBuffer<uint8_t> d_pixels = upload(pixels);
  DeviceBuffer<uint8_t> d_labels = upload(labels);
  DeviceBuffer<int32_t> d_order = upload(order);
  DeviceBuffer<float> images = poisoned(3 * kPixels);
  DeviceBuffer<uint8_t> batch_labels = upload(std::vector<uint8_t>(3, 255));
  launch_gather_scale(d_pixels.data(), d_labels.data(), d_order.data(), 2, 3, kPixels, images.data(),
                      batch_labels.data(), nullptr);
  const std::vector<float> got = download(images);
  const std::vector<uint8_t> got_labels = download(batch_labels);
  for (int i = 0; i < 3; ++i) {
    const int sample = order[static_cast<std::size_t>(2 + i)];
    EXPECT_EQ(got_labels[static_cast<std::size_t>(i)], labels[static_cast<std::size_t>(sample)]);
    for (int p = 0; p < kPixels; ++p) {
      // Both sides divide by 255.0f with IEEE rounding (nvcc's default -prec-div=true): exact.
      ASSERT_EQ(got[static_cast<std::size_t>(i * kPixels + p)],
                math::scale_pixel(pixels[static_cast<std::size_t>(sample * kPixels + p)]));
    }
  }
  // Without an order, rows are samples first, first + 1, ...
  launch_gather_scale(d_pixels.data(), d_labels.data(), nullptr, 4, 1, kPixels, images.data(), batch_labels.data(),
                      nullptr);
  EXPECT_EQ(download(batch_labels)[0], 4);
  EXPECT_EQ(download(images)[5], math::scale_pixel(pixels[4 * kPixels + 5]));
}

TEST_F(CudaKernels, BiasActivationAndReluBackwardAreExact) {
  constexpr int kCount = 3, kChannels = 4, kPlane = 5;
  const std::vector<float> values = uniform(kCount * kChannels * kPlane, -1.0f, 1.0f, 8);
  const std::vector<float> bias = uniform(kChannels, -0.5f, 0.5f, 9);
  for (bool relu : {true, false}) {
    DeviceBuffer<float> d_values = upload(values);
    DeviceBuffer<float> d_bias = upload(bias);
    launch_bias_activation(d_values.data(), d_bias.data(), kCount, kChannels, kPlane, relu, nullptr);
    std::vector<float> expected(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      const float pre = values[i] + bias[(i / kPlane) % kChannels];
      expected[i] = relu ? math::relu(pre) : pre;
    }
    EXPECT_TRUE(all_close(download(d_values), expected, 0, 0)) << "relu " << relu;
  }
  const std::vector<float> output = uniform(1000, -1.0f, 1.0f, 10);
  const std::vector<float> gradient = uniform(1000, -1.0f, 1.0f, 11);
  DeviceBuffer<float> d_output = upload(output);
  DeviceBuffer<float> d_gradient = upload(gradient);
  launch_relu_backward(d_output.data(), d_gradient.data(), 1000, nullptr);
  std::vector<float> expected(1000);
  for (std::size_t i = 0; i < 1000; ++i) expected[i] = math::relu_backward(output[i], gradient[i]);
  EXPECT_TRUE(all_close(download(d_gradient), expected, 0, 0));
}

TEST_F(CudaKernels, ChannelSumMatchesADoubleSum) {
  // The convolution's shape: 100 x 32 x 676 (bias gradient of the conv layer).
  constexpr int kCount = 100, kChannels = 32, kPlane = 676;
  const std::vector<float> values = uniform(std::size_t{kCount} * kChannels * kPlane, -1.0f, 1.0f, 12);
  DeviceBuffer<float> d_values = upload(values);
  DeviceBuffer<float> sums = poisoned(kChannels);
  launch_channel_sum(d_values.data(), kCount, kChannels, kPlane, sums.data(), nullptr);
  std::vector<float> expected(kChannels);
  double largest_abs_sum = 0;
  for (int c = 0; c < kChannels; ++c) {
    double sum = 0, abs_sum = 0;
    for (int n = 0; n < kCount; ++n) {
      for (int p = 0; p < kPlane; ++p) {
        const double x = values[(std::size_t(n) * kChannels + c) * kPlane + p];
        sum += x;
        abs_sum += std::fabs(x);
      }
    }
    expected[static_cast<std::size_t>(c)] = static_cast<float>(sum);
    largest_abs_sum = std::max(largest_abs_sum, abs_sum);
  }
  // Float accumulation of 67,600 terms (264 per thread, then an 8-level tree): the rounding error
  // is bounded by ~(264 + 8) * 2^-24 * sum|x|, below 2e-5 * sum|x|.
  EXPECT_TRUE(all_close(download(sums), expected, 0, 2e-5 * largest_abs_sum));
  // Deterministic: the same input gives bitwise the same sums.
  const std::vector<float> first = download(sums);
  launch_channel_sum(d_values.data(), kCount, kChannels, kPlane, sums.data(), nullptr);
  EXPECT_EQ(download(sums), first);
}

TEST_F(CudaKernels, MaxPoolForwardAndBackwardMatchTheSharedWindowMath) {
  constexpr int kCount = 2, kChannels = 3, kSide = 26, kOut = 13;
  // Distinct random values (no ties), half of them negative as after a pre-ReLU... then clamped,
  // as the real input is the post-ReLU convolution output.
  std::vector<float> input = uniform(std::size_t{kCount} * kChannels * kSide * kSide, -1.0f, 1.0f, 13);
  for (float& x : input) x = math::relu(x);
  const std::vector<float> doutput = uniform(std::size_t{kCount} * kChannels * kOut * kOut, -1.0f, 1.0f, 14);
  DeviceBuffer<float> d_input = upload(input);
  DeviceBuffer<float> d_output = poisoned(doutput.size());
  DeviceBuffer<uint8_t> d_argmax = upload(std::vector<uint8_t>(doutput.size(), 255));
  launch_maxpool2x2_forward(d_input.data(), kCount, kChannels, kSide, d_output.data(), d_argmax.data(), nullptr);
  DeviceBuffer<float> d_doutput = upload(doutput);
  DeviceBuffer<float> d_dinput = poisoned(input.size());
  launch_maxpool2x2_relu_backward(d_doutput.data(), d_argmax.data(), d_input.data(), kCount, kChannels, kSide,
                                  d_dinput.data(), nullptr);

  std::vector<float> expected_output(doutput.size());
  std::vector<uint8_t> expected_argmax(doutput.size());
  std::vector<float> expected_dinput(input.size(), 0.0f);
  for (int plane = 0; plane < kCount * kChannels; ++plane) {
    const float* in = input.data() + std::size_t(plane) * kSide * kSide;
    for (int y = 0; y < kOut; ++y) {
      for (int x = 0; x < kOut; ++x) {
        const std::size_t o = std::size_t(plane) * kOut * kOut + std::size_t(y) * kOut + std::size_t(x);
        const math::PoolWinner w = math::maxpool2x2_window(in, kSide, y, x);
        expected_output[o] = w.value;
        expected_argmax[o] = w.position;
        for (int pos = 0; pos < 4; ++pos) {
          const std::size_t i = std::size_t(plane) * kSide * kSide + std::size_t(2 * y + pos / 2) * kSide +
                                std::size_t(2 * x + pos % 2);
          expected_dinput[i] = math::maxpool2x2_relu_backward(input[i], doutput[o], w.position, pos);
        }
      }
    }
  }
  // Comparisons and copies only: exact.
  EXPECT_TRUE(all_close(download(d_output), expected_output, 0, 0));
  EXPECT_EQ(download(d_argmax), expected_argmax);
  EXPECT_TRUE(all_close(download(d_dinput), expected_dinput, 0, 0));
}

TEST_F(CudaKernels, DenseGemmsAreExactOnSmallIntegers) {
  // fc1's real shape with small integers: every product and partial sum is an integer below
  // 2^24, so FP32 GEMM is exact in any summation order.
  constexpr int kCount = 7, kIn = 5408, kOut = 128;
  const std::vector<float> input = small_integers(std::size_t{kCount} * kIn, 0, 2, 15);
  const std::vector<float> weight = small_integers(std::size_t{kOut} * kIn, -2, 2, 16);
  const std::vector<float> doutput = small_integers(std::size_t{kCount} * kOut, -3, 3, 17);
  Stream stream = make_stream();
  CublasHandle cublas = make_cublas_handle(stream.get());
  DeviceBuffer<float> d_input = upload(input);
  DeviceBuffer<float> d_weight = upload(weight);
  DeviceBuffer<float> d_doutput = upload(doutput);
  DeviceBuffer<float> output = poisoned(std::size_t{kCount} * kOut);
  DeviceBuffer<float> weight_grad = poisoned(weight.size());
  DeviceBuffer<float> dinput = poisoned(input.size());
  dense_forward(cublas.get(), d_input.data(), d_weight.data(), kCount, kIn, kOut, output.data());
  dense_backward_weight(cublas.get(), d_input.data(), d_doutput.data(), kCount, kIn, kOut, weight_grad.data());
  dense_backward_input(cublas.get(), d_doutput.data(), d_weight.data(), kCount, kIn, kOut, dinput.data());
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));

  std::vector<float> expected_output(output.size()), expected_wgrad(weight.size()), expected_dinput(input.size());
  for (int n = 0; n < kCount; ++n) {
    for (int o = 0; o < kOut; ++o) {
      double sum = 0;
      for (int i = 0; i < kIn; ++i) sum += double(input[std::size_t(n) * kIn + i]) * weight[std::size_t(o) * kIn + i];
      expected_output[std::size_t(n) * kOut + o] = static_cast<float>(sum);
    }
  }
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) {
      double sum = 0;
      for (int n = 0; n < kCount; ++n) sum += double(doutput[std::size_t(n) * kOut + o]) * input[std::size_t(n) * kIn + i];
      expected_wgrad[std::size_t(o) * kIn + i] = static_cast<float>(sum);
    }
  }
  for (int n = 0; n < kCount; ++n) {
    for (int i = 0; i < kIn; ++i) {
      double sum = 0;
      for (int o = 0; o < kOut; ++o) sum += double(doutput[std::size_t(n) * kOut + o]) * weight[std::size_t(o) * kIn + i];
      expected_dinput[std::size_t(n) * kIn + i] = static_cast<float>(sum);
    }
  }
  EXPECT_TRUE(all_close(download(output), expected_output, 0, 0));
  EXPECT_TRUE(all_close(download(weight_grad), expected_wgrad, 0, 0));
  EXPECT_TRUE(all_close(download(dinput), expected_dinput, 0, 0));
}

TEST_F(CudaKernels, ConvolutionForwardAndBackwardFilterMatchNaiveLoops) {
  constexpr int kCount = 5, kSide = 28, kOut = 26, kFilters = 32;
  const std::vector<float> images = uniform(std::size_t{kCount} * kSide * kSide, 0.0f, 1.0f, 18);
  const std::vector<float> weight = uniform(kFilters * 9, -0.5f, 0.5f, 19);
  const std::vector<float> doutput = uniform(std::size_t{kCount} * kFilters * kOut * kOut, -1.0f, 1.0f, 20);
  // Benchmarked (cudnnFind), deterministic (heuristics, untimed), and a requested direct-sum pair.
  for (const char* choice : {"benchmarked", "deterministic", "requested"}) {
    Stream stream = make_stream();
    CudnnHandle cudnn = make_cudnn_handle(stream.get());
    ConvolutionOptions options;
    options.max_batch = 8;  // larger than kCount: exercises the per-batch-size shapes
    options.deterministic = std::string(choice) == "deterministic";
    if (std::string(choice) == "requested") {
      options.requested.forward = 0;          // CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM
      options.requested.backward_filter = 1;  // CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1
    }
    ConvolutionLayer conv(cudnn.get(), options);
    const std::string expected_how = std::string(choice) == "benchmarked"     ? "benchmarked (cudnnFind)"
                                     : std::string(choice) == "deterministic" ? "heuristic (cudnnGet*_v7, untimed)"
                                                                              : "as requested";
    EXPECT_EQ(conv.algorithms().how, expected_how) << describe(conv.algorithms());
    DeviceBuffer<float> d_images = upload(images);
    DeviceBuffer<float> d_weight = upload(weight);
    DeviceBuffer<float> d_doutput = upload(doutput);
    DeviceBuffer<float> output = poisoned(doutput.size());
    DeviceBuffer<float> weight_grad = poisoned(weight.size());
    conv.forward(d_images.data(), d_weight.data(), kCount, output.data());
    conv.backward_weight(d_images.data(), d_doutput.data(), kCount, weight_grad.data());
    CUDA_CHECK(cudaStreamSynchronize(stream.get()));

    std::vector<float> expected_output(doutput.size());
    std::vector<float> expected_wgrad(weight.size(), 0.0f);
    std::vector<double> wgrad(weight.size(), 0.0);
    double wgrad_abs_max = 0;
    for (int n = 0; n < kCount; ++n) {
      for (int f = 0; f < kFilters; ++f) {
        for (int y = 0; y < kOut; ++y) {
          for (int x = 0; x < kOut; ++x) {
            double sum = 0;
            const std::size_t o = ((std::size_t(n) * kFilters + f) * kOut + y) * kOut + x;
            for (int k = 0; k < 9; ++k) {
              const double pixel = images[(std::size_t(n) * kSide + y + k / 3) * kSide + x + k % 3];
              sum += pixel * weight[std::size_t(f) * 9 + k];
              wgrad[std::size_t(f) * 9 + k] += pixel * doutput[o];
            }
            expected_output[o] = static_cast<float>(sum);
          }
        }
      }
    }
    for (std::size_t i = 0; i < wgrad.size(); ++i) {
      expected_wgrad[i] = static_cast<float>(wgrad[i]);
      wgrad_abs_max = std::max(wgrad_abs_max, std::fabs(wgrad[i]));
    }
    // Forward: 9 products of |x| <= 0.5 in FP32, any algorithm (Winograd/FFT transforms add a few
    // ulps of the operands' scale): atol 1e-5. Backward-filter sums 3,380 products of |x| <= 1:
    // float accumulation error is bounded by ~1e-4 of the largest magnitude.
    EXPECT_TRUE(all_close(download(output), expected_output, 1e-5, 1e-5)) << choice << ": " << conv.describe();
    EXPECT_TRUE(all_close(download(weight_grad), expected_wgrad, 1e-4, 1e-4 * wgrad_abs_max))
        << choice << ": " << conv.describe();
  }
}

TEST_F(CudaKernels, LoadersDeliverIdenticalBatches) {
  // Both loaders over a whole pass of 100 samples in batches of 32 (the last one short), then a
  // test batch and single images, against the CPU gather + math::scale_pixel: exact.
  ImageSet train, test;
  for (ImageSet* set : {&train, &test}) {
    set->count = set == &train ? 100 : 40;
    set->rows = set->cols = 28;
    set->pixels.resize(static_cast<std::size_t>(set->count * 784));
    set->labels.resize(static_cast<std::size_t>(set->count));
    for (std::size_t i = 0; i < set->pixels.size(); ++i) set->pixels[i] = static_cast<uint8_t>((i * 13 + set->count) % 256);
    for (std::size_t i = 0; i < set->labels.size(); ++i) set->labels[i] = static_cast<uint8_t>((i * 3) % 10);
  }
  std::vector<int32_t> order(100);
  for (int i = 0; i < 100; ++i) order[static_cast<std::size_t>(i)] = (i * 37) % 100;
  std::vector<int32_t> test_order(40);
  for (int i = 0; i < 40; ++i) test_order[static_cast<std::size_t>(i)] = 39 - i;
  Stream stream = make_stream();
  std::unique_ptr<BatchLoader> loaders[2] = {make_device_loader(train, test), make_pinned_loader(train, test, 32, 0)};
  for (auto& loader : loaders) {
    loader->set_order(Split::kTrain, order, stream.get());
    loader->set_order(Split::kTest, test_order, stream.get());
  }
  auto expected = [](const ImageSet& set, const std::vector<int32_t>& ord, int64_t first, int count) {
    std::vector<uint8_t> pixels(static_cast<std::size_t>(count) * 784), labels(static_cast<std::size_t>(count));
    gather_batch(set.pixels.data(), set.labels.data(), 784, ord.data(), first, count, pixels.data(), labels.data());
    std::vector<float> images(pixels.size());
    for (std::size_t i = 0; i < pixels.size(); ++i) images[i] = math::scale_pixel(pixels[i]);
    return std::pair{images, labels};
  };
  struct Request { Split split; int64_t first; int count; };
  const Request requests[] = {{Split::kTrain, 0, 32}, {Split::kTrain, 32, 32}, {Split::kTrain, 64, 32},
                              {Split::kTrain, 96, 4}, {Split::kTest, 8, 32}, {Split::kTrain, 0, 32}};
  for (auto& loader : loaders) {
    // Several batches in flight before anything is read back, as in training.
    // Outputs prepared first: upload() synchronizes the device, which would drain the pipeline.
    std::vector<DeviceBuffer<float>> images;
    std::vector<DeviceBuffer<uint8_t>> labels;
    for (std::size_t i = 0; i < std::size(requests); ++i) {
      images.push_back(poisoned(32 * 784));
      labels.push_back(upload(std::vector<uint8_t>(32, 255)));
    }
    for (std::size_t i = 0; i < std::size(requests); ++i) {
      const Request& r = requests[i];
      loader->load_batch(r.split, r.first, r.count, images[i].data(), labels[i].data(), stream.get());
    }
    CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    for (std::size_t i = 0; i < std::size(requests); ++i) {
      const Request& r = requests[i];
      const auto [want_images, want_labels] =
          expected(r.split == Split::kTrain ? train : test, r.split == Split::kTrain ? order : test_order, r.first, r.count);
      std::vector<float> got_images = download(images[i]);
      std::vector<uint8_t> got_labels = download(labels[i]);
      got_images.resize(want_images.size());
      got_labels.resize(want_labels.size());
      EXPECT_EQ(got_images, want_images) << loader->name() << " batch " << i;
      EXPECT_EQ(got_labels, want_labels) << loader->name() << " batch " << i;
    }
    DeviceBuffer<float> image = poisoned(784);
    DeviceBuffer<uint8_t> label = upload(std::vector<uint8_t>{255});
    loader->load_image(Split::kTest, 7, image.data(), label.data(), stream.get());
    CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    EXPECT_EQ(download(label)[0], test.labels[7]) << loader->name();
    EXPECT_EQ(download(image)[100], math::scale_pixel(test.pixels[7 * 784 + 100])) << loader->name();
  }
}

}  // namespace
}  // namespace train_gpu::cuda

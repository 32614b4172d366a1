// tools/checkpoint_accuracy.py against checkpoints this test writes: it must parse our
// safetensors by hand, and its numpy forward pass must agree with a float64 reference here
// (which checks the PyTorch layouts end to end: conv weight order, pooling, (c,h,w) flattening,
// y = x @ W.T + b). Skips where /usr/bin/python3 with numpy is absent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "host/common/random.h"
#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)
using namespace model;

const char* const kPython = "/usr/bin/python3";

t::MergedCommandResult run_script(const fs::path& checkpoint, const fs::path& data_dir) {
  const std::string script = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/checkpoint_accuracy.py";
  return t::run_command_merged(std::string(kPython) + " " + t::shell_quote(script) + " " +
                               t::shell_quote(checkpoint.string()) + " --data-dir " + t::shell_quote(data_dir.string()));
}

struct Printed {
  long correct = -1;
  long total = -1;
  double accuracy_percent = -1;
  double loss = -1;
};

Printed parse_output(const std::string& output) {
  Printed printed;
  const std::size_t accuracy = output.find("test accuracy ");
  if (accuracy != std::string::npos) {
    std::sscanf(output.c_str() + accuracy, "test accuracy %lf%% (%ld/%ld)", &printed.accuracy_percent, &printed.correct,
                &printed.total);
  }
  const std::size_t loss = output.find("test loss ");
  if (loss != std::string::npos) std::sscanf(output.c_str() + loss, "test loss %lf", &printed.loss);
  return printed;
}

class CheckpointAccuracyScript : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " not found; the script's test needs it";
    if (!t::system_python_has("numpy")) GTEST_SKIP() << kPython << " lacks numpy";
  }
};

Checkpoint zero_checkpoint() {
  Checkpoint checkpoint;
  checkpoint.state.parameters.assign(kParameterCount, 0.0f);
  checkpoint.state.adam_m.assign(kParameterCount, 0.0f);
  checkpoint.state.adam_v.assign(kParameterCount, 0.0f);
  checkpoint.metadata.dataset = "mnist";
  return checkpoint;
}

void write_idx(const fs::path& file, uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
  std::ofstream out(file, std::ios::binary);
  const auto put_u32_be = [&](uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.put(static_cast<char>((value >> shift) & 0xFF));
  };
  put_u32_be(magic);
  for (const uint32_t dim : dims) put_u32_be(dim);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size()));
}

// The network in float64, written as plainly as possible: a second implementation to hold the
// script's vectorized numpy against. Returns the 10 logits of one 28x28 image.
std::vector<double> reference_logits(const std::vector<float>& p, const uint8_t* pixels) {
  std::vector<double> pooled(kFlatFeatures);
  for (int c = 0; c < kConvFilters; ++c) {
    for (int row = 0; row < kPoolSide; ++row) {
      for (int col = 0; col < kPoolSide; ++col) {
        double best = 0;  // after ReLU every candidate is >= 0
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const int y = 2 * row + dy, x = 2 * col + dx;
            double sum = p[kConvBiasOffset + std::size_t(c)];
            for (int ky = 0; ky < kConvKernel; ++ky) {
              for (int kx = 0; kx < kConvKernel; ++kx) {
                // conv.weight (32, 1, 3, 3)
                sum += double(p[kConvWeightOffset + std::size_t((c * kConvKernel + ky) * kConvKernel + kx)]) *
                       (pixels[(y + ky) * kImageSide + (x + kx)] / 255.0);
              }
            }
            best = std::max(best, sum);
          }
        }
        pooled[std::size_t((c * kPoolSide + row) * kPoolSide + col)] = best;  // (c, h, w) flattening
      }
    }
  }
  std::vector<double> hidden(kHidden);
  for (int j = 0; j < kHidden; ++j) {
    double sum = p[kFc1BiasOffset + std::size_t(j)];
    const float* row = p.data() + kFc1WeightOffset + std::size_t(j) * kFlatFeatures;  // fc1.weight (128, 5408)
    for (int i = 0; i < kFlatFeatures; ++i) sum += double(row[i]) * pooled[std::size_t(i)];
    hidden[std::size_t(j)] = std::max(sum, 0.0);
  }
  std::vector<double> logits(kClasses);
  for (int k = 0; k < kClasses; ++k) {
    double sum = p[kFc2BiasOffset + std::size_t(k)];
    for (int j = 0; j < kHidden; ++j) sum += double(p[kFc2WeightOffset + std::size_t(k * kHidden + j)]) * hidden[std::size_t(j)];
    logits[std::size_t(k)] = sum;
  }
  return logits;
}

// Synthetic images, labels chosen as the reference's own predictions: a correct forward pass
// scores 100%, any layout mistake about 10%. Also checks the loss, which every logit moves.
TEST_F(CheckpointAccuracyScript, MatchesFloat64ReferenceOnSyntheticData) {
  t::TempDir scratch;
  // 1100 images: one full batch of the script's 1000 and a partial one.
  constexpr int kImages = 1100;
  Rng rng(2024);

  Checkpoint checkpoint = zero_checkpoint();
  std::vector<float>& p = checkpoint.state.parameters;
  // Glorot-like scales keep every layer's activations O(1), so the logits spread out.
  const auto fill = [&](std::size_t offset, std::size_t count, float scale) {
    for (std::size_t i = 0; i < count; ++i) p[offset + i] = (2.0f * rng.uniform01() - 1.0f) * scale;
  };
  fill(kConvWeightOffset, kConvWeightCount, 0.8f);
  fill(kConvBiasOffset, kConvBiasCount, 0.1f);
  fill(kFc1WeightOffset, kFc1WeightCount, 0.05f);
  fill(kFc1BiasOffset, kFc1BiasCount, 0.1f);
  fill(kFc2WeightOffset, kFc2WeightCount, 0.3f);
  fill(kFc2BiasOffset, kFc2BiasCount, 0.1f);
  const fs::path file = scratch.path() / "random.safetensors";
  save_checkpoint(file, checkpoint);

  std::vector<uint8_t> pixels(std::size_t(kImages) * kImagePixels);
  for (uint8_t& pixel : pixels) pixel = rng.below(3) == 0 ? 0 : static_cast<uint8_t>(rng.below(256));
  std::vector<uint8_t> labels(kImages);
  std::set<int> predicted_classes;
  double loss_sum = 0;
  int near_ties = 0;
  for (int n = 0; n < kImages; ++n) {
    const std::vector<double> logits = reference_logits(p, pixels.data() + std::size_t(n) * kImagePixels);
    const auto top = std::max_element(logits.begin(), logits.end());
    const int label = int(top - logits.begin());
    labels[std::size_t(n)] = static_cast<uint8_t>(label);
    predicted_classes.insert(label);
    // float32 logits may differ from these by ~1e-5 (5408-term sums); an image whose top two
    // logits are closer than 1e-3 may legitimately flip, so it is allowed to.
    double runner_up = -INFINITY, log_sum = 0;
    for (int k = 0; k < kClasses; ++k) {
      if (k != label) runner_up = std::max(runner_up, logits[std::size_t(k)]);
      log_sum += std::exp(logits[std::size_t(k)] - *top);
    }
    if (*top - runner_up < 1e-3) ++near_ties;
    loss_sum += std::log(log_sum);  // -log softmax of the label, which is the top logit
  }
  ASSERT_GE(predicted_classes.size(), 3u) << "predictions too uniform to test anything";

  // The dotted name form, uncompressed: the script must find it.
  write_idx(scratch.path() / "t10k-images.idx3-ubyte", 0x803, {kImages, kImageSide, kImageSide}, pixels);
  write_idx(scratch.path() / "t10k-labels.idx1-ubyte", 0x801, {kImages}, labels);

  const t::MergedCommandResult run = run_script(file, scratch.path());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const Printed printed = parse_output(run.output);
  EXPECT_EQ(printed.total, kImages) << run.output;
  EXPECT_GE(printed.correct, kImages - near_ties) << run.output;
  // The script prints 4 decimals (rounding error 5e-5); float32 against float64 adds ~1e-6.
  EXPECT_NEAR(printed.loss, loss_sum / kImages, 1e-4) << run.output;
}

// Real MNIST: with all weights zero and fc2.bias favoring class 1, every image is predicted 1,
// so the accuracy is the share of ones in the test set (1135 of 10000).
TEST_F(CheckpointAccuracyScript, ConstantPredictionScoresTheShareOfOnesOnMnist) {
  const fs::path mnist = TRAIN_GPU_MNIST_DIR;
  if (!fs::exists(mnist / "t10k-labels-idx1-ubyte.gz") && !fs::exists(mnist / "t10k-labels-idx1-ubyte")) {
    GTEST_SKIP() << "MNIST test set not found in " << mnist;
  }
  t::TempDir scratch;
  Checkpoint checkpoint = zero_checkpoint();
  checkpoint.state.parameters[kFc2BiasOffset + 1] = 1.0f;
  const fs::path file = scratch.path() / "constant.safetensors";
  save_checkpoint(file, checkpoint);

  const t::MergedCommandResult run = run_script(file, mnist);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("test accuracy 11.35% (1135/10000)\n"), std::string::npos) << run.output;
  // Logits (0, 1, 0, ..., 0): loss log(e + 9) - 1 for a one, log(e + 9) for the rest.
  const double expected_loss = std::log(std::exp(1.0) + 9.0) - 0.1135;
  EXPECT_NEAR(parse_output(run.output).loss, expected_loss, 6e-5) << run.output;  // 4 printed decimals
}

TEST_F(CheckpointAccuracyScript, CorruptCheckpointFailsWithChecksumError) {
  t::TempDir scratch;
  const fs::path file = scratch.path() / "corrupt.safetensors";
  save_checkpoint(file, zero_checkpoint());
  {
    std::fstream damage(file, std::ios::binary | std::ios::in | std::ios::out);
    damage.seekp(-1, std::ios::end);
    damage.put('\x7f');
  }
  const t::MergedCommandResult run = run_script(file, scratch.path());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("checksum mismatch: the tensor data is corrupt"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace train_gpu

// What the exported-model tests (ONNX, Keras) share: a real model trained briefly by the binary,
// evaluate's files for it on all 10,000 MNIST test images, and the judgement of a
// tests/support/*_matches_evaluate.py line against them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu::testing {

struct SmallTrainedModel {
  std::filesystem::path checkpoint;  // RUN/checkpoints/epoch-001.safetensors
  std::filesystem::path evaluation;  // `evaluate`'s output directory: probabilities.npy, evaluation.json
};

// One epoch on the first 2,000 training images (about 88% test accuracy: a model whose
// probabilities spread, unlike a constant one), then, when `evaluate_test_set`, `evaluate` on the
// whole test set. Fails the test (and returns empty paths) when a command fails.
inline SmallTrainedModel train_small_model(const std::filesystem::path& scratch, bool evaluate_test_set = true) {
  const std::string binary = shell_quote(TRAIN_GPU_BINARY);
  const std::string data = " --device cpu --data-dir " + shell_quote(TRAIN_GPU_MNIST_DIR);
  const std::filesystem::path run = scratch / "run";
  MergedCommandResult result = run_command_merged(binary + " train --epochs 1 --limit-train 2000 --limit-test 100 --no-progress" +
                                                  data + " --run-dir " + shell_quote(run.string()));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  if (result.exit_code != 0) return {};
  SmallTrainedModel model{run / "checkpoints" / "epoch-001.safetensors", scratch / "evaluation"};
  if (!evaluate_test_set) return model;
  result = run_command_merged(binary + " evaluate --checkpoint " + shell_quote(model.checkpoint.string()) + data +
                              " --out " + shell_quote(model.evaluation.string()));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  if (result.exit_code != 0) return {};
  return model;
}

// `output`'s last line, printed by tests/support/evaluate_reference.py's comparison_line, must
// show the other runtime agreeing with evaluate on every test image. Both sides are float32
// forward passes of the same weights that differ only in summation order (oneDNN vs MLAS or
// Eigen over 5,408 and 128 terms): measured at most 1.3e-6 apart, so the 1e-5 holds with
// room, while a layout mistake (transposed fc1, a permuted flatten) moves probabilities by tenths.
inline void expect_matches_evaluate(const std::string& output) {
  const std::vector<std::string> lines = lines_of(output);
  ASSERT_FALSE(lines.empty());
  std::map<std::string, std::string> values = key_values(lines.back());
  ASSERT_EQ(values.count("max_abs_difference"), 1u) << output;
  EXPECT_EQ(values["samples"], "10000") << output;
  EXPECT_LE(std::stod(values["max_abs_difference"]), 1e-5) << output;
  EXPECT_EQ(values["other_correct"], values["evaluate_correct"]) << output;
  EXPECT_EQ(values["other_accuracy"], values["evaluate_accuracy"]) << output;
  EXPECT_EQ(values["same_predictions"], "10000") << output;
  EXPECT_GT(std::stod(values["other_accuracy"]), 80.0) << "a real model, not a constant one: " << output;
}

}  // namespace train_gpu::testing

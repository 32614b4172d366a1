// tools/plot.py on a run directory this test fabricates (metrics.csv, label_distribution.csv and
// the evaluation files, written by the same writers the evaluation uses): every figure is
// written, non-empty, at its documented pixel size (figsize x 100 dpi, read from the PNG IHDR).
// Also: missing inputs are skipped, missing matplotlib is a clear non-zero exit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "host/eval/npy.h"
#include "support/png_size.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)

const std::string kScript = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/plot.py";

t::MergedCommandResult plot(const fs::path& run_dir, const std::string& environment = "") {
  return t::run_command_merged(environment + " /usr/bin/python3 '" + kScript + "' '" + run_dir.string() + "'");
}

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

// metrics.csv as train_gpu writes it today: a learning_rate column, and val_loss/val_accuracy
// (left empty by a run without --validation-split).
const char* const kMetricsCsv =
    "epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second,resumed_at_batch,"
    "learning_rate,val_loss,val_accuracy\n"
    "1,0.1350,0.9598,0.0610,0.9800,3.1,21000,0,0.01,0.0702,0.9790\n"
    "2,0.0431,0.9866,0.0523,0.9829,1.2,21800,600,0.001,0.0561,0.9815\n"
    "3,0.0220,0.9930,0.0498,0.9841,2.9,22100,0,0.0001,0.0547,0.9822\n";

// As train_gpu wrote it before the training controls: no learning_rate, no validation.
const char* const kOlderMetricsCsv =
    "epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second,resumed_at_batch\n"
    "1,0.1350,0.9598,0.0610,0.9800,3.1,21000,0\n"
    "2,0.0431,0.9866,0.0523,0.9829,1.2,21800,600\n"
    "3,0.0220,0.9930,0.0498,0.9841,2.9,22100,0\n";

// A plausible 3-epoch run with its evaluation, class 9 never predicted (a 0/0 precision).
void fabricate_run(const fs::path& run) {
  write(run / "metrics.csv", kMetricsCsv);
  std::string distribution = "label,train_percent,test_percent\n";
  for (int c = 0; c < 10; ++c) distribution += std::to_string(c) + "," + std::to_string(9.0 + 0.2 * c) + "," + std::to_string(10.5 - 0.1 * c) + "\n";
  write(run / "label_distribution.csv", distribution);

  const fs::path evaluation = run / "evaluation";
  std::string confusion = "true\\predicted,0,1,2,3,4,5,6,7,8,9\n";
  for (int t = 0; t < 10; ++t) {
    confusion += std::to_string(t);
    for (int p = 0; p < 10; ++p) confusion += "," + std::to_string(p == 9 ? 0 : (t == p ? 950 + t : (t + p) % 4));
    confusion += "\n";
  }
  write(evaluation / "confusion.csv", confusion);

  std::vector<float> maps(32 * 26 * 26);
  for (size_t i = 0; i < maps.size(); ++i) maps[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  eval::write_npy(evaluation / "features-test-3.npy", maps.data(), {32, 26, 26});
  std::vector<uint8_t> images(25 * 28 * 28);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>((i * 7) % 256);
  eval::write_npy(evaluation / "features-test-3-input.npy", images.data(), {28, 28});
  write(evaluation / "features-test-3.json",
        "{\"index\": 3, \"label\": 0, \"predicted\": 0, \"probabilities\": [0.91, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, "
        "0.01, 0.01, 0.01]}\n");
  eval::write_npy(evaluation / "sample_images.npy", images.data(), {25, 28, 28});
  std::vector<uint8_t> labels(25), predictions(25);
  for (uint8_t i = 0; i < 25; ++i) {
    labels[i] = static_cast<uint8_t>(i % 10);
    predictions[i] = static_cast<uint8_t>(i == 8 ? 3 : i % 10);
  }
  eval::write_npy(evaluation / "sample_labels.npy", labels.data(), {25});
  eval::write_npy(evaluation / "sample_predictions.npy", predictions.data(), {25});
  write(evaluation / "mistakes.csv", "index,true_label,predicted_label,confidence\n8,8,3,0.991000\n17,7,2,0.850000\n4,4,9,0.600000\n");
  eval::write_npy(evaluation / "mistake_images.npy", images.data(), {3, 28, 28});
}

class PlotScript : public ::testing::Test {
 protected:
  void SetUp() override {
    static const bool available = t::system_python_has("numpy, matplotlib");  // ~1 s: ask once
    if (!available) GTEST_SKIP() << "/usr/bin/python3 lacks numpy or matplotlib";
  }
  t::TempDir dir_;
};

TEST_F(PlotScript, WritesEveryFigureAtItsSize) {
  const fs::path run = dir_.path() / "run";
  fabricate_run(run);
  const t::MergedCommandResult result = plot(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("skipping"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("8 figure(s)"), std::string::npos) << result.output;

  // figsize (inches) x 100 dpi, as plot.py sets them.
  const std::vector<std::pair<std::string, std::pair<uint32_t, uint32_t>>> expected = {
      {"label_distribution.png", {800, 450}}, {"loss.png", {800, 500}},     {"accuracy.png", {800, 500}},
      {"learning_rate.png", {800, 300}},
      {"confusion.png", {900, 800}},          {"features.png", {1200, 600}}, {"samples.png", {700, 750}},
      {"mistakes.png", {1200, 700}}};
  for (const auto& [name, size] : expected) {
    const fs::path file = run / "plots" / name;
    ASSERT_TRUE(fs::is_regular_file(file)) << name << "\n" << result.output;
    // A drawn figure of this size compresses to tens of kB; an empty canvas to ~2-5 kB.
    EXPECT_GT(fs::file_size(file), 10000u) << name;
    const t::PngSize png = t::png_size(file);
    EXPECT_TRUE(png.valid) << name;
    EXPECT_EQ(png.width, size.first) << name;
    EXPECT_EQ(png.height, size.second) << name;
  }
}

// evaluation.json as `train_gpu evaluate` writes it (the fields plot.py reads).
void write_evaluation_json(const fs::path& dir, int epoch, int step) {
  write(dir / "evaluation.json", "{\"checkpoint\": \"/r/checkpoints/epoch-00" + std::to_string(epoch) +
                                     ".safetensors\", \"epoch\": " + std::to_string(epoch) + ", \"step\": " +
                                     std::to_string(step) + ", \"batches_into_epoch\": 0, \"split\": \"test\"}\n");
}

// plot.py's figures, each with the texts placed on it (its caption), instead of PNG files.
t::MergedCommandResult figure_texts(const fs::path& run_dir) {
  const std::string code = "import sys; sys.path.insert(0, '" + std::string(TRAIN_GPU_SOURCE_DIR) + "/tools'); import plot\n"
                           "def save(figure, path):\n"
                           "    print('texts of %s: %s' % (path.split('/')[-1], [t.get_text() for t in figure.texts]))\n"
                           "    return path\n"
                           "plot.save = save\n"
                           "sys.exit(plot.main([sys.argv[1]]))\n";
  return t::run_command_merged("/usr/bin/python3 -c " + t::shell_quote(code) + " " + t::shell_quote(run_dir.string()));
}

// figure_texts' line for one figure: its title and caption.
std::string texts_of(const std::string& output, const std::string& figure) {
  for (const std::string& line : t::lines_of(output)) {
    if (line.rfind("texts of " + figure + ": ", 0) == 0) return line;
  }
  return "(no figure " + figure + " in: " + output + ")";
}

// Issue 24, item 1: RUN/evaluation holds epoch 2's evaluation (an older checkpoint evaluated over
// it), the final checkpoint's is in evaluation/epoch-003/: the figures come from the latter, and
// each names its checkpoint.
TEST_F(PlotScript, DrawsTheEvaluationOfTheFinalCheckpointAndSaysWhich) {
  const fs::path run = dir_.path() / "run";
  fabricate_run(run);  // metrics.csv ends at epoch 3
  write_evaluation_json(run / "evaluation", 2, 20);
  fabricate_run(dir_.path() / "copy");
  fs::copy(dir_.path() / "copy" / "evaluation", run / "evaluation" / "epoch-003");
  write_evaluation_json(run / "evaluation" / "epoch-003", 3, 30);

  const t::MergedCommandResult result = figure_texts(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string label = "checkpoint epoch-003.safetensors: epoch 3, step 30 (test split)";
  t::expect_contains(result.output, "drawing the evaluation in " + (run / "evaluation" / "epoch-003").string() + ": " + label);
  // features-test-3.json records no checkpoint: the evaluation's is its caption too.
  for (const char* name : {"confusion.png", "features.png", "samples.png", "mistakes.png"}) {
    t::expect_contains(texts_of(result.output, name), "'" + label + "'");
  }
}

// Only another epoch's evaluation: drawn, but the script warns and the figures say which it is.
TEST_F(PlotScript, WarnsWhenNoEvaluationMatchesTheCurves) {
  const fs::path run = dir_.path() / "run";
  fabricate_run(run);
  write_evaluation_json(run / "evaluation", 2, 20);
  const t::MergedCommandResult result = figure_texts(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string label = "checkpoint epoch-002.safetensors: epoch 2, step 20 (test split)";
  t::expect_contains(result.output, "warning: " + (run / "evaluation").string() +
                                        " is not the evaluation of the final checkpoint (epoch 3, where metrics.csv ends) but of " +
                                        label);
  t::expect_contains(texts_of(result.output, "confusion.png"), "'" + label + "'");
}

// Issue 24 item 7: precision and recall margins colored on 0-100% made 94.9% and 99.3% the same
// dark green. Their color range now starts 2 points below the lowest value (a whole percent).
TEST_F(PlotScript, ConfusionMarginsSpanTheValuesNotZeroToOne) {
  const fs::path run = dir_.path() / "run";
  // Class t: 1000 - 5t right and 5t + 5 taken for class t + 1: recalls from 99.5% down to 95.0%
  // (class 9: 955 of 1005), precisions from 99.5% down to 95.2% (class 0: 1000 of 1050).
  std::string confusion = "true\\predicted,0,1,2,3,4,5,6,7,8,9\n";
  for (int t = 0; t < 10; ++t) {
    confusion += std::to_string(t);
    for (int p = 0; p < 10; ++p) confusion += "," + std::to_string(p == t ? 1000 - 5 * t : (p == (t + 1) % 10 ? 5 * t + 5 : 0));
    confusion += "\n";
  }
  write(run / "evaluation" / "confusion.csv", confusion);
  const std::string code = "import sys; sys.path.insert(0, '" + std::string(TRAIN_GPU_SOURCE_DIR) + "/tools'); import plot\n"
                           "def save(figure, path):\n"
                           "    if path.endswith('confusion.png'):\n"
                           "        for axes in figure.axes[1:3]: print('clim', *axes.images[0].get_clim())\n"
                           "    return path\n"
                           "plot.save = save\n"
                           "sys.exit(plot.main([sys.argv[1]]))\n";
  const t::MergedCommandResult result =
      t::run_command_merged("/usr/bin/python3 -c " + t::shell_quote(code) + " " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  int margins = 0;
  for (const std::string& line : t::lines_of(result.output)) {
    if (line.rfind("clim ", 0) != 0) continue;
    ++margins;
    std::istringstream words(line.substr(5));
    double low = 0, high = 0;
    words >> low >> high;
    // Lowest recall 95.0%, lowest precision 95.2%: 2 points below, floored to a whole percent, is
    // 93% for both (printed as 0.93, read back as the same double).
    EXPECT_GE(low, 0.92) << line;
    EXPECT_LE(low, 0.93) << line;
    EXPECT_EQ(high, 1.0) << line;
  }
  EXPECT_EQ(margins, 2) << result.output;
}

TEST_F(PlotScript, SkipsFiguresWhoseInputIsMissing) {
  const fs::path run = dir_.path() / "empty-run";
  fs::create_directories(run);
  const t::MergedCommandResult result = plot(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* name : {"label_distribution.png", "loss.png", "accuracy.png", "learning_rate.png", "confusion.png",
                           "features.png", "samples.png", "mistakes.png"}) {
    EXPECT_NE(result.output.find(std::string("skipping ") + name), std::string::npos) << name << "\n" << result.output;
    EXPECT_FALSE(fs::exists(run / "plots" / name)) << name;
  }
  EXPECT_NE(result.output.find("0 figure(s)"), std::string::npos);
}

TEST_F(PlotScript, BadInputsAreClearErrors) {
  EXPECT_EQ(plot(dir_.path() / "no-such-run").exit_code, 1);
  const fs::path run = dir_.path() / "bad";
  write(run / "metrics.csv", "epoch,loss\n1,0.5\n");
  const t::MergedCommandResult result = plot(run);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("metrics.csv: missing column(s) train_loss"), std::string::npos) << result.output;
}

// Runs without the fixture's skip: only /usr/bin/python3 itself is needed. A stub package that
// fails to import stands in for an absent matplotlib.
TEST(PlotScriptWithoutMatplotlib, ExitsWithInstallAdvice) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  t::TempDir dir;
  write(dir.path() / "stub" / "matplotlib" / "__init__.py", "raise ImportError(\"No module named 'matplotlib'\")\n");
  fs::create_directories(dir.path() / "run");
  const t::MergedCommandResult result = plot(dir.path() / "run", "PYTHONPATH='" + (dir.path() / "stub").string() + "'");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("install python3-matplotlib or pip install -r tools/requirements-plots.txt"), std::string::npos)
      << result.output;
}

// plot.py's curve figures, each as the label and the y values of every line on its first axes
// (and its y scale) instead of a PNG file.
t::MergedCommandResult curve_lines(const fs::path& run_dir) {
  const std::string code = "import sys; sys.path.insert(0, '" + std::string(TRAIN_GPU_SOURCE_DIR) + "/tools'); import plot\n"
                           "def save(figure, path):\n"
                           "    axes = figure.axes[0]\n"
                           "    for line in axes.get_lines():\n"
                           "        print('line of %s:' % path.split('/')[-1], line.get_label(), axes.get_yscale(),\n"
                           "              *['%g' % v for v in line.get_ydata()])\n"
                           "    return path\n"
                           "plot.save = save\n"
                           "sys.exit(plot.main([sys.argv[1]]))\n";
  return t::run_command_merged("/usr/bin/python3 -c " + t::shell_quote(code) + " " + t::shell_quote(run_dir.string()));
}

// The lines curve_lines printed for `figure`, without their prefix.
std::vector<std::string> lines_of_figure(const std::string& output, const std::string& figure) {
  std::vector<std::string> found;
  const std::string prefix = "line of " + figure + ": ";
  for (const std::string& line : t::lines_of(output)) {
    if (line.rfind(prefix, 0) == 0) found.push_back(line.substr(prefix.size()));
  }
  return found;
}

// The training controls' columns: val beside train and test (in that order, accuracies in %),
// and the learning rate in a figure of its own, log-scaled as it spans 100x.
TEST_F(PlotScript, DrawsValidationCurvesAndTheLearningRate) {
  const fs::path run = dir_.path() / "run";
  fabricate_run(run);
  const t::MergedCommandResult result = curve_lines(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(lines_of_figure(result.output, "loss.png"),
            (std::vector<std::string>{"train linear 0.135 0.0431 0.022", "val linear 0.0702 0.0561 0.0547",
                                      "test linear 0.061 0.0523 0.0498"}))
      << result.output;
  EXPECT_EQ(lines_of_figure(result.output, "accuracy.png"),
            (std::vector<std::string>{"train linear 95.98 98.66 99.3", "val linear 97.9 98.15 98.22",
                                      "test linear 98 98.29 98.41"}))
      << result.output;
  EXPECT_EQ(lines_of_figure(result.output, "learning_rate.png"),
            (std::vector<std::string>{"learning_rate log 0.01 0.001 0.0001"}))
      << result.output;
}

// A run without --validation-split leaves val_loss and val_accuracy empty: no val line; a rate
// that stays within 10x keeps a linear scale.
TEST_F(PlotScript, EmptyValidationColumnsDrawNoValLine) {
  const fs::path run = dir_.path() / "run";
  fabricate_run(run);
  write(run / "metrics.csv",
        "epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second,resumed_at_batch,"
        "learning_rate,val_loss,val_accuracy\n"
        "1,0.1350,0.9598,0.0610,0.9800,3.1,21000,0,0.001,,\n"
        "2,0.0431,0.9866,0.0523,0.9829,1.2,21800,0,0.0005,,\n");
  const t::MergedCommandResult result = curve_lines(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(lines_of_figure(result.output, "loss.png"),
            (std::vector<std::string>{"train linear 0.135 0.0431", "test linear 0.061 0.0523"}))
      << result.output;
  EXPECT_EQ(lines_of_figure(result.output, "learning_rate.png"),
            (std::vector<std::string>{"learning_rate linear 0.001 0.0005"}))
      << result.output;
}

// A metrics.csv from before the training controls still draws its curves; only the learning
// rate's figure is skipped, with the reason.
TEST_F(PlotScript, AnOlderMetricsCsvDrawsTrainAndTestOnly) {
  const fs::path run = dir_.path() / "run";
  fabricate_run(run);
  write(run / "metrics.csv", kOlderMetricsCsv);
  const t::MergedCommandResult result = curve_lines(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(lines_of_figure(result.output, "loss.png"),
            (std::vector<std::string>{"train linear 0.135 0.0431 0.022", "test linear 0.061 0.0523 0.0498"}))
      << result.output;
  EXPECT_TRUE(lines_of_figure(result.output, "learning_rate.png").empty()) << result.output;
  t::expect_contains(result.output, "skipping learning_rate.png: " + (run / "metrics.csv").string() +
                                        " has no learning_rate column");
}

}  // namespace
}  // namespace train_gpu

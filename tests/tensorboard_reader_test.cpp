// A real short training run's event files read by TensorBoard's own readers (the PyPI
// `tensorboard` package in the test venv, through tests/support/read_tensorboard.py) from the
// directory that holds the run, as `tensorboard --logdir runs` reads it: Keras's layout (runs
// "<run>/train" and "<run>/validation" with epoch_loss and epoch_accuracy in both), every scalar,
// histogram, image and text at the right step with the right value (scalars against metrics.csv,
// weights against the checkpoint), the HParams dashboard's session with the run's settings and
// final metrics, every record passing TensorBoard's CRC checks, and a resume after a run that got
// further than its last checkpoint leaving no (tag, step) twice. Skips, saying why, without MNIST or without tensorboard in TRAIN_GPU_TEST_PYTHON. The two
// step axes (epochs, optimizer steps) are also checked with train_gpu's own event reader, so
// they are checked where the venv is missing too.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "host/eval/png_image.h"
#include "host/model/model_spec.h"
#include "host/tensorboard/event_file.h"
#include "host/train/checkpoint.h"
#include "host/train/run_directory.h"
#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using nlohmann::json;

// 640 training images in batches of 64: 10 steps per epoch.
constexpr int kStepsPerEpoch = 10;
constexpr int kRunningEvery = 4;

// metrics.csv: one map of column -> value per epoch (index 0 is epoch 1).
std::vector<std::map<std::string, double>> read_metrics(const fs::path& run) {
  const std::vector<std::string> lines = t::lines_of(t::read_text(run / "metrics.csv"));
  std::vector<std::string> columns;
  std::stringstream header(lines.at(0));
  for (std::string name; std::getline(header, name, ',');) columns.push_back(name);
  std::vector<std::map<std::string, double>> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::stringstream fields(lines[i]);
    std::map<std::string, double> row;
    size_t column = 0;
    for (std::string field; std::getline(fields, field, ',');) {
      if (!field.empty()) row[columns.at(column)] = std::stod(field);  // val_* are empty without a split
      ++column;
    }
    rows.push_back(row);
  }
  return rows;
}

// The last optimizer step of a run of `epochs` with a running value.
double last_running_step(int64_t epochs) { return static_cast<double>(epochs * kStepsPerEpoch / kRunningEvery * kRunningEvery); }

// The steps a tag's points are at, in order.
std::vector<int64_t> steps_of(const json& points) {
  std::vector<int64_t> steps;
  for (const json& point : points) steps.push_back(point.at(0).get<int64_t>());
  return steps;
}

// A run's directory and the training command that fills it.
class TensorBoardRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  }

  t::CommandResult train(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " --device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                              " --limit-train 640 --limit-test 200 --tensorboard-every " + std::to_string(kRunningEvery) +
                              " --run-dir " + t::shell_quote(run_.string()) + " " + arguments,
                          scratch_.path());
  }

  t::TempDir scratch_;
  fs::path runs_ = scratch_.path() / "runs";  // what `tensorboard --logdir` is pointed at
  fs::path run_ = runs_ / "first";
};

// Every (tag, step) of a run's event files, read by train_gpu's own reader (event_file.h): each
// summary value of each event.
std::map<std::string, std::vector<int64_t>> steps_by_tag(const fs::path& board) {
  std::map<std::string, std::vector<int64_t>> steps;
  for (const fs::path& file : tensorboard::event_files(board)) {
    const tensorboard::EventFileContents contents = tensorboard::read_event_file(file);
    EXPECT_EQ(contents.damage, "") << file;
    for (const tensorboard::Event& event : contents.events) {
      for (const auto& value : event.summary().value()) steps[value.tag()].push_back(event.step());
    }
  }
  return steps;
}

// The layout and the two step axes, without the venv: in train/ and validation/, epoch-level
// scalars and histograms at the epoch number (0 for the initial weights), running means at the
// optimizer step (10 steps an epoch), the final evaluation's pictures at the last epoch; in the
// run directory itself the config and the HParams session at step 0.
TEST_F(TensorBoardRun, KerasLayoutAndStepAxesInOurOwnReader) {
  const t::CommandResult result = train("--epochs 2 --no-progress");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_FALSE(fs::exists(run_ / "tensorboard")) << "the layout before Keras's";
  const std::map<std::string, std::vector<int64_t>> train = steps_by_tag(run_ / "train");
  const std::map<std::string, std::vector<int64_t>> validation = steps_by_tag(run_ / "validation");
  const std::map<std::string, std::vector<int64_t>> whole_run = steps_by_tag(run_);
  const std::vector<int64_t> epochs{1, 2}, epochs_from_zero{0, 1, 2}, running{4, 8, 12, 16, 20};
  const auto expect_steps = [](const std::map<std::string, std::vector<int64_t>>& steps, const std::string& tag,
                               const std::vector<int64_t>& expected, const char* where) {
    ASSERT_EQ(steps.count(tag), 1u) << tag << " in " << where;
    EXPECT_EQ(steps.at(tag), expected) << tag << " in " << where;
  };
  for (const char* tag : {"epoch_loss", "epoch_accuracy", "epoch_seconds", "epoch_samples_per_second"}) {
    expect_steps(train, tag, epochs, "train/");
  }
  for (const char* tag : {"epoch_loss", "epoch_accuracy"}) expect_steps(validation, tag, epochs, "validation/");
  for (const model::TensorSpec& tensor : model::kParameterTensors) {
    expect_steps(train, std::string("weights/") + tensor.name, epochs_from_zero, "train/");
  }
  for (const char* tag : {"batch_loss", "batch_accuracy"}) expect_steps(train, tag, running, "train/");
  for (const char* tag : {"evaluation/confusion_matrix", "evaluation/feature_maps", "evaluation/mistakes"}) {
    expect_steps(validation, tag, {2}, "validation/ (the final evaluation, on the test set, at the last epoch)");
  }
  for (const char* tag : {"config", "_hparams_/session_start_info", "_hparams_/session_end_info"}) {
    expect_steps(whole_run, tag, {0}, "the run directory");
  }
  EXPECT_EQ(train.size(), 5u + 2u + std::size(model::kParameterTensors)) << "nothing else in train/";
  EXPECT_EQ(validation.size(), 2u + 3u) << "nothing else in validation/";
  EXPECT_EQ(whole_run.size(), 3u) << "nothing else in the run directory's own event file";
}

// A --dry-run trains one epoch of one batch, whatever --epochs says: its HParams session ends
// after that epoch, as the trainer counts it (the count --epochs gave never came, and the
// session stayed open in the HParams dashboard).
TEST_F(TensorBoardRun, ADryRunEndsItsHParamsSession) {
  const t::CommandResult result = train("--epochs 3 --dry-run --no-progress");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::map<std::string, std::vector<int64_t>> whole_run = steps_by_tag(run_);
  EXPECT_EQ(whole_run.count("_hparams_/session_start_info"), 1u);
  EXPECT_EQ(whole_run.count("_hparams_/session_end_info"), 1u) << "the dry run's session never ended";
}

// A model given with --model, TensorBoard on (the default): one histogram per parameter tensor of
// that model, by its nn.Sequential names, from the initial weights on. The log once kept the
// tutorial's spec whatever --model said, and the run ended at its first histogram.
TEST_F(TensorBoardRun, AModelFromTheCommandLineGetsItsOwnHistograms) {
  const t::CommandResult result = train("--epochs 1 --no-progress --model 'conv8k3 relu, maxpool2, flatten, dense10'");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::set<std::string> weights;
  for (const auto& [tag, steps] : steps_by_tag(run_ / "train")) {
    if (tag.rfind("weights/", 0) != 0) continue;
    weights.insert(tag);
    EXPECT_EQ(steps, (std::vector<int64_t>{0, 1})) << tag;
  }
  // Conv2D with its ReLU is modules 0 and 1, MaxPooling2D 2, Flatten 3, Dense 4.
  EXPECT_EQ(weights, (std::set<std::string>{"weights/0.weight", "weights/0.bias", "weights/4.weight", "weights/4.bias"}));
}

// The same run read by TensorBoard itself, from the test venv.
class TensorBoardReader : public TensorBoardRun {
 protected:
  void SetUp() override {
    TensorBoardRun::SetUp();
    if (IsSkipped()) return;
    static const std::string missing = [] {
      if (!fs::exists(TRAIN_GPU_TEST_PYTHON)) return std::string(TRAIN_GPU_TEST_PYTHON) + " does not exist (run tools/make-test-venv.sh)";
      const t::MergedCommandResult probe =
          t::run_command_merged(t::shell_quote(TRAIN_GPU_TEST_PYTHON) + " -c 'import tensorboard'");
      return probe.exit_code == 0 ? std::string() : std::string(TRAIN_GPU_TEST_PYTHON) + " cannot import tensorboard (run tools/make-test-venv.sh)";
    }();
    if (!missing.empty()) GTEST_SKIP() << missing;
  }

  json read_board() {
    const t::CommandResult read = t::run_command(t::shell_quote(TRAIN_GPU_TEST_PYTHON) + " " +
                                                     t::shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/read_tensorboard.py") +
                                                     " " + t::shell_quote(runs_.string()),
                                                 scratch_.path());
    EXPECT_EQ(read.exit_code, 0) << read.err;
    return json::parse(read.out);
  }

  // The HParams dashboard's view of the run: one session, "first", with the run's settings as
  // hyperparameters, ended successfully, whose metrics are the last epoch's values of train/ and
  // validation/ (`last`: metrics.csv's last row).
  void expect_hparams(const json& board, const std::map<std::string, double>& last) {
    std::set<std::string> names;
    for (const json& info : board.at("experiment").at("hparamInfos")) names.insert(info.at("name").get<std::string>());
    EXPECT_EQ(names, (std::set<std::string>{"batch_size", "dataset", "epochs", "learning_rate", "model", "optimizer", "seed"}));
    const json& groups = board.at("session_groups").at("sessionGroups");
    ASSERT_EQ(groups.size(), 1u) << groups;
    const json& group = groups.at(0);
    EXPECT_EQ(group.at("name"), "first");
    const json& hparams = group.at("hparams");
    // 0.001 exactly, as typed, not float's 0.0010000000474974513.
    EXPECT_EQ(hparams.at("learning_rate").get<double>(), 0.001) << hparams;
    EXPECT_EQ(hparams.at("batch_size").get<double>(), 64) << hparams;
    EXPECT_EQ(hparams.at("epochs").get<double>(), static_cast<double>(last.at("epoch"))) << hparams;
    EXPECT_EQ(hparams.at("optimizer"), "adam");
    EXPECT_EQ(hparams.at("model"), model::kModelDescription);
    EXPECT_EQ(hparams.at("dataset"), "mnist");
    EXPECT_EQ(hparams.at("seed"), "42");
    ASSERT_EQ(group.at("sessions").size(), 1u);
    const json& session = group.at("sessions").at(0);
    EXPECT_EQ(session.at("status"), "STATUS_SUCCESS");
    std::map<std::string, double> metrics;
    for (const json& metric : session.at("metricValues")) {
      metrics[metric.at("name").at("group").get<std::string>() + "/" + metric.at("name").at("tag").get<std::string>()] =
          metric.at("value").get<double>();
      EXPECT_EQ(metric.at("trainingStep").get<double>(), metric.at("name").at("tag").get<std::string>().rfind("batch_", 0) == 0
                                                             ? last_running_step(static_cast<int64_t>(last.at("epoch")))
                                                             : last.at("epoch"))
          << metric;
    }
    // Half a unit of metrics.csv's %.6f, plus float32 (relative 6e-8).
    for (const auto& [metric, column] : std::map<std::string, std::string>{{"validation/epoch_accuracy", "test_accuracy"},
                                                                          {"validation/epoch_loss", "test_loss"},
                                                                          {"train/epoch_accuracy", "train_accuracy"},
                                                                          {"train/epoch_loss", "train_loss"}}) {
      ASSERT_TRUE(metrics.count(metric)) << metric << " is not a metric of the session: " << session;
      EXPECT_NEAR(metrics.at(metric), last.at(column), 0.5e-6 + 1e-7 * last.at(column)) << metric;
    }
  }

  // What every run's files must satisfy: intact records, each (tag, step) once, and the scalars
  // equal to metrics.csv for epochs 1..epochs.
  void expect_consistent_board(const json& board, int epochs) {
    for (const json& file : board.at("files")) EXPECT_TRUE(file.at(1).get<bool>()) << file.at(0) << " has a damaged record";
    std::set<std::tuple<std::string, std::string, int64_t>> seen;  // TensorBoard run, tag, step
    for (const json& value : board.at("raw")) {
      const auto key = std::make_tuple(fs::path(value.at(0).get<std::string>()).parent_path().string(),
                                       value.at(2).get<std::string>(), value.at(1).get<int64_t>());
      EXPECT_TRUE(seen.insert(key).second)
          << std::get<1>(key) << " at step " << std::get<2>(key) << " appears twice in one run (" << value.at(0) << ")";
    }

    const auto rows = read_metrics(run_);
    ASSERT_EQ(rows.size(), static_cast<size_t>(epochs));
    const json& runs = board.at("runs");
    for (const char* run : {"first", "first/train", "first/validation"}) ASSERT_TRUE(runs.contains(run)) << run << " in " << runs;
    EXPECT_EQ(runs.size(), 3u) << runs;
    const json& train_run = runs.at("first/train");
    const json& validation_run = runs.at("first/validation");
    // TensorBoard run, tag, metrics.csv column, and the column's printed unit: metrics.csv rounds
    // (%.6f for losses and accuracies, %.3f seconds, %.1f samples/s) and TensorBoard holds float32
    // (relative 6e-8), so the tolerance is half a unit of the last printed digit, plus float32.
    const std::vector<std::tuple<const json*, std::string, std::string, double>> columns{
        {&train_run, "epoch_loss", "train_loss", 1e-6},
        {&train_run, "epoch_accuracy", "train_accuracy", 1e-6},
        {&validation_run, "epoch_loss", "test_loss", 1e-6},
        {&validation_run, "epoch_accuracy", "test_accuracy", 1e-6},
        {&train_run, "epoch_seconds", "epoch_seconds", 1e-3},
        {&train_run, "epoch_samples_per_second", "samples_per_second", 0.1},
        {&train_run, "epoch_learning_rate", "learning_rate", 1e-9}};
    for (const auto& [run, tag, column, unit] : columns) {
      const json& scalars = run->at("scalars");
      ASSERT_TRUE(scalars.contains(tag)) << tag << " for " << column;
      const json& points = scalars.at(tag);
      ASSERT_EQ(points.size(), static_cast<size_t>(epochs)) << tag << " for " << column;
      for (int epoch = 1; epoch <= epochs; ++epoch) {
        const json& point = points.at(static_cast<size_t>(epoch - 1));
        EXPECT_EQ(point.at(0).get<int64_t>(), epoch) << tag << " for " << column;
        const double csv = rows[static_cast<size_t>(epoch - 1)].at(column);
        EXPECT_NEAR(point.at(1).get<double>(), csv, unit / 2 + 1e-7 * std::abs(csv)) << column << " at epoch " << epoch;
      }
      // The tutorial's names, for a reader who knows them, in the chart's tooltip.
      if (tag == "epoch_loss" || tag == "epoch_accuracy") {
        EXPECT_NE(run->at("descriptions").at(tag).get<std::string>().find("`" + column + "`"), std::string::npos) << tag;
      }
    }

    // Running means every kRunningEvery steps; the one at an epoch's last step is that epoch's
    // train loss/accuracy (both are the mean over all its batches).
    std::vector<int64_t> expected_steps;
    for (int64_t step = kRunningEvery; step <= epochs * kStepsPerEpoch; step += kRunningEvery) expected_steps.push_back(step);
    for (const auto& [tag, column] : std::map<std::string, std::string>{{"batch_loss", "train_loss"}, {"batch_accuracy", "train_accuracy"}}) {
      const json& scalars = train_run.at("scalars");
      ASSERT_TRUE(scalars.contains(tag)) << tag;
      EXPECT_EQ(steps_of(scalars.at(tag)), expected_steps) << tag;
      for (const json& point : scalars.at(tag)) {
        if (point.at(0).get<int64_t>() % kStepsPerEpoch != 0) continue;
        const double csv = rows.at(static_cast<size_t>(point.at(0).get<int64_t>() / kStepsPerEpoch - 1)).at(column);
        EXPECT_NEAR(point.at(1).get<double>(), csv, 0.5e-6 + 1e-7 * csv) << tag << " at step " << point.at(0);
      }
    }

    expect_hparams(board, rows.back());

    // A histogram per tensor per epoch, 0 being the initial weights; every value in a bucket.
    std::vector<int64_t> epochs_from_zero;
    for (int64_t epoch = 0; epoch <= epochs; ++epoch) epochs_from_zero.push_back(epoch);
    for (const model::TensorSpec& tensor : model::kParameterTensors) {
      const std::string tag = std::string("weights/") + tensor.name;
      ASSERT_TRUE(train_run.at("histograms").contains(tag)) << tag;
      const json& points = train_run.at("histograms").at(tag);
      EXPECT_EQ(steps_of(points), epochs_from_zero) << tag;
      for (const json& point : points) {
        EXPECT_EQ(point.at(1).get<double>(), static_cast<double>(tensor.count)) << tag;
        EXPECT_EQ(point.at(5).get<double>(), static_cast<double>(tensor.count)) << tag << ": bucket counts do not add up";
      }
    }

    // The final evaluation's three pictures, once, at the last epoch.
    const json& images = validation_run.at("images");
    for (const char* tag : {"evaluation/confusion_matrix", "evaluation/feature_maps", "evaluation/mistakes"}) {
      ASSERT_TRUE(images.contains(tag)) << tag;
      ASSERT_EQ(images.at(tag).size(), 1u) << tag;
      EXPECT_EQ(images.at(tag).at(0).at(0).get<int64_t>(), epochs) << tag;
      EXPECT_TRUE(images.at(tag).at(0).at(3).get<bool>()) << tag << " is not a PNG";
    }
    const eval::Image features = eval::read_png(run_ / "evaluation" / "features-test-0.png");
    EXPECT_EQ(images.at("evaluation/feature_maps").at(0).at(1).get<int>(), features.width);
    EXPECT_EQ(images.at("evaluation/feature_maps").at(0).at(2).get<int>(), features.height);
    EXPECT_EQ(images.at("evaluation/confusion_matrix").at(0).at(1).get<int>(), 11 * 36);

    // config.json, whole, as the text of step 0.
    ASSERT_TRUE(runs.at("first").at("text").contains("config"));
    const json& config = runs.at("first").at("text").at("config");
    ASSERT_EQ(config.size(), 1u);
    EXPECT_EQ(config.at(0).at(0).get<int64_t>(), 0);
    std::string markdown = config.at(0).at(1).get<std::string>();
    ASSERT_EQ(markdown.rfind("```json\n", 0), 0u) << markdown;
    markdown = markdown.substr(8, markdown.size() - 8 - 4);
    EXPECT_EQ(json::parse(markdown), json::parse(t::read_text(run_ / "config.json")));
  }
};

TEST_F(TensorBoardReader, ReadsEveryKindOfSummaryOfARealRun) {
  const t::CommandResult result = train("--epochs 2");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("tensorboard: " + (run_ / "train").string() + ", " + (run_ / "validation").string()),
            std::string::npos)
      << result.out;
  const json board = read_board();
  EXPECT_EQ(board.at("files").size(), 3u);
  expect_consistent_board(board, 2);

  // The last histograms are the weights of the last checkpoint.
  const Checkpoint last = load_checkpoint(checkpoint_path(run_, 2));
  for (const model::TensorSpec& tensor : model::kParameterTensors) {
    const auto begin = last.state.parameters.begin() + static_cast<std::ptrdiff_t>(tensor.offset);
    const auto [low, high] = std::minmax_element(begin, begin + static_cast<std::ptrdiff_t>(tensor.count));
    double sum = 0;
    for (auto it = begin; it != begin + static_cast<std::ptrdiff_t>(tensor.count); ++it) sum += *it;
    const json& at_epoch_2 = board.at("runs").at("first/train").at("histograms").at(std::string("weights/") + tensor.name).at(2);
    EXPECT_EQ(at_epoch_2.at(2).get<double>(), static_cast<double>(*low)) << tensor.name;
    EXPECT_EQ(at_epoch_2.at(3).get<double>(), static_cast<double>(*high)) << tensor.name;
    // Summed in double here and there, in different orders: relative 1e-9 of the absolute sum.
    EXPECT_NEAR(at_epoch_2.at(4).get<double>(), sum, 1e-6 + 1e-9 * static_cast<double>(tensor.count)) << tensor.name;
  }
}

// A run killed after epoch 3's events were flushed but before epoch 3's checkpoint (here: a
// --save-every 2 run whose last checkpoint is then deleted, and a record torn in half at the end
// of its file): the resume from epoch 2 trains epoch 3 again. TensorBoard must show epoch 3 and
// steps 21..30 once, from the resumed run.
TEST_F(TensorBoardReader, ResumeAfterEventsPastTheCheckpointLeavesNoStepTwice) {
  const t::CommandResult first = train("--epochs 3 --save-every 2");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  ASSERT_TRUE(fs::remove(checkpoint_path(run_, 3)));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(run_ / "train")) files.push_back(entry.path());
  ASSERT_EQ(files.size(), 1u);
  const std::string whole = t::read_text(files[0]);
  std::ofstream(files[0], std::ios::app | std::ios::binary) << whole.substr(whole.size() - 40);  // a torn record

  const t::CommandResult resumed = train("--epochs 3 --resume " + t::shell_quote(run_.string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("epoch-002.safetensors"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("tensorboard: " + files[0].string() + ": unreadable records ("), std::string::npos) << resumed.out;
  EXPECT_EQ(t::read_text(files[0].parent_path() / (files[0].filename().string().replace(0, 20, "events.out.tf-events.") + ".damaged")),
            whole + whole.substr(whole.size() - 40))
      << "the original, torn record and all, is kept aside";
  EXPECT_NE(resumed.out.find("written after the checkpoint (epoch 2, step 20)"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("dropped the HParams session (2 value(s)): this start writes it again"), std::string::npos)
      << resumed.out;

  const json board = read_board();
  ASSERT_EQ(board.at("files").size(), 6u) << "two files in each of first, first/train and first/validation";
  expect_consistent_board(board, 3);
  // In train/ and validation/, the first file ends where the checkpoint is and the second starts
  // right after it. In the run directory, the first keeps the config and the second holds the
  // HParams session, written again by the resumed start.
  std::map<std::string, std::string> first_file_of;  // directory -> its first file
  for (const json& file : board.at("files")) {
    first_file_of.emplace(fs::path(file.at(0).get<std::string>()).parent_path().string(), file.at(0).get<std::string>());
  }
  for (const json& value : board.at("raw")) {
    const std::string file = value.at(0);
    const std::string tag = value.at(2);
    const int64_t step = value.at(1);
    const std::string directory = fs::path(file).parent_path().string();
    const bool in_first_file = file == first_file_of.at(directory);
    if (directory == "first") {
      EXPECT_EQ(in_first_file, tag == "config") << tag << " in " << file;
      continue;
    }
    const bool counts_steps = tag.rfind("batch_", 0) == 0;
    if (in_first_file) {
      EXPECT_LE(step, counts_steps ? 20 : 2) << tag << " survived the resume in " << file;
    } else {
      EXPECT_GT(step, counts_steps ? 20 : 2) << tag << " was written again by the resumed run in " << file;
    }
  }
}

}  // namespace
}  // namespace train_gpu

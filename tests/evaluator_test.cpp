// The evaluator and the evaluation files, on the CPU backend: a model state whose answer is
// known in closed form on real MNIST, and seeded random weights on synthetic images for the
// plumbing (predictions vs the backend's totals, batch-size independence, the files written).
#include "host/eval/evaluator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/data/dataset.h"
#include "host/eval/png_image.h"
#include "host/eval/report_files.h"
#include "host/model/cpu_backend.h"
#include "support/test_support.h"

namespace train_gpu::eval {
namespace {

namespace t = train_gpu::testing;  // test helpers (support/test_support.h)

using model::kClasses;

ModelState zero_state() {
  ModelState state;
  state.parameters.assign(model::kParameterCount, 0.0f);
  state.adam_m.assign(model::kParameterCount, 0.0f);
  state.adam_v.assign(model::kParameterCount, 0.0f);
  return state;
}

// All weights zero and fc2.bias = e_1: every logit vector is (0, 1, 0, ..., 0), so every image is
// predicted as class 1 with probability e / (e + 9), and each sample's loss is
// -log softmax(label) = log(e + 9) - [label == 1].
ModelState always_class_one_state() {
  ModelState state = zero_state();
  state.parameters[model::kFc2BiasOffset + 1] = 1.0f;
  return state;
}

ModelState random_state(uint32_t seed) {
  ModelState state = zero_state();
  std::mt19937 rng(seed);
  // Large enough that images differ in their predictions, small enough that nothing saturates.
  std::uniform_real_distribution<float> weight(-0.05f, 0.05f);
  for (float& p : state.parameters) p = weight(rng);
  return state;
}

ImageSet random_images(int64_t count, uint32_t seed) {
  ImageSet set;
  set.count = count;
  set.rows = model::kImageSide;
  set.cols = model::kImageSide;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::uniform_int_distribution<int> label(0, kClasses - 1);
  set.pixels.resize(static_cast<size_t>(count * set.image_size()));
  for (uint8_t& p : set.pixels) p = static_cast<uint8_t>(pixel(rng));
  for (int64_t i = 0; i < count; ++i) set.labels.push_back(static_cast<uint8_t>(label(rng)));
  return set;
}

Dataset synthetic_dataset(int64_t test_count) {
  Dataset dataset;
  dataset.kind = DatasetKind::kMnist;
  dataset.class_names = standard_class_names(DatasetKind::kMnist);
  dataset.train = random_images(20, 1);
  dataset.test = random_images(test_count, 2);
  return dataset;
}

std::unique_ptr<Backend> cpu_backend_with(const Dataset& dataset, const ModelState& state) {
  BackendOptions options;
  options.max_batch = 100;
  std::unique_ptr<Backend> backend = make_cpu_backend(options);
  backend->attach_data(dataset.train, dataset.test);
  backend->set_state(state);
  return backend;
}

bool have_mnist() {
  return std::filesystem::exists(std::filesystem::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz");
}

TEST(Evaluator, AlwaysClassOneOnMnistTest) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  const Dataset mnist = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  std::unique_ptr<Backend> backend = cpu_backend_with(mnist, always_class_one_state());
  const Evaluation evaluation = evaluate_split(*backend, mnist.test, Split::kTest);

  // MNIST's test split has 1,135 ones among 10,000 images.
  EXPECT_EQ(evaluation.totals.samples, 10000);
  EXPECT_EQ(evaluation.totals.correct, 1135);
  EXPECT_DOUBLE_EQ(evaluation.accuracy, 0.1135);
  // Per-sample losses are float32 (rel. error ~1e-7 each), summed in double: 1e-6 relative.
  const double e = std::exp(1.0);
  const double expected_loss = std::log(e + 9.0) - 0.1135;
  EXPECT_LE(std::abs(evaluation.loss - expected_loss), 1e-6 * expected_loss) << evaluation.loss;

  std::array<int64_t, kClasses> label_counts{};
  for (uint8_t label : mnist.test.labels) ++label_counts[label];
  EXPECT_EQ(label_counts[1], 1135);
  for (int t = 0; t < kClasses; ++t) {
    for (int p = 0; p < kClasses; ++p) {
      EXPECT_EQ(evaluation.totals.confusion[static_cast<size_t>(t * kClasses + p)], p == 1 ? label_counts[static_cast<size_t>(t)] : 0)
          << "true " << t << " predicted " << p;
    }
  }
  ASSERT_EQ(evaluation.predictions.size(), 10000u);
  const double confidence = e / (e + 9.0);
  for (const SamplePrediction& p : evaluation.predictions) {
    ASSERT_EQ(p.predicted_label, 1);
    ASSERT_LE(std::abs(p.confidence - confidence), 1e-6 * confidence);  // float32 softmax
  }
  EXPECT_EQ(evaluation.predictions[0].true_label, mnist.test.labels[0]);
  EXPECT_EQ(mistakes_by_confidence(evaluation).size(), 10000u - 1135u);

  const ConfusionMatrix confusion(kClasses, std::vector<int64_t>(evaluation.totals.confusion.begin(), evaluation.totals.confusion.end()));
  EXPECT_DOUBLE_EQ(confusion.class_metrics(1).precision, 0.1135);
  EXPECT_DOUBLE_EQ(confusion.class_metrics(1).recall, 1.0);
  EXPECT_FALSE(confusion.class_metrics(0).precision_defined);
  EXPECT_DOUBLE_EQ(confusion.macro_recall(), 0.1);
}

TEST(Evaluator, PredictionsAgreeWithBackendTotalsAndBatchSize) {
  const Dataset dataset = synthetic_dataset(250);
  std::unique_ptr<Backend> backend = cpu_backend_with(dataset, random_state(7));
  // A stale partial pass must not leak into the evaluation.
  backend->set_order(Split::kTest, {0, 1, 2});
  backend->evaluate_batch(Split::kTest, 0, 3);
  const Evaluation by_100 = evaluate_split(*backend, dataset.test, Split::kTest, 100);
  const Evaluation by_7 = evaluate_split(*backend, dataset.test, Split::kTest, 7);

  ASSERT_EQ(by_100.totals.samples, 250);
  ASSERT_EQ(by_100.predictions.size(), 250u);
  std::vector<int64_t> confusion(kClasses * kClasses, 0);
  int64_t correct = 0;
  std::vector<int> predicted_classes(kClasses, 0);
  for (size_t i = 0; i < by_100.predictions.size(); ++i) {
    const SamplePrediction& p = by_100.predictions[i];
    EXPECT_EQ(p.index, static_cast<int64_t>(i));
    EXPECT_EQ(p.true_label, dataset.test.labels[i]);
    EXPECT_GT(p.confidence, 0.1f);  // the largest of 10 probabilities is at least 1/10
    ++confusion[static_cast<size_t>(p.true_label * kClasses + p.predicted_label)];
    correct += p.true_label == p.predicted_label;
    predicted_classes[static_cast<size_t>(p.predicted_label)] = 1;
    // Different batch sizes change sgemm's blocking, hence the last bits of the logits; the
    // argmax of random-weight logits is nowhere near a tie, and 1e-5 covers float32 rounding.
    EXPECT_EQ(by_7.predictions[i].predicted_label, p.predicted_label);
    EXPECT_LE(std::abs(by_7.predictions[i].confidence - p.confidence), 1e-5f * p.confidence);
    // The stored row is the one the prediction came from: it sums to 1 and peaks at the prediction.
    const float* row = by_100.probabilities.data() + i * kClasses;
    EXPECT_EQ(std::max_element(row, row + kClasses) - row, p.predicted_label);
    EXPECT_EQ(row[p.predicted_label], p.confidence);
    EXPECT_NEAR(std::accumulate(row, row + kClasses, 0.0), 1.0, 1e-6);  // ten float32 terms
  }
  ASSERT_EQ(by_100.probabilities.size(), 250u * kClasses);
  ASSERT_EQ(by_7.probabilities.size(), 250u * kClasses);
  EXPECT_EQ(confusion, by_100.totals.confusion);
  EXPECT_EQ(correct, by_100.totals.correct);
  EXPECT_EQ(by_100.totals.batches, 3);
  EXPECT_EQ(by_7.totals.batches, 36);  // ceil(250 / 7)
  EXPECT_LE(std::abs(by_7.loss - by_100.loss), 1e-5 * by_100.loss);
  EXPECT_DOUBLE_EQ(by_100.loss, by_100.totals.sample_loss_sum / 250.0);
}

TEST(Evaluator, MistakesMostConfidentFirstTiesByIndex) {
  Evaluation evaluation;
  evaluation.predictions = {{0, 3, 3, 0.9f}, {1, 3, 5, 0.4f}, {2, 1, 7, 0.8f}, {3, 2, 2, 0.99f}, {4, 0, 6, 0.4f}};
  const std::vector<SamplePrediction> mistakes = mistakes_by_confidence(evaluation);
  ASSERT_EQ(mistakes.size(), 3u);
  EXPECT_EQ(mistakes[0].index, 2);
  EXPECT_EQ(mistakes[1].index, 1);
  EXPECT_EQ(mistakes[2].index, 4);
}

TEST(Evaluator, RejectsEmptySplitAndBadBatch) {
  const Dataset dataset = synthetic_dataset(10);
  std::unique_ptr<Backend> backend = cpu_backend_with(dataset, random_state(3));
  EXPECT_THROW(evaluate_split(*backend, dataset.test, Split::kTest, 0), Error);
  ImageSet empty;
  EXPECT_THROW(evaluate_split(*backend, empty, Split::kTest), Error);
}

std::vector<std::string> csv_lines(const std::filesystem::path& file) {
  std::vector<std::string> lines;
  std::istringstream in(t::read_text(file));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(EvaluateAndWrite, WritesEveryFileConsistently) {
  const Dataset dataset = synthetic_dataset(250);
  std::unique_ptr<Backend> backend = cpu_backend_with(dataset, random_state(11));
  t::TempDir dir;
  const std::filesystem::path out = dir.path() / "run" / "evaluation";  // created on demand
  std::ostringstream log;
  const EvaluatedCheckpoint checkpoint{"/somewhere/run/checkpoints/epoch-002.safetensors", 2, 20, 0};
  const EvaluationReport report = evaluate_and_write(*backend, dataset, Split::kTest, checkpoint, out, log);

  const Evaluation& evaluation = report.evaluation;
  const int64_t wrong = 250 - evaluation.totals.correct;
  ASSERT_GE(wrong, 32) << "random weights on random labels should be mostly wrong";
  EXPECT_EQ(report.mistakes.size(), static_cast<size_t>(wrong));

  // The log: the training log's test line, the table, the files.
  const std::string text = log.str();
  EXPECT_NE(text.find(evaluation_summary_line(evaluation)), std::string::npos) << text;
  EXPECT_EQ(evaluation_summary_line(evaluation).rfind("test loss ", 0), 0u);
  EXPECT_NE(text.find("true\\pred"), std::string::npos);
  EXPECT_NE(text.find("macro precision"), std::string::npos);
  EXPECT_NE(text.find("mistakes.png"), std::string::npos);

  for (const char* name : {"confusion.csv", "evaluation.json", "mistakes.csv", "mistakes.png", "mistake_images.npy",
                           "sample_images.npy", "sample_labels.npy", "sample_predictions.npy", "features-test-0.npy",
                           "features-test-0-input.npy", "features-test-0.json", "features-test-0.png",
                           "probabilities.npy"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(out / name)) << name;
  }
  EXPECT_EQ(report.files.size(), 13u);

  const std::vector<std::string> confusion = csv_lines(out / "confusion.csv");
  ASSERT_EQ(confusion.size(), 11u);
  EXPECT_EQ(confusion[0], "true\\predicted,0,1,2,3,4,5,6,7,8,9");
  std::string row3 = "3";
  for (int p = 0; p < kClasses; ++p) row3 += "," + std::to_string(evaluation.totals.confusion[static_cast<size_t>(3 * kClasses + p)]);
  EXPECT_EQ(confusion[4], row3);

  const std::vector<std::string> mistakes = csv_lines(out / "mistakes.csv");
  ASSERT_EQ(mistakes.size(), static_cast<size_t>(wrong + 1));
  EXPECT_EQ(mistakes[0], "index,true_label,predicted_label,confidence");
  const SamplePrediction& top = report.mistakes[0];
  char expected_first[96];
  std::snprintf(expected_first, sizeof expected_first, "%lld,%d,%d,%.6f", static_cast<long long>(top.index), top.true_label,
                top.predicted_label, static_cast<double>(top.confidence));
  EXPECT_EQ(mistakes[1], expected_first);

  const nlohmann::json json = nlohmann::json::parse(t::read_text(out / "evaluation.json"));
  EXPECT_EQ(json["checkpoint"], "/somewhere/run/checkpoints/epoch-002.safetensors");
  EXPECT_EQ(json["epoch"], 2);
  EXPECT_EQ(json["step"], 20);
  EXPECT_EQ(json["batches_into_epoch"], 0);
  EXPECT_EQ(json["dataset"], "mnist");
  EXPECT_EQ(json["split"], "test");
  EXPECT_EQ(json["samples"], 250);
  EXPECT_EQ(json["mistakes"], wrong);
  EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), evaluation.accuracy);
  EXPECT_DOUBLE_EQ(json["loss"].get<double>(), evaluation.loss);
  EXPECT_DOUBLE_EQ(json["macro_recall"].get<double>(), report.confusion.macro_recall());
  ASSERT_EQ(json["classes"].size(), 10u);
  EXPECT_EQ(json["classes"][4]["support"], report.confusion.class_metrics(4).support);
  EXPECT_DOUBLE_EQ(json["classes"][4]["precision"].get<double>(), report.confusion.class_metrics(4).precision);
  EXPECT_EQ(json["confusion"][3][5], evaluation.totals.confusion[3 * kClasses + 5]);

  // mistakes.png: 32 tiles of 112 x (112 + 15 + 8), 8 per row, 6 px apart and around, then the
  // caption strip: 10-pixel text with 6 pixels above and below.
  const Image mistakes_png = read_png(out / "mistakes.png");
  EXPECT_EQ(mistakes_png.width, 6 + 8 * (112 + 6));
  EXPECT_EQ(mistakes_png.height, 6 + 4 * (135 + 6) + 22);
  EXPECT_EQ(mistakes_png.channels, 3);
  // Its first tile is the most confident mistake's image, upscaled 4x.
  const uint8_t* pixel = mistakes_png.at(6 + 4 * 10 + 1, 6 + 4 * 12 + 2);
  EXPECT_EQ(pixel[0], dataset.test.image(top.index)[12 * 28 + 10]);

  // features-test-0.png: 32 maps of 104 x 104 (26 x 4), 8 per row, 4 px of gray between, and
  // the caption strip.
  const Image features_png = read_png(out / "features-test-0.png");
  EXPECT_EQ(features_png.width, 4 + 8 * 108);
  EXPECT_EQ(features_png.height, 4 + 4 * 108 + 22);
  EXPECT_EQ(*features_png.at(0, 0), 128);
  for (const Image* picture : {&mistakes_png, &features_png}) {
    Image caption = *picture;  // the strip alone, compared with one drawn here
    caption.pixels.erase(caption.pixels.begin(), caption.pixels.begin() + static_cast<std::ptrdiff_t>((picture->height - 22) * picture->width * 3));
    caption.height = 22;
    Image expected(picture->width, 22, 3, *picture->at(0, picture->height - 1));
    draw_text(expected, 6, 6, "EPOCH 2 STEP 20", 2, Rgb{40, 40, 40});
    EXPECT_EQ(caption.pixels, expected.pixels) << "caption of a " << picture->width << "-pixel-wide picture";
  }

  const nlohmann::json features = nlohmann::json::parse(t::read_text(out / "features-test-0.json"));
  EXPECT_EQ(features["epoch"], 2);
  EXPECT_EQ(features["index"], 0);
  EXPECT_EQ(features["label"], dataset.test.labels[0]);
  EXPECT_EQ(features["predicted"], evaluation.predictions[0].predicted_label);
  EXPECT_EQ(features["probabilities"].size(), 10u);
  // activations() and evaluate_batch() compute the same forward pass (batch of 1 vs 100).
  EXPECT_NEAR(features["probabilities"][evaluation.predictions[0].predicted_label].get<double>(),
              evaluation.predictions[0].confidence, 1e-5);

  // The .npy sizes follow from their shapes (the preamble is 128 bytes for these headers).
  EXPECT_EQ(std::filesystem::file_size(out / "features-test-0.npy"), 128u + 32 * 26 * 26 * 4);
  EXPECT_EQ(std::filesystem::file_size(out / "sample_images.npy"), 128u + 25 * 28 * 28);
  // probabilities.npy: float32 (250, 10), the evaluation's rows as they are.
  const t::Bytes probabilities = t::read_file(out / "probabilities.npy");
  ASSERT_EQ(probabilities.size(), 128u + 250 * 10 * 4);
  EXPECT_EQ(std::memcmp(probabilities.data() + 128, evaluation.probabilities.data(), 250 * 10 * 4), 0);
  EXPECT_EQ(std::filesystem::file_size(out / "mistake_images.npy"), 128u + static_cast<size_t>(std::min<int64_t>(wrong, 64)) * 28 * 28);
}

TEST(EvaluateAndWrite, NumpyReadsTheArrays) {
  if (!t::system_python_has("numpy")) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  const Dataset dataset = synthetic_dataset(30);
  std::unique_ptr<Backend> backend = cpu_backend_with(dataset, random_state(5));
  t::TempDir dir;
  std::ostringstream log;
  const EvaluationReport report = evaluate_and_write(*backend, dataset, Split::kTest, EvaluatedCheckpoint{}, dir.path(), log);
  const std::string script =
      "import numpy as np, sys, csv\n"
      "d = sys.argv[1]\n"
      "s = np.load(d + '/sample_images.npy'); assert s.shape == (25, 28, 28) and s.dtype == np.uint8\n"
      "l = np.load(d + '/sample_labels.npy'); assert l.shape == (25,)\n"
      "f = np.load(d + '/features-test-0.npy'); assert f.shape == (32, 26, 26) and f.dtype == np.float32\n"
      "assert (f >= 0).all(), 'post-ReLU maps are non-negative'\n"
      "m = np.load(d + '/mistake_images.npy')\n"
      "p = np.load(d + '/probabilities.npy'); assert p.shape == (30, 10) and p.dtype == np.float32\n"
      "assert abs(p.sum(axis=1) - 1).max() < 1e-5\n"
      "rows = list(csv.DictReader(open(d + '/mistakes.csv')))\n"
      "assert len(m) == min(64, len(rows)), (len(m), len(rows))\n"
      "print(int(s[3].sum()), int(l[3]), int(m[0].sum()), rows[0]['index'])\n";
  std::ofstream(dir.path() / "check.py") << script;
  const t::MergedCommandResult result =
      t::run_command_merged("/usr/bin/python3 " + (dir.path() / "check.py").string() + " " + dir.path().string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  int64_t sample_sum = 0;
  for (int i = 0; i < 784; ++i) sample_sum += dataset.test.image(3)[i];
  int64_t mistake_sum = 0;
  for (int i = 0; i < 784; ++i) mistake_sum += dataset.test.image(report.mistakes[0].index)[i];
  EXPECT_EQ(result.output, std::to_string(sample_sum) + " " + std::to_string(dataset.test.labels[3]) + " " +
                               std::to_string(mistake_sum) + " " + std::to_string(report.mistakes[0].index) + "\n");
}

TEST(EvaluateAndWrite, UnwritableOutputIsAnErrorNamingIt) {
  const Dataset dataset = synthetic_dataset(10);
  std::unique_ptr<Backend> backend = cpu_backend_with(dataset, random_state(5));
  t::TempDir dir;
  const std::filesystem::path blocker = dir.path() / "a-file";
  std::ofstream(blocker) << "x";
  std::ostringstream log;
  try {
    evaluate_and_write(*backend, dataset, Split::kTest, EvaluatedCheckpoint{}, blocker / "evaluation", log);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(blocker.string()), std::string::npos) << e.what();
  }
}

TEST(EvaluateAndWrite, DefaultDirectoryFollowsTheRunLayout) {
  t::TempDir dir;
  const std::filesystem::path run = dir.path() / "run";
  std::filesystem::create_directories(run / "checkpoints");
  for (const char* name : {"epoch-001.safetensors", "epoch-002.safetensors", "epoch-002-batch-00005.safetensors", "best.safetensors"}) {
    std::ofstream(run / "checkpoints" / name) << "x";  // only the names matter here
  }
  // The newest (what training evaluated last) owns RUN/evaluation; any other goes beside it.
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "epoch-002.safetensors"), run / "evaluation");
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "epoch-001.safetensors"), run / "evaluation" / "epoch-001");
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "epoch-002-batch-00005.safetensors"),
            run / "evaluation" / "epoch-002-batch-00005");
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "best.safetensors"), run / "evaluation" / "best");
  // The training split never replaces the final (test) evaluation.
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "epoch-002.safetensors", Split::kTrain),
            run / "evaluation" / "epoch-002-train");
  // Interrupted mid-epoch 3: that checkpoint is the newest.
  std::ofstream(run / "checkpoints" / "epoch-003-batch-00007.safetensors") << "x";
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "epoch-003-batch-00007.safetensors"), run / "evaluation");
  EXPECT_EQ(default_evaluation_dir(run / "checkpoints" / "epoch-002.safetensors"), run / "evaluation" / "epoch-002");

  EXPECT_EQ(default_evaluation_dir("model.safetensors"), std::filesystem::path("evaluation"));
  EXPECT_EQ(default_evaluation_dir("/tmp/somewhere/model.safetensors"), std::filesystem::path("evaluation"));
}

// An evaluation replacing another checkpoint's (an explicit --out) says so; the same one again does not.
TEST(EvaluateAndWrite, ReplacingAnotherCheckpointsEvaluationIsSaid) {
  const Dataset dataset = synthetic_dataset(30);
  std::unique_ptr<Backend> backend = cpu_backend_with(dataset, random_state(5));
  t::TempDir dir;
  const EvaluatedCheckpoint third{"/r/checkpoints/epoch-003.safetensors", 3, 30, 0};
  const EvaluatedCheckpoint second{"/r/checkpoints/epoch-002.safetensors", 2, 20, 0};
  std::ostringstream log;
  evaluate_and_write(*backend, dataset, Split::kTest, third, dir.path(), log);
  EXPECT_EQ(log.str().find("note: replacing"), std::string::npos) << log.str();
  evaluate_and_write(*backend, dataset, Split::kTest, third, dir.path(), log);
  EXPECT_EQ(log.str().find("note: replacing"), std::string::npos) << log.str();
  evaluate_and_write(*backend, dataset, Split::kTest, second, dir.path(), log);
  EXPECT_NE(log.str().find("note: replacing " + (dir.path() / "evaluation.json").string() +
                           ", the evaluation of /r/checkpoints/epoch-003.safetensors (epoch 3, step 30, test split)"),
            std::string::npos)
      << log.str();
}

}  // namespace
}  // namespace train_gpu::eval

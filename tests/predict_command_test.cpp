// `train_gpu predict` as a user runs it: a trained model classifies PNG pictures of test-set
// digits the test draws dark on light, in colour, at 100x100; real test images through --index
// get exactly evaluate's probabilities; .npy arrays in every accepted layout agree with the IDX
// images they hold; and bad images are one error line each while the rest still run.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "host/data/dataset.h"
#include "host/eval/npy.h"
#include "host/eval/npy_reader.h"
#include "host/eval/png_image.h"
#include "host/train/checkpoint.h"
#include "support/random_model.h"
#include "support/idx_files.h"
#include "support/jpeg_file.h"
#include "support/small_trained_model.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

const fs::path kTestImages = fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-images-idx3-ubyte.gz";

class PredictCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!t::mnist_available()) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
  }

  // A checkpoint with seeded random weights: varied outputs, no training time.
  fs::path random_checkpoint() {
    const fs::path file = scratch_ / "random.safetensors";
    save_checkpoint(file, t::checkpoint_of(t::random_parameters(21)));
    return file;
  }

  static t::CommandResult predict(const fs::path& checkpoint, const std::string& arguments, const fs::path& scratch) {
    // In `scratch`, so relative image names resolve there. Under timeout(1), so that a FIFO that
    // blocks a regression fails a test (exit 124) instead of hanging the suite.
    return t::run_command("cd " + t::shell_quote(scratch.string()) + " && timeout -k 10 300 " + t::shell_quote(TRAIN_GPU_BINARY) +
                              " predict --device cpu --checkpoint " +
                              t::shell_quote(checkpoint.string()) + " " + arguments,
                          scratch);
  }

  // predict --json's document; a test failure when stdout is not JSON.
  static nlohmann::json json_of(const t::CommandResult& result) {
    try {
      return nlohmann::json::parse(result.out);
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << result.out << result.err;
      return nlohmann::json::object();
    }
  }

  static std::vector<float> probabilities_of(const nlohmann::json& prediction) {
    return prediction.at("probabilities").get<std::vector<float>>();
  }

  // A small model the binary trains, and which of the first 20 test digits it knows on the raw
  // test images (confidently, so that redrawing them is a test of the preprocessing rather than
  // of the model's margins). `indices` stays empty when training fails.
  struct KnownDigits {
    fs::path checkpoint;
    Dataset mnist;
    std::vector<int> indices;
  };
  KnownDigits train_and_find_known_digits() {
    KnownDigits known;
    known.checkpoint = t::train_small_model(scratch_.path(), /*evaluate_test_set=*/false).checkpoint;
    if (known.checkpoint.empty()) return known;
    known.mnist = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
    const t::CommandResult result =
        predict(known.checkpoint, "--json --index 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19 " +
                                      t::shell_quote(kTestImages.string()),
                scratch_.path());
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const nlohmann::json raw = json_of(result);
    for (const nlohmann::json& p : raw["predictions"]) {
      const int index = std::stoi(p["input"].get<std::string>().substr(p["input"].get<std::string>().find('[') + 1));
      EXPECT_EQ(p["label"], known.mnist.test.labels[static_cast<size_t>(index)]) << "the label comes from the labels file beside";
      if (p["predicted"] == p["label"] && p["top3"][0]["probability"].get<double>() > 0.95) known.indices.push_back(index);
    }
    EXPECT_GE(known.indices.size(), 8u) << "the small model should know most of the first 20 digits: " << raw.dump();
    return known;
  }

  t::TempDir scratch_;
};

// The test-set digit `image` (28x28, light on black) as a person might draw it: dark blue ink on
// cream paper, 3x larger, off-centre in a 100x100 colour picture.
eval::Image drawn_dark_on_light(const uint8_t* image, int offset_x, int offset_y) {
  eval::Image picture(100, 100, 3);
  const float paper[3] = {250, 240, 200}, ink[3] = {20, 30, 120};
  for (int y = 0; y < 100; ++y) {
    for (int x = 0; x < 100; ++x) {
      const int sx = (x - offset_x) / 3, sy = (y - offset_y) / 3;
      const bool inside = x >= offset_x && y >= offset_y && sx < 28 && sy < 28;
      const float amount = inside ? image[sy * 28 + sx] / 255.0f : 0.0f;
      for (int c = 0; c < 3; ++c) picture.at(x, y)[c] = static_cast<uint8_t>(std::lround(paper[c] + (ink[c] - paper[c]) * amount));
    }
  }
  return picture;
}

TEST_F(PredictCommand, PngsOfTestDigitsDrawnDarkOnLightInColourAreClassified) {
  const KnownDigits trained = train_and_find_known_digits();
  ASSERT_GE(trained.indices.size(), 8u);
  const Dataset& mnist = trained.mnist;
  const std::vector<int>& known = trained.indices;

  std::string pictures;
  for (size_t k = 0; k < known.size(); ++k) {
    const fs::path file = scratch_ / ("drawn-" + std::to_string(known[k]) + ".png");
    eval::write_png(file, drawn_dark_on_light(mnist.test.image(known[k]), 4 + int(k % 5) * 3, 2 + int(k % 3) * 4));
    pictures += " " + t::shell_quote(file.string());
  }
  t::CommandResult result = predict(trained.checkpoint, "--json" + pictures, scratch_.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json drawn = json_of(result);
  ASSERT_EQ(drawn["predictions"].size(), known.size());
  for (size_t k = 0; k < known.size(); ++k) {
    const nlohmann::json& p = drawn["predictions"][k];
    EXPECT_EQ(p["predicted"], mnist.test.labels[static_cast<size_t>(known[k])]) << p.dump();
    const std::string steps = p["preprocessing"].dump();
    for (const char* step : {"100x100 colour -> gray by luma", "dark on light", "inverted", "scaled to", "centre of mass"}) {
      EXPECT_NE(steps.find(step), std::string::npos) << step << " missing from " << steps;
    }
  }

  // The same in words: the class, the top 3, and the steps.
  result = predict(trained.checkpoint, t::shell_quote((scratch_ / ("drawn-" + std::to_string(known[0]) + ".png")).string()),
                   scratch_.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string label = std::to_string(mnist.test.labels[static_cast<size_t>(known[0])]);
  t::expect_contains(result.out, "drawn-" + std::to_string(known[0]) + ".png: " + label + "  top-3: " + label + " ");
  t::expect_contains(result.out, "\n  preprocessing: 100x100 colour -> gray by luma");
}

// The test-set digit `image` as a phone might photograph it (issue 24): 4x larger in a 140x140
// picture, grey ink (90) on paper shaded from 230 at the top to 170 at the bottom, softened by a
// 3x3 box blur, then (when `grain` > 0) seeded normal grain of that sd. In colour, the paper is
// warm (blue a fifth darker), as under a lamp.
eval::Image photographed(const uint8_t* image, float grain, bool colour, unsigned seed) {
  constexpr int kSize = 140, kScale = 4, kOffset = 14;
  std::vector<float> sharp(kSize * kSize);
  for (int y = 0; y < kSize; ++y) {
    for (int x = 0; x < kSize; ++x) {
      const int sx = (x - kOffset) / kScale, sy = (y - kOffset) / kScale;
      const bool inside = x >= kOffset && y >= kOffset && sx < 28 && sy < 28;
      const float amount = inside ? image[sy * 28 + sx] / 255.0f : 0.0f;
      const float paper = 230.0f - 60.0f * static_cast<float>(y) / (kSize - 1);
      sharp[static_cast<size_t>(y) * kSize + x] = paper + (90.0f - paper) * amount;
    }
  }
  std::mt19937 random(seed);
  std::normal_distribution<float> noise(0.0f, grain > 0 ? grain : 1.0f);
  eval::Image picture(kSize, kSize, colour ? 3 : 1);
  for (int y = 0; y < kSize; ++y) {
    for (int x = 0; x < kSize; ++x) {
      float sum = 0;
      int count = 0;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int bx = x + dx, by = y + dy;
          if (bx < 0 || by < 0 || bx >= kSize || by >= kSize) continue;
          sum += sharp[static_cast<size_t>(by) * kSize + bx];
          ++count;
        }
      }
      const float value = sum / static_cast<float>(count) + (grain > 0 ? noise(random) : 0.0f);
      for (int c = 0; c < picture.channels; ++c) {
        const float tint = colour && c == 2 ? 0.8f : 1.0f;
        picture.at(x, y)[c] = static_cast<uint8_t>(std::lround(std::clamp(value * tint, 0.0f, 255.0f)));
      }
    }
  }
  return picture;
}

// Issue 24: a 3 on shaded paper was read as an 8, the darker half of the page taken for ink, and
// JPEG was refused. The digits the model knows on the raw test images must keep their class
// when photographed: shaded, shaded and grainy (sd 8), and the grainy colour photo saved as a
// quality-85 JPEG. --save-input shows what the model saw: the digit alone, on black.
TEST_F(PredictCommand, ShadedGrainyAndJpegPhotosOfKnownDigitsKeepTheirClass) {
  const KnownDigits trained = train_and_find_known_digits();
  ASSERT_GE(trained.indices.size(), 8u);
  const Dataset& mnist = trained.mnist;
  const std::vector<int>& known = trained.indices;

  std::string pictures;
  for (const int index : known) {
    const uint8_t* image = mnist.test.image(index);
    const std::string stem = std::to_string(index);
    eval::write_png(scratch_ / ("shaded-" + stem + ".png"), photographed(image, 0, false, 1));
    eval::write_png(scratch_ / ("grainy-" + stem + ".png"), photographed(image, 8, false, 100 + unsigned(index)));
    t::write_jpeg(scratch_ / ("photo-" + stem + ".jpg"), photographed(image, 8, true, 200 + unsigned(index)), 85);
    pictures += " shaded-" + stem + ".png grainy-" + stem + ".png photo-" + stem + ".jpg";
  }
  const t::CommandResult result = predict(trained.checkpoint, "--json --save-input seen" + pictures, scratch_.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json photos = json_of(result);
  ASSERT_EQ(photos["predictions"].size(), 3 * known.size());
  for (size_t k = 0; k < known.size(); ++k) {
    const int label = mnist.test.labels[static_cast<size_t>(known[k])];
    for (size_t variant = 0; variant < 3; ++variant) {
      const nlohmann::json& p = photos["predictions"][3 * k + variant];
      EXPECT_EQ(p["predicted"], label) << p.dump();
      t::expect_contains(p["preprocessing"].dump(), "paper fitted by a smooth surface and subtracted");
    }
    // What the model saw: black where the paper was (the corners, far from the digit), and a
    // digit as bright as MNIST's (the brightest pixel of every MNIST test digit is 254 or 255; area
    // averaging at a stroke's edge may take a level or two off the brightest here).
    const eval::Image seen = eval::read_png(scratch_ / "seen" / (std::to_string(3 * k + 2) + "-photo-" + std::to_string(known[k]) + ".png"));
    ASSERT_EQ(seen.width, 28);
    for (const auto& [x, y] : {std::pair{0, 0}, {27, 0}, {0, 27}, {27, 27}}) EXPECT_EQ(seen.at(x, y)[0], 0) << x << "," << y;
    EXPECT_GE(*std::max_element(seen.pixels.begin(), seen.pixels.end()), 250);
  }
}

TEST_F(PredictCommand, ACorruptJpegIsOneErrorLineAndSaveInputRefusesAFullDirectory) {
  const fs::path checkpoint = random_checkpoint();
  eval::Image picture(64, 64, 3, 200);
  const t::Bytes whole = t::encode_jpeg(picture, 90);
  t::write_file(scratch_ / "cut.jpg", t::Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2)));
  t::CommandResult result = predict(checkpoint, "--save-input seen --index 3 cut.jpg " + t::shell_quote(kTestImages.string()),
                                    scratch_.path());
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(t::lines_of(result.err),
            std::vector<std::string>{"train_gpu: error: cut.jpg: not a readable JPEG (libjpeg: Premature end of JPEG file)"});
  t::expect_contains(result.out, "t10k-images-idx3-ubyte.gz[3]: ");
  // The IDX image reaches the model, and the saved picture, unchanged; the failed JPEG has none.
  const Dataset mnist = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  const eval::Image seen = eval::read_png(scratch_ / "seen" / "1-t10k-images-idx3-ubyte-3.png");
  EXPECT_EQ(seen.pixels, std::vector<uint8_t>(mnist.test.image(3), mnist.test.image(3) + 784));
  EXPECT_FALSE(fs::exists(scratch_ / "seen" / "0-cut.png"));

  result = predict(checkpoint, "--save-input seen --index 3 " + t::shell_quote(kTestImages.string()), scratch_.path());
  EXPECT_EQ(result.exit_code, 1);
  t::expect_contains(result.err, "--save-input seen: the directory is not empty; name a new or empty one");
  EXPECT_EQ(t::lines_of(result.err).size(), 1u) << result.err;
}

TEST_F(PredictCommand, TestSetImagesByIndexGetEvaluatesProbabilities) {
  const fs::path checkpoint = random_checkpoint();
  const t::CommandResult result =
      predict(checkpoint, "--json --index 0,1,2,3,4,5,6,7,8,9,10,11 " + t::shell_quote(kTestImages.string()), scratch_.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json document = json_of(result);
  EXPECT_EQ(document["failed"], 0);
  EXPECT_EQ(document["dataset"], "mnist");
  ASSERT_EQ(document["predictions"].size(), 12u);

  const t::MergedCommandResult evaluate = t::run_command_merged(
      t::shell_quote(TRAIN_GPU_BINARY) + " evaluate --device cpu --limit-test 12 --checkpoint " + t::shell_quote(checkpoint.string()) +
      " --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --out " + t::shell_quote((scratch_ / "evaluation").string()));
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.output;
  const eval::NpyArray reference = eval::read_npy(scratch_ / "evaluation" / "probabilities.npy");
  ASSERT_EQ(reference.values.size(), 120u);
  for (size_t i = 0; i < 12; ++i) {
    const nlohmann::json& p = document["predictions"][i];
    EXPECT_EQ(p["input"], "t10k-images-idx3-ubyte.gz[" + std::to_string(i) + "]");
    const std::vector<float> probabilities = probabilities_of(p);
    ASSERT_EQ(probabilities.size(), 10u);
    // The same backend on the same 12 images in one batch: the same float32 operations.
    for (size_t c = 0; c < 10; ++c) EXPECT_EQ(double(probabilities[c]), reference.values[i * 10 + c]) << i << "," << c;
    const auto top = std::max_element(probabilities.begin(), probabilities.end());
    EXPECT_EQ(p["predicted"], top - probabilities.begin());
    EXPECT_EQ(p["top3"][0]["class"], p["predicted"]);
    EXPECT_GE(p["top3"][0]["probability"].get<double>(), p["top3"][1]["probability"].get<double>());
    EXPECT_GE(p["top3"][1]["probability"].get<double>(), p["top3"][2]["probability"].get<double>());
  }
}

TEST_F(PredictCommand, NpyArraysInEveryAcceptedLayoutAgreeWithTheIdxImages) {
  const fs::path checkpoint = random_checkpoint();
  const Dataset mnist = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  const uint8_t* first = mnist.test.image(0);
  const std::vector<uint8_t> bytes(first, first + 3 * 784);
  std::vector<float> unit(bytes.size()), full(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) unit[i] = float(bytes[i]) / 255.0f, full[i] = float(bytes[i]);
  eval::write_npy(scratch_ / "u8.npy", bytes.data(), {3, 28, 28});
  eval::write_npy(scratch_ / "unit.npy", unit.data(), {3, 28, 28, 1});  // the tutorial's x_test / 255, NHWC
  eval::write_npy(scratch_ / "full.npy", full.data(), {3, 784});
  eval::write_npy(scratch_ / "nchw.npy", unit.data(), {3, 1, 28, 28});
  eval::write_npy(scratch_ / "one.npy", bytes.data() + 784, {28, 28});  // image 1 alone

  const t::CommandResult result =
      predict(checkpoint, "--json --index 0,1,2 " + t::shell_quote(kTestImages.string()) + " u8.npy unit.npy full.npy nchw.npy one.npy",
              scratch_.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json predictions = json_of(result)["predictions"];
  ASSERT_EQ(predictions.size(), 3u + 4 * 3 + 1);
  for (size_t file = 1; file <= 4; ++file) {
    for (size_t i = 0; i < 3; ++i) {
      const nlohmann::json& p = predictions[file * 3 + i];
      EXPECT_EQ(p["predicted"], predictions[i]["predicted"]) << p.dump();
      // The pixels are the same bytes (x/255 * 255 rounds back exactly); one batch with the IDX images.
      EXPECT_EQ(probabilities_of(p), probabilities_of(predictions[i])) << p["input"];
    }
  }
  EXPECT_EQ(predictions[15]["input"], "one.npy");
  EXPECT_EQ(probabilities_of(predictions[15]), probabilities_of(predictions[1]));
  EXPECT_NE(predictions[6]["preprocessing"].dump().find("floats in [0,1] (pixels / 255) scaled by 255"), std::string::npos)
      << predictions[6].dump();
  EXPECT_NE(predictions[9]["preprocessing"].dump().find("floats in [0,255] rounded"), std::string::npos) << predictions[9].dump();
}

TEST_F(PredictCommand, BadImagesAreOneErrorLineEachAndTheRestRun) {
  const fs::path checkpoint = random_checkpoint();
  eval::Image blank(60, 60, 1, 255);
  eval::write_png(scratch_ / "blank.png", blank);
  t::write_file(scratch_ / "notes.txt", t::Bytes{'h', 'i', '\n'});
  const std::vector<float> wrong(5 * 5, 0.5f);
  eval::write_npy(scratch_ / "wrong-shape.npy", wrong.data(), {5, 5});
  std::vector<float> out_of_range(28 * 28, 0.0f);
  out_of_range[400] = 300.0f;
  eval::write_npy(scratch_ / "range.npy", out_of_range.data(), {28, 28});
  const std::string labels = t::shell_quote((fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz").string());
  const std::string arguments = "--index 5,10000 " + t::shell_quote(kTestImages.string()) +
                                " blank.png missing.png notes.txt wrong-shape.npy " + labels;

  t::CommandResult result = predict(checkpoint, arguments, scratch_.path());
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const std::vector<std::string> errors = t::lines_of(result.err);
  ASSERT_EQ(errors.size(), 6u) << result.err;
  for (const std::string& line : errors) EXPECT_EQ(line.rfind("train_gpu: error: ", 0), 0u) << line;
  t::expect_contains(errors[0], "--index 10000 is outside t10k-images-idx3-ubyte.gz (10000 images: 0..9999)");
  t::expect_contains(errors[1], "blank.png: no digit found: the picture is nearly uniform");
  t::expect_contains(errors[2], "missing.png: cannot open");
  t::expect_contains(errors[3], "notes.txt: not a PNG or JPEG picture, a .npy array or an IDX images file");
  t::expect_contains(errors[4], "wrong-shape.npy: shape (5,5); predict takes (28,28), (N,28,28)");
  t::expect_contains(errors[5], "that is the magic of an IDX labels file");
  t::expect_contains(result.out, "t10k-images-idx3-ubyte.gz[5]: ");  // the good one still ran

  result = predict(checkpoint, "--json range.npy " + arguments, scratch_.path());
  EXPECT_EQ(result.exit_code, 1);
  const nlohmann::json document = json_of(result);
  EXPECT_EQ(document["failed"], 7);
  ASSERT_EQ(document["predictions"].size(), 8u);
  t::expect_contains(document["predictions"][0]["error"].get<std::string>(), "float values from 0.000000 to 300.000000");
  EXPECT_EQ(document["predictions"][1]["input"], "t10k-images-idx3-ubyte.gz[5]");
  EXPECT_TRUE(document["predictions"][1].contains("predicted"));
  EXPECT_EQ(t::lines_of(result.err).size(), 7u + 2) << "7 errors and the checkpoint and device lines: " << result.err;

  // Nothing usable: still one line per image, and no backend is started.
  result = predict(checkpoint, "notes.txt", scratch_.path());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "train_gpu: error: notes.txt: not a PNG or JPEG picture, a .npy array or an IDX images file\n");
  EXPECT_EQ(result.out.find("device:"), std::string::npos) << result.out;
}

// Where predict puts a drawn digit, to the pixel: an L (its centre of mass is not its box's
// centre) drawn black on white in a 100x100 PNG must reach the model as the hand-worked 28x28
// image, given as an .npy in the same call. Box 24x40 at (20,30), scaled by 1/2 to 12x20 (2x2
// blocks, so exactly 255 or 0): an upright 4x20 and a foot 12x4 along its bottom rows, 112
// pixels with their centre of mass at x = (20*(0+1+2+3) + 4*(4+...+11)) / 112 = 3.214,
// y = (4*(0+...+19) + 8*(16+...+19)) / 112 = 11.786; moved to MNIST's (14, 14): offset
// (lround(10.786), lround(2.214)) = (11, 2). Same pixels, same batch: the same probabilities to
// the bit. The L one pixel to the right gets other probabilities, so a 1-pixel slip shows.
TEST_F(PredictCommand, ADrawnDigitReachesTheModelPlacedByItsCentreOfMass) {
  const fs::path checkpoint = random_checkpoint();
  eval::Image picture(100, 100, 1, 255);
  for (int y = 30; y < 70; ++y) {
    for (int x = 20; x < 44; ++x) {
      if (x < 28 || y >= 62) picture.at(x, y)[0] = 0;  // the upright, 8 wide, and the foot, 8 tall
    }
  }
  eval::write_png(scratch_ / "ell.png", picture);
  auto ell_at = [](int left, int top) {
    std::vector<uint8_t> image(28 * 28, 0);
    for (int y = 0; y < 20; ++y) {
      for (int x = 0; x < 12; ++x) {
        if (x < 4 || y >= 16) image[static_cast<size_t>((top + y) * 28 + left + x)] = 255;
      }
    }
    return image;
  };
  const std::vector<uint8_t> expected = ell_at(11, 2), shifted = ell_at(12, 2);
  eval::write_npy(scratch_ / "expected.npy", expected.data(), {28, 28});
  eval::write_npy(scratch_ / "shifted.npy", shifted.data(), {28, 28});

  const t::CommandResult result = predict(checkpoint, "--json ell.png expected.npy shifted.npy", scratch_.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json predictions = json_of(result)["predictions"];
  ASSERT_EQ(predictions.size(), 3u);
  const std::string steps = predictions[0]["preprocessing"].dump();
  t::expect_contains(steps, "bounding box 24x40 at (20,30) scaled to 12x20");
  t::expect_contains(steps, "offset (11,2)");
  EXPECT_EQ(probabilities_of(predictions[0]), probabilities_of(predictions[1])) << "not the hand-worked placement";
  EXPECT_NE(probabilities_of(predictions[2]), probabilities_of(predictions[1])) << "this model cannot see a 1-pixel shift";
}

// A FIFO blocked predict forever in open(); a directory got "not a PNG...". Both are named for
// what they are, at once, and the other images still run. A FIFO as --checkpoint too.
TEST_F(PredictCommand, FifosAndDirectoriesAreRefusedAtOnceAndTheRestRun) {
  const fs::path checkpoint = random_checkpoint();
  ASSERT_EQ(::mkfifo((scratch_ / "pipe.png").c_str(), 0600), 0);
  fs::create_directory(scratch_ / "folder");
  const std::vector<uint8_t> digit(28 * 28, 9);
  eval::write_npy(scratch_ / "one.npy", digit.data(), {28, 28});

  t::CommandResult result = predict(checkpoint, "pipe.png folder one.npy", scratch_.path());
  EXPECT_EQ(result.exit_code, 1) << "124: it hung on the FIFO\n" << result.err;
  EXPECT_EQ(t::lines_of(result.err),
            (std::vector<std::string>{
                "train_gpu: error: pipe.png: is a FIFO (named pipe), expected a PNG or JPEG picture, a .npy array or an IDX images file",
                "train_gpu: error: folder: is a directory, expected a PNG or JPEG picture, a .npy array or an IDX images file"}));
  t::expect_contains(result.out, "one.npy: ");

  ASSERT_EQ(::mkfifo((scratch_ / "pipe.safetensors").c_str(), 0600), 0);
  result = predict(scratch_ / "pipe.safetensors", "one.npy", scratch_.path());
  EXPECT_EQ(result.exit_code, 1) << "124: it hung on the FIFO\n" << result.err;
  t::expect_contains(result.err, "pipe.safetensors: is a FIFO (named pipe), expected a .safetensors checkpoint");
}

// One input whose name is not UTF-8, one whose .npy header is not: the JSON document still holds
// every result, with U+FFFD for the bad bytes (a strict dump threw type_error.316 and printed
// nothing at all), and stderr names the input whose name was changed.
TEST_F(PredictCommand, JsonKeepsEveryResultWhenANameOrAHeaderIsNotUtf8) {
  const fs::path checkpoint = random_checkpoint();
  const std::vector<uint8_t> digit(28 * 28, 200);
  eval::write_npy(scratch_ / "good.npy", digit.data(), {28, 28});
  const std::string bad_name = "bad\xff\xfe.npy";
  eval::write_npy(scratch_ / bad_name, digit.data(), {28, 28});
  eval::write_npy(scratch_ / "header.npy", digit.data(), {28, 28});
  t::Bytes header_bytes = t::read_file(scratch_ / "header.npy");
  const std::string text(header_bytes.begin(), header_bytes.end());
  const size_t descr = text.find("|u1");
  ASSERT_NE(descr, std::string::npos);
  header_bytes[descr] = 0xff;  // same length, so the header stays well-formed but for the dtype
  header_bytes[descr + 1] = 0xfe;
  t::write_file(scratch_ / "header.npy", header_bytes);

  const t::CommandResult result =
      predict(checkpoint, "--json good.npy " + t::shell_quote(bad_name) + " header.npy", scratch_.path());
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const nlohmann::json document = json_of(result);
  ASSERT_EQ(document["predictions"].size(), 3u) << result.out << result.err;
  EXPECT_EQ(document["failed"], 1);
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD in UTF-8
  EXPECT_EQ(document["predictions"][1]["input"], "bad" + replacement + replacement + ".npy");
  EXPECT_EQ(probabilities_of(document["predictions"][1]), probabilities_of(document["predictions"][0]));
  t::expect_contains(document["predictions"][2]["error"].get<std::string>(),
                     "header.npy: dtype '" + replacement + replacement + "1' is not supported");
  t::expect_contains(result.err, "train_gpu: warning: " + bad_name + ": the name is not valid UTF-8");
}

// What each unusable input is, in its own words (issue 25, item 13), and labels that are merely
// optional never cost the images: a damaged labels file beside good IDX images is reported as
// ignored, and why, in the images' preprocessing steps.
TEST_F(PredictCommand, InputsAreNamedForWhatTheyAreAndOptionalLabelsNeverCostTheImages) {
  const fs::path checkpoint = random_checkpoint();
  t::Bytes floats = t::idx_header(0x00000D03, {1, 28, 28});
  floats.resize(floats.size() + 28 * 28 * 4, 0);
  t::write_file(scratch_ / "floats-idx3", floats);
  const uint8_t nothing = 0;
  eval::write_npy(scratch_ / "none.npy", &nothing, {0, 28, 28});
  const std::vector<uint8_t> digit(28 * 28, 9);
  eval::write_npy(scratch_ / "one.npy", digit.data(), {28, 28});
  eval::Image square(28, 28, 1, 0);
  for (int y = 8; y < 20; ++y) {
    for (int x = 10; x < 18; ++x) *square.at(x, y) = 255;
  }
  eval::write_png(scratch_ / "square.png", square);
  t::write_file(scratch_ / "x-images-idx3-ubyte", t::idx_images(3, 28, 28));
  t::write_file(scratch_ / "x-labels-idx1-ubyte", t::idx_labels({1, 12, 3}));  // 12 is no class
  t::write_file(scratch_ / "y-images-idx3-ubyte", t::idx_images(3, 28, 28));
  t::write_file(scratch_ / "y-labels-idx1-ubyte", t::idx_labels(t::cycling_labels(5)));
  t::write_file(scratch_ / "z-images-idx3-ubyte", t::idx_images(3, 28, 28));
  t::write_file(scratch_ / "z-labels-idx1-ubyte", t::idx_labels({4, 5, 6}));

  const t::CommandResult result =
      predict(checkpoint, "--json --index 2 floats-idx3 none.npy one.npy square.png x-images-idx3-ubyte y-images-idx3-ubyte "
                          "z-images-idx3-ubyte",
              scratch_.path());
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const nlohmann::json predictions = json_of(result)["predictions"];
  ASSERT_EQ(predictions.size(), 7u) << result.out;
  const auto error_of = [&](size_t i) { return predictions[i].value("error", std::string("(no error)")); };
  EXPECT_EQ(error_of(0), "floats-idx3: an IDX file of 32-bit floats with 3 dimensions (magic 0x00000d03); predict takes "
                         "IDX images files of unsigned bytes with 3 dimensions (magic 0x00000803)");
  EXPECT_EQ(error_of(1), "none.npy: shape (0,28,28) holds no images");
  // --index was silently ignored for single images; they are still predicted, and say so.
  EXPECT_EQ(error_of(2), "(no error)");
  EXPECT_EQ(predictions[2]["preprocessing"][0], "a (28,28) array holds one image: --index applies to multi-image files only");
  EXPECT_EQ(error_of(3), "(no error)");
  EXPECT_EQ(predictions[3]["preprocessing"][0], "a PNG holds one image: --index applies to multi-image files only");

  EXPECT_EQ(predictions[4]["input"], "x-images-idx3-ubyte[2]");
  EXPECT_FALSE(predictions[4].contains("label"));
  t::expect_contains(predictions[4]["preprocessing"][0].get<std::string>(),
                     "labels ignored: x-labels-idx1-ubyte: label 12 at index 1 is outside 0..9");
  EXPECT_FALSE(predictions[5].contains("label"));
  t::expect_contains(predictions[5]["preprocessing"][0].get<std::string>(),
                     "labels ignored: y-labels-idx1-ubyte has 5 labels for 3 images");
  EXPECT_EQ(predictions[6]["label"], 6) << "good labels beside still count";
  t::expect_contains(predictions[6]["preprocessing"][0].get<std::string>(), "label from z-labels-idx1-ubyte");
}

}  // namespace
}  // namespace train_gpu

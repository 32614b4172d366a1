// Pictures made into the input of a model other than the tutorial's (host/predict/model_input.h):
// the resize (area averaging when shrinking, bilinear when growing) on values whose results are
// worked out by hand, the channel rules (gray replicated to RGB, colour to luma), and
// load_predict_inputs/save_inputs on PNGs the tests write, for a 3x32x32 model.
#include "host/predict/model_input.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/eval/npy.h"
#include "host/eval/png_image.h"
#include "host/predict/predict_inputs.h"
#include "host/predict/saved_inputs.h"
#include "support/test_support.h"

namespace train_gpu::predict {
namespace {

namespace t = train_gpu::testing;

const model::Shape kCifar{3, 32, 32};

RgbaPicture picture(int width, int height, bool colour, uint8_t (*value)(int x, int y, int channel)) {
  RgbaPicture result;
  result.width = width;
  result.height = height;
  result.colour = colour;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) result.pixels.push_back(value(x, y, colour ? c : 0));
      result.pixels.push_back(255);
    }
  }
  return result;
}

TEST(ModelInput, ShrinkingAveragesEachOutputsArea) {
  // 4x2 -> 2x1: each output pixel is the mean of a 2x2 block.
  const std::vector<float> plane = {0, 4, 10, 20,  //
                                    8, 12, 30, 40};
  EXPECT_EQ(resize_plane(plane, 4, 2, 2, 1), (std::vector<float>{6, 25}));
  EXPECT_EQ(resize_plane(plane, 4, 2, 4, 2), plane) << "the same size is the identity";
}

TEST(ModelInput, GrowingInterpolatesBetweenPixelCentres) {
  // 2 -> 4 along x: output centres fall at input positions -0.25 (clamped to 0), 0.25, 0.75 and
  // 1.25 (clamped to 1): 0, 25, 75, 100.
  EXPECT_EQ(resize_plane({0, 100}, 2, 1, 4, 1), (std::vector<float>{0, 25, 75, 100}));
  // The same along y, and both axes at once (a 1x1 picture grows to a constant).
  EXPECT_EQ(resize_plane({0, 100}, 1, 2, 1, 4), (std::vector<float>{0, 25, 75, 100}));
  EXPECT_EQ(resize_plane({7}, 1, 1, 3, 2), std::vector<float>(6, 7.0f));
  // Shrinking one axis and growing the other: 4x1 -> 2x2 averages pairs, then repeats the row.
  EXPECT_EQ(resize_plane({0, 4, 10, 20}, 4, 1, 2, 2), (std::vector<float>{2, 15, 2, 15}));
}

TEST(ModelInput, GrayIsReplicatedForRgbAndColourBecomesLuma) {
  const RgbaPicture gray = picture(2, 2, false, [](int x, int y, int) { return uint8_t(10 * x + 100 * y); });
  const ModelPicture rgb = picture_for_model(gray, {3, 2, 2});
  const std::vector<uint8_t> plane = {0, 10, 100, 110};
  std::vector<uint8_t> expected;
  for (int c = 0; c < 3; ++c) expected.insert(expected.end(), plane.begin(), plane.end());
  EXPECT_EQ(rgb.pixels, expected) << "(C, H, W): three equal planes";
  t::expect_contains(rgb.steps.front(), "RGB, the gray replicated");

  const RgbaPicture red = picture(1, 1, true, [](int, int, int c) { return uint8_t(c == 0 ? 255 : 0); });
  const ModelPicture luma = picture_for_model(red, {1, 1, 1});
  EXPECT_EQ(luma.pixels, (std::vector<uint8_t>{76})) << "0.299 * 255 = 76.2";
  t::expect_contains(luma.steps.front(), "gray by luma");
  const ModelPicture colour = picture_for_model(red, {3, 1, 1});
  EXPECT_EQ(colour.pixels, (std::vector<uint8_t>{255, 0, 0})) << "R, G, B planes";

  t::expect_contains(t::error_of([&] { picture_for_model(red, {2, 4, 4}); }), "2-channel images");
}

// A 3x32x32 model given a 64x48 colour PNG and a 16x16 gray one, written here: each becomes
// 3x32x32 with its steps saying how; --save-input writes what the model saw as an RGB PNG.
TEST(ModelInput, PredictInputsForA3x32x32Model) {
  t::TempDir scratch;
  eval::Image photo(64, 48, 3);
  for (int y = 0; y < 48; ++y) {
    for (int x = 0; x < 64; ++x) {
      uint8_t* p = photo.at(x, y);
      p[0] = uint8_t(x * 4), p[1] = uint8_t(y * 5), p[2] = 200;
    }
  }
  eval::write_png(scratch / "photo.png", photo);
  eval::write_png(scratch / "small.png", eval::Image(16, 16, 1, 90));

  std::vector<PredictInput> inputs = load_predict_inputs(scratch / "photo.png", {}, kCifar);
  ASSERT_EQ(inputs.size(), 1u);
  ASSERT_EQ(inputs[0].error, "");
  EXPECT_EQ(inputs[0].shape, kCifar);
  ASSERT_EQ(inputs[0].pixels.size(), 3u * 32 * 32);
  // Blue is 200 everywhere; red grows along x: output column 0 averages input columns 0 and 1
  // (0 and 4) and its red is 2; output row 0 covers input rows [0, 1.5), so its green is
  // (0 * 1 + 5 * 0.5) / 1.5 = 1.67, rounded to 2; output row 1 covers [1.5, 3): (5 * 0.5 + 10) / 1.5 = 8.3 -> 8.
  EXPECT_EQ(inputs[0].pixels[2 * 1024 + 500], 200);
  EXPECT_EQ(inputs[0].pixels[0], 2);
  EXPECT_EQ(inputs[0].pixels[1024], 2);
  EXPECT_EQ(inputs[0].pixels[1024 + 32], 8);
  t::expect_contains(inputs[0].steps.back(), "resized to 32x32 (width area averaging, height area averaging)");

  std::vector<PredictInput> small = load_predict_inputs(scratch / "small.png", {}, kCifar);
  ASSERT_EQ(small.size(), 1u);
  ASSERT_EQ(small[0].error, "");
  EXPECT_EQ(small[0].pixels, std::vector<uint8_t>(3 * 32 * 32, 90));
  t::expect_contains(small[0].steps.back(), "(width bilinear, height bilinear)");

  const std::filesystem::path saved = scratch / "saved";
  prepare_saved_inputs_directory(saved);
  save_inputs(saved, inputs);
  const eval::Image seen = eval::read_png(saved / saved_input_name(0, inputs[0].name));
  EXPECT_EQ(seen.channels, 3);
  EXPECT_EQ(seen.width, 32);
  EXPECT_EQ(seen.height, 32);
  EXPECT_EQ(seen.at(0, 0)[0], 2);
  EXPECT_EQ(seen.at(0, 1)[1], 8);
  EXPECT_EQ(seen.at(0, 0)[2], 200);
}

// .npy and IDX inputs are MNIST-shaped: for another model they are one clear error saying what to give.
TEST(ModelInput, NpyInputsForAnotherShapeAreRefused) {
  t::TempDir scratch;
  const std::vector<uint8_t> zeros(3 * 32 * 32);
  eval::write_npy(scratch / "x.npy", zeros.data(), {1, 3, 32, 32});
  const std::vector<PredictInput> inputs = load_predict_inputs(scratch / "x.npy", {}, kCifar);
  ASSERT_EQ(inputs.size(), 1u);
  t::expect_contains(inputs[0].error, "x.npy: .npy and IDX inputs are 28x28 digits, for 1x28x28 models; this model takes "
                                      "3x32x32 (channels x height x width): give PNG or JPEG pictures");
}

}  // namespace
}  // namespace train_gpu::predict

// predict --save-input's files (host/predict/saved_inputs.h): names from position and input,
// the pictures as written, and a directory that is not new or empty refused before anything.
#include "host/predict/saved_inputs.h"

#include <gtest/gtest.h>

#include "host/eval/png_image.h"
#include "support/test_support.h"

namespace train_gpu::predict {
namespace {

namespace t = train_gpu::testing;

TEST(SavedInputs, NamesComeFromPositionNameAndIndex) {
  EXPECT_EQ(saved_input_name(0, "digit.jpg"), "0-digit.png");
  EXPECT_EQ(saved_input_name(12, "x.npy[3]"), "12-x-3.png");
  EXPECT_EQ(saved_input_name(1, "t10k-images-idx3-ubyte.gz[7]"), "1-t10k-images-idx3-ubyte-7.png");
  EXPECT_EQ(saved_input_name(2, "noext"), "2-noext.png");
}

TEST(SavedInputs, WritesThePixelsOfInputsWithoutErrors) {
  t::TempDir dir;
  PredictInput good;
  good.name = "a.png";
  good.pixels.resize(784);
  for (size_t i = 0; i < good.pixels.size(); ++i) good.pixels[i] = static_cast<uint8_t>(i % 251);
  PredictInput bad;
  bad.name = "b.png";
  bad.error = "b.png: not a PNG";
  const std::filesystem::path out = dir / "new" / "inputs";
  prepare_saved_inputs_directory(out);
  save_inputs(out, {bad, good});
  EXPECT_FALSE(std::filesystem::exists(out / "0-b.png"));
  const eval::Image image = eval::read_png(out / "1-a.png");
  EXPECT_EQ(image.width, 28);
  EXPECT_EQ(image.height, 28);
  EXPECT_EQ(image.pixels, good.pixels);

  // Now not empty: a second run would overwrite; a file is not a directory.
  t::expect_contains(t::error_of([&] { prepare_saved_inputs_directory(out); }),
                     "--save-input " + out.string() + ": the directory is not empty");
  t::expect_contains(t::error_of([&] { prepare_saved_inputs_directory(out / "1-a.png"); }),
                     "exists and is not a directory");
  prepare_saved_inputs_directory(dir / "new" / "empty");
  prepare_saved_inputs_directory(dir / "new" / "empty");  // empty: accepted again
}

}  // namespace
}  // namespace train_gpu::predict

// check_image_set (host/model/image_set_check.h), the one check both backends run in
// attach_data: each fault is an Error with its exact message, a valid split passes. The CPU
// backend's use of it is tested here through the Backend interface; the CUDA backend's in
// tests/gpu/cuda_backend_test.cpp (AttachDataRejectsWhatTheCpuBackendRejects).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "host/model/backend.h"
#include "host/model/cpu_backend.h"
#include "host/model/image_set_check.h"
#include "host/model/model_spec.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

ImageSet three_images() {
  ImageSet set;
  set.count = 3;
  set.rows = model::kImageSide;
  set.cols = model::kImageSide;
  set.pixels.assign(3 * model::kImagePixels, 17);
  set.labels = {0, 9, 4};
  return set;
}

// No images yet, of this shape and class count.
ImageSet empty_set(int channels, int rows, int cols, int classes) {
  ImageSet set;
  set.channels = channels;
  set.rows = rows;
  set.cols = cols;
  set.classes = classes;
  return set;
}

TEST(ImageSetCheck, AValidSplitPasses) {
  EXPECT_NO_THROW(check_image_set(three_images(), "train", tutorial_model_input()));
  ImageSet empty = three_images();
  empty.count = 0;
  empty.pixels.clear();
  empty.labels.clear();
  EXPECT_NO_THROW(check_image_set(empty, "test", tutorial_model_input()));
}

TEST(ImageSetCheck, ALabelOfTenOrMoreIsRejectedByIndex) {
  ImageSet set = three_images();
  set.labels[2] = 10;  // the first value past the 10 classes
  EXPECT_EQ(t::error_of([&] { check_image_set(set, "train", tutorial_model_input()); }), "attach_data: train label 2 is 10; labels must be 0..9");
  set.labels[2] = 255;
  set.labels[1] = 12;  // the first bad one is named
  EXPECT_EQ(t::error_of([&] { check_image_set(set, "test", tutorial_model_input()); }), "attach_data: test label 1 is 12; labels must be 0..9");
}

TEST(ImageSetCheck, WrongShapesAndCountsAreRejected) {
  ImageSet wide = three_images();
  wide.cols = 32;
  EXPECT_EQ(t::error_of([&] { check_image_set(wide, "train", tutorial_model_input()); }),
            "attach_data: train images are 1x28x32; the model expects 1x28x28");
  ImageSet short_pixels = three_images();
  short_pixels.pixels.pop_back();
  EXPECT_EQ(t::error_of([&] { check_image_set(short_pixels, "test", tutorial_model_input()); }),
            "attach_data: test split holds 2351 pixels and 3 labels for 3 images");
  ImageSet extra_label = three_images();
  extra_label.labels.push_back(1);
  EXPECT_EQ(t::error_of([&] { check_image_set(extra_label, "train", tutorial_model_input()); }),
            "attach_data: train split holds 2352 pixels and 4 labels for 3 images");
}

// The expected shape and classes are arguments, so a model of another input checks against its own.
TEST(ImageSetCheck, ChecksAgainstTheModelsOwnShapeAndClasses) {
  ImageSet colour = empty_set(3, 4, 5, 12);
  colour.count = 2;
  colour.pixels.assign(2 * 3 * 4 * 5, 9);
  colour.labels = {11, 0};
  const ModelInput input{3, 4, 5, 12, "a 3x4x5 model"};
  EXPECT_NO_THROW(check_image_set(colour, "train", input));
  EXPECT_EQ(t::error_of([&] { check_image_set(colour, "train", tutorial_model_input()); }),
            "attach_data: train images are 3x4x5; the model expects 1x28x28");
  EXPECT_EQ(t::error_of([&] { check_image_set(colour, "test", ModelInput{3, 4, 5, 10, "m"}); }),
            "attach_data: test split has 12 classes; the model has 10");
  colour.labels[1] = 12;
  EXPECT_EQ(t::error_of([&] { check_image_set(colour, "test", input); }),
            "attach_data: test label 1 is 12; labels must be 0..11");
  colour.pixels.pop_back();
  EXPECT_EQ(t::error_of([&] { check_image_set(colour, "test", input); }),
            "attach_data: test split holds 119 pixels and 2 labels for 2 images");
}

// The commands' check before anything is written: one line naming both shapes and the remedy.
TEST(ImageSetCheck, DataOfAnotherShapeOrClassCountDoesNotFitTheTutorialModel) {
  const ImageSet cifar = empty_set(3, 32, 32, 10);
  EXPECT_EQ(t::error_of([&] { check_data_fits_model(cifar, "cifar10", tutorial_model_input()); }),
            "the tutorial model takes 1x28x28 images in 10 classes; cifar10 has 3x32x32 in 10: give a model that "
            "fits with --model");
  ImageSet emnist = three_images();
  emnist.classes = 12;
  EXPECT_EQ(t::error_of([&] { check_data_fits_model(emnist, "idx set 'letters'", tutorial_model_input()); }),
            "the tutorial model takes 1x28x28 images in 10 classes; idx set 'letters' has 1x28x28 in 12: give a "
            "model that fits with --model");
  EXPECT_NO_THROW(check_data_fits_model(three_images(), "mnist", tutorial_model_input()));
  EXPECT_NO_THROW(check_data_fits_model(cifar, "cifar10", ModelInput{3, 32, 32, 10, "m"}));
}

TEST(ImageSetCheck, TheCpuBackendRejectsABadLabelWithTheSharedMessage) {
  BackendOptions options;
  options.max_batch = 4;
  const std::unique_ptr<Backend> backend = make_cpu_backend(options);
  const ImageSet good = three_images();
  ImageSet bad = three_images();
  bad.labels[0] = 10;
  EXPECT_EQ(t::error_of([&] { backend->attach_data(good, bad); }),
            "attach_data: test label 0 is 10; labels must be 0..9");
  EXPECT_NO_THROW(backend->attach_data(good, good));
}

}  // namespace
}  // namespace train_gpu

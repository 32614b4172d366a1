// --dataset folder (host/data/image_folder_dataset.h): tiny PNGs (the project's writer) and
// JPEGs (libjpeg) in class folders the test makes; classes in sorted order, pixels read back
// exactly in planar order, a picture of the other kind converted to the first's channels, every
// fault one error naming the file or folder, and a 10-class 28x28 gray set trains end to end with
// its folder names in the evaluation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "host/data/dataset.h"
#include "host/eval/png_image.h"
#include "host/train/checkpoint.h"
#include "support/jpeg_file.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using ::testing::HasSubstr;

// A gray picture whose pixel (x, y) is seed + 3x + 5y (mod 256): each picture its own bytes.
eval::Image gray(int seed, int width = 4, int height = 3) {
  eval::Image image(width, height, 1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) image.at(x, y)[0] = static_cast<uint8_t>(seed + 3 * x + 5 * y);
  }
  return image;
}

// An RGB picture whose channels differ: r = seed + x, g = 100 + y, b = 200 - x - y.
eval::Image rgb(int seed, int width = 4, int height = 3) {
  eval::Image image(width, height, 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* pixel = image.at(x, y);
      pixel[0] = static_cast<uint8_t>(seed + x);
      pixel[1] = static_cast<uint8_t>(100 + y);
      pixel[2] = static_cast<uint8_t>(200 - x - y);
    }
  }
  return image;
}

// The set's planar bytes of one picture, as the reader must store them.
std::vector<uint8_t> planar(const eval::Image& image) {
  std::vector<uint8_t> bytes;
  for (int c = 0; c < image.channels; ++c) {
    for (int y = 0; y < image.height; ++y) {
      for (int x = 0; x < image.width; ++x) bytes.push_back(image.at(x, y)[c]);
    }
  }
  return bytes;
}

std::vector<uint8_t> image_bytes(const ImageSet& set, int64_t index) {
  return std::vector<uint8_t>(set.image(index), set.image(index) + set.image_size());
}

class ImageFolder : public ::testing::Test {
 protected:
  fs::path folder(const std::string& split, const std::string& name) {
    const fs::path path = dir_ / split / name;
    fs::create_directories(path);
    return path;
  }
  t::TempDir dir_;
};

TEST_F(ImageFolder, ClassesAreTheSortedFoldersAndPixelsReadBackExactly) {
  // Written out of order: the reader sorts classes and files.
  eval::write_png(folder("train", "dog") / "b.png", gray(40));
  eval::write_png(folder("train", "dog") / "a.PNG", gray(30));
  eval::write_png(folder("train", "cat") / "x.png", gray(10));
  eval::write_png(folder("train", "cat/nested") / "y.png", gray(20));  // any depth, as Keras reads
  t::write_file(folder("train", "cat") / "notes.txt", {'h', 'i'});         // not a picture: skipped
  eval::write_png(folder("test", "cat") / "t.png", gray(50));
  eval::write_png(folder("test", "dog") / "u.png", gray(60));
  const Dataset dataset = load_dataset(dir_.path(), DatasetKind::kFolder);
  EXPECT_EQ(dataset.kind, DatasetKind::kFolder);
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(dataset.train.count, 4);
  EXPECT_EQ(dataset.train.channels, 1);
  EXPECT_EQ(dataset.train.rows, 3);
  EXPECT_EQ(dataset.train.cols, 4);
  EXPECT_EQ(dataset.train.classes, 2);
  EXPECT_EQ(dataset.train.labels, (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(image_bytes(dataset.train, 0), planar(gray(20)));  // cat/nested/y.png sorts before cat/x.png
  EXPECT_EQ(image_bytes(dataset.train, 1), planar(gray(10)));
  EXPECT_EQ(image_bytes(dataset.train, 2), planar(gray(30)));  // dog/a.PNG
  EXPECT_EQ(image_bytes(dataset.train, 3), planar(gray(40)));
  ASSERT_EQ(dataset.test.count, 2);
  EXPECT_EQ(dataset.test.labels, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(image_bytes(dataset.test, 1), planar(gray(60)));
  ASSERT_EQ(dataset.files.size(), 4u);
  EXPECT_EQ(dataset.files[0].role, "train class cat (2 pictures)");
  EXPECT_EQ(dataset.files[0].path, dir_ / "train" / "cat");
  EXPECT_EQ(dataset.files[0].sha256.size(), 64u);
  EXPECT_EQ(dataset.files[3].role, "test class dog (1 pictures)");

  const Dataset test_only = load_dataset(dir_.path(), DatasetKind::kFolder, DatasetSplits::kTestOnly);
  EXPECT_EQ(test_only.train.count, 0);
  EXPECT_EQ(test_only.train.rows, 3);
  EXPECT_EQ(test_only.train.classes, 2);
  EXPECT_EQ(test_only.test.labels, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(test_only.files.size(), 2u);
}

TEST_F(ImageFolder, AColourFirstPictureMakesAnRgbSetInPlanarOrder) {
  eval::write_png(folder("train", "a") / "1.png", rgb(7));
  eval::write_png(folder("train", "b") / "2.png", gray(90));  // gray in a colour set: R = G = B
  // A flat colour survives JPEG at quality 100 to within a step of rounding.
  t::write_jpeg(folder("test", "a") / "3.jpg", eval::Image(4, 3, 3, 128), 100);
  eval::write_png(folder("test", "b") / "4.png", rgb(9));
  const Dataset dataset = load_dataset(dir_.path(), DatasetKind::kFolder);
  EXPECT_EQ(dataset.train.channels, 3);
  EXPECT_EQ(dataset.train.image_size(), 36);
  EXPECT_EQ(image_bytes(dataset.train, 0), planar(rgb(7)));
  EXPECT_EQ(image_bytes(dataset.train, 1), planar(eval::to_rgb(gray(90))));
  EXPECT_EQ(image_bytes(dataset.test, 1), planar(rgb(9)));
  for (const uint8_t value : image_bytes(dataset.test, 0)) EXPECT_NEAR(value, 128, 1);
}

TEST_F(ImageFolder, AGrayFirstPictureTurnsColourIntoLuma) {
  eval::write_png(folder("train", "a") / "1.png", gray(0));
  eval::Image colour(4, 3, 3);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      colour.at(x, y)[0] = 200;
      colour.at(x, y)[1] = 100;
      colour.at(x, y)[2] = 50;
    }
  }
  eval::write_png(folder("train", "a") / "2.png", colour);
  eval::write_png(folder("test", "a") / "3.png", gray(1));
  const Dataset dataset = load_dataset(dir_.path(), DatasetKind::kFolder);
  EXPECT_EQ(dataset.train.channels, 1);
  // 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 59.8 + 58.7 + 5.7 = 124.2 -> 124
  EXPECT_EQ(image_bytes(dataset.train, 1), std::vector<uint8_t>(12, 124));
}

TEST_F(ImageFolder, EachFaultIsOneErrorNamingTheFileOrFolder) {
  eval::write_png(folder("train", "a") / "1.png", gray(0));
  eval::write_png(folder("train", "b") / "2.png", gray(0, 5, 3));
  eval::write_png(folder("test", "a") / "3.png", gray(0));
  eval::write_png(folder("test", "b") / "4.png", gray(0));
  EXPECT_EQ(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kFolder); }),
            (dir_ / "train" / "b" / "2.png").string() + ": 5x3 pixels, but the set's first picture (" +
                (dir_ / "train" / "a" / "1.png").string() +
                ") is 4x3; every picture of a folder set must have one size (resize them first)");
  fs::remove(dir_ / "train" / "b" / "2.png");
  EXPECT_EQ(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kFolder); }),
            (dir_ / "train" / "b").string() + ": no .png, .jpg or .jpeg pictures in this class folder");
  eval::write_png(dir_ / "train" / "b" / "2.png", gray(0));
  fs::remove_all(dir_ / "test" / "b");
  eval::write_png(folder("test", "c") / "5.png", gray(0));
  eval::write_png(folder("test", "d") / "6.png", gray(0));
  EXPECT_EQ(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kFolder); }),
            (dir_ / "test").string() + ": its class folders differ from " + (dir_ / "train").string() +
                "'s: missing in test: b; only in test: c, d; both splits need the same classes");
  fs::remove_all(dir_ / "test");
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kFolder); }),
              HasSubstr((dir_ / "test").string() + ": no such directory; expected DIR/train/<class>/ and DIR/test/<class>/"));
  fs::create_directories(dir_ / "test");
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kFolder); }),
              HasSubstr((dir_ / "test").string() + ": no class folders"));
  fs::create_directories(dir_ / "test" / "a");
  fs::create_directories(dir_ / "test" / "b");
  t::write_file(dir_ / "test" / "a" / "bad.png", {'n', 'o', 'p', 'e'});
  eval::write_png(dir_ / "test" / "b" / "7.png", gray(0));
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kFolder); }),
              HasSubstr((dir_ / "test" / "a" / "bad.png").string() + ": not a readable PNG"));
}

TEST_F(ImageFolder, TheTutorialModelRefusesAThreeClassSetInOneLine) {
  for (const char* name : {"a", "b", "c"}) {
    eval::write_png(folder("train", name) / "1.png", gray(0, 28, 28));
    eval::write_png(folder("test", name) / "1.png", gray(0, 28, 28));
  }
  const fs::path run = dir_ / "run";
  const t::MergedCommandResult result = t::run_command_merged(
      t::shell_quote(TRAIN_GPU_BINARY) + " train --dataset folder --dataset-name abc --data-dir " +
      t::shell_quote(dir_.path().string()) + " --epochs 1 --device cpu --no-progress --run-dir " + t::shell_quote(run.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  t::expect_contains(result.output, "error: the tutorial model takes 1x28x28 images in 10 classes; folder set 'abc' has "
                                    "1x28x28 in 3: give a model that fits with --model\n");
  EXPECT_FALSE(fs::exists(run));
}

// Ten classes of 28x28 gray pictures fit the tutorial model: the run trains, records the set
// under its name, and the evaluation names the classes after the folders.
TEST_F(ImageFolder, ATenClassGraySetTrainsAndNamesItsClasses) {
  const std::vector<std::string> names{"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibex", "jay"};
  for (size_t c = 0; c < names.size(); ++c) {
    for (int i = 0; i < 3; ++i) eval::write_png(folder("train", names[c]) / (std::to_string(i) + ".png"), gray(int(c) * 20 + i, 28, 28));
    eval::write_png(folder("test", names[c]) / "0.png", gray(int(c) * 20, 28, 28));
  }
  const fs::path run = dir_ / "run";
  const t::MergedCommandResult result = t::run_command_merged(
      t::shell_quote(TRAIN_GPU_BINARY) + " train --dataset folder --data-dir " + t::shell_quote(dir_.path().string()) +
      " --epochs 1 --batch-size 10 --device cpu --no-tensorboard --no-progress --run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const Checkpoint checkpoint = load_checkpoint(run / "checkpoints" / "epoch-001.safetensors");
  EXPECT_EQ(checkpoint.metadata.dataset, "folder");
  EXPECT_EQ(checkpoint.metadata.extra.at("dataset_name"), dir_.path().filename().string());
  const nlohmann::json config = nlohmann::json::parse(t::read_text(run / "config.json"));
  EXPECT_EQ(config["dataset"]["name"], "folder");
  EXPECT_EQ(config["dataset"]["image_shape"], nlohmann::json({1, 28, 28}));
  EXPECT_EQ(config["dataset"]["classes"], 10);
  EXPECT_EQ(config["dataset"]["class_names"], nlohmann::json(names));
  const std::vector<std::string> confusion = t::lines_of(t::read_text(run / "evaluation" / "confusion.csv"));
  ASSERT_FALSE(confusion.empty());
  t::expect_contains(confusion[1], "ant");
  const nlohmann::json evaluation = nlohmann::json::parse(t::read_text(run / "evaluation" / "evaluation.json"));
  EXPECT_EQ(evaluation["classes"][8]["name"], "ibex");
  EXPECT_EQ(evaluation["dataset"], "folder");

  // predict has the model but not the data: the checkpoint carries the names.
  EXPECT_EQ(checkpoint.metadata.extra.at("class_names"), nlohmann::json(names).dump());
  const t::CommandResult predicted = t::run_command(
      t::shell_quote(TRAIN_GPU_BINARY) + " predict --device cpu --json --checkpoint " +
          t::shell_quote((run / "checkpoints" / "epoch-001.safetensors").string()) + " " +
          t::shell_quote((dir_ / "test" / "cat" / "0.png").string()),
      dir_.path());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const nlohmann::json prediction = nlohmann::json::parse(predicted.out)["predictions"][0];
  EXPECT_NE(std::find(names.begin(), names.end(), prediction["class_name"].get<std::string>()), names.end())
      << predicted.out;
}

}  // namespace
}  // namespace train_gpu

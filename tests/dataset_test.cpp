// Dataset loading: the four files found by either name form, checked against each other and the
// model's 28x28 input, and known public files named by their sha256.
#include "host/data/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "host/common/error.h"
#include "support/idx_files.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h, support/idx_files.h)
using ::testing::AllOf;
using ::testing::HasSubstr;

const fs::path kMnist = TRAIN_GPU_MNIST_DIR;
const fs::path kFashion = TRAIN_GPU_FASHION_DIR;

TEST(DatasetNames, KindsNamesDirectoriesAndClasses) {
  EXPECT_EQ(parse_dataset_kind("mnist"), DatasetKind::kMnist);
  EXPECT_EQ(parse_dataset_kind("fashion-mnist"), DatasetKind::kFashionMnist);
  EXPECT_THAT(t::error_of([] { parse_dataset_kind("cifar100"); }),
              HasSubstr("unknown dataset 'cifar100': expected mnist, fashion-mnist, idx (another set in IDX files), "
                        "cifar10 (CIFAR-10's binary version) or folder"));
  EXPECT_EQ(parse_dataset_kind("cifar10"), DatasetKind::kCifar10);
  EXPECT_EQ(parse_dataset_kind("folder"), DatasetKind::kFolder);
  EXPECT_EQ(dataset_kind_name(DatasetKind::kCifar10), "cifar10");
  EXPECT_EQ(dataset_kind_name(DatasetKind::kFolder), "folder");
  EXPECT_EQ(dataset_display_name(DatasetKind::kCifar10), "CIFAR-10");
  EXPECT_EQ(default_data_dir(DatasetKind::kCifar10), fs::path("data/cifar10"));
  EXPECT_THAT(t::error_of([] { default_data_dir(DatasetKind::kFolder); }), HasSubstr("give --data-dir"));
  EXPECT_FALSE(dataset_has_own_name(DatasetKind::kMnist));
  EXPECT_FALSE(dataset_has_own_name(DatasetKind::kFashionMnist));
  EXPECT_TRUE(dataset_has_own_name(DatasetKind::kIdx));
  EXPECT_TRUE(dataset_has_own_name(DatasetKind::kCifar10));
  EXPECT_TRUE(dataset_has_own_name(DatasetKind::kFolder));
  EXPECT_EQ(standard_class_names(DatasetKind::kCifar10),
            (std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                      "truck"}));
  EXPECT_EQ(parse_dataset_kind("idx"), DatasetKind::kIdx);
  EXPECT_EQ(dataset_kind_name(DatasetKind::kIdx), "idx");
  EXPECT_THAT(t::error_of([] { default_data_dir(DatasetKind::kIdx); }), HasSubstr("give --data-dir"));
  EXPECT_EQ(standard_class_names(DatasetKind::kIdx), standard_class_names(DatasetKind::kMnist));
  EXPECT_EQ(dataset_kind_name(DatasetKind::kFashionMnist), "fashion-mnist");
  EXPECT_EQ(dataset_display_name(DatasetKind::kMnist), "MNIST");
  EXPECT_EQ(dataset_display_name(DatasetKind::kFashionMnist), "Fashion-MNIST");
  EXPECT_EQ(default_data_dir(DatasetKind::kMnist), fs::path("data/mnist"));
  EXPECT_EQ(default_data_dir(DatasetKind::kFashionMnist), fs::path("data/fashion-mnist"));
  EXPECT_EQ(standard_class_names(DatasetKind::kMnist),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(standard_class_names(DatasetKind::kFashionMnist),
            (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                      "Sneaker", "Bag", "Ankle boot"}));
}

TEST(DatasetRealData, MnistLoadsAndIsRecognized) {
  const Dataset dataset = load_dataset(kMnist, DatasetKind::kMnist);
  EXPECT_EQ(dataset.kind, DatasetKind::kMnist);
  EXPECT_EQ(dataset.train.count, 60000);
  EXPECT_EQ(dataset.test.count, 10000);
  EXPECT_EQ(dataset.train.rows, 28);
  EXPECT_EQ(dataset.test.cols, 28);
  EXPECT_EQ(dataset.train.pixels.size(), 60000u * 784);
  EXPECT_EQ(dataset.test.labels.size(), 10000u);
  EXPECT_EQ(dataset.train.labels[0], 5);
  EXPECT_EQ(dataset.test.labels[0], 7);
  EXPECT_EQ(dataset.train.image(0)[14 * 28 + 14], 240);

  ASSERT_EQ(dataset.files.size(), 4u);
  const char* roles[] = {"train images", "train labels", "test images", "test labels"};
  const char* names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                         "t10k-labels-idx1-ubyte.gz"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(dataset.files[i].role, roles[i]);
    EXPECT_EQ(dataset.files[i].path, kMnist / names[i]);
    EXPECT_EQ(dataset.files[i].recognized, std::string("MNIST ") + roles[i] + ", verified");
    EXPECT_EQ(dataset.files[i].sha256.size(), 64u);
  }
  EXPECT_EQ(dataset.files[3].sha256, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6");
}

// The raw (decompressed) files under the dotted names are recognized by their own sums.
TEST(DatasetRealData, MnistRawDottedNamesAreRecognized) {
  t::TempDir dir;
  for (const char* stem : {"train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte",
                           "t10k-labels.idx1-ubyte"}) {
    std::string dashed = stem;
    dashed[dashed.find('.')] = '-';
    t::write_file(dir / stem, t::gunzip(t::read_file(kMnist / (dashed + ".gz"))));
  }
  const Dataset dataset = load_dataset(dir.path(), DatasetKind::kMnist);
  EXPECT_EQ(dataset.train.count, 60000);
  EXPECT_EQ(dataset.files[0].path, dir / "train-images.idx3-ubyte");
  EXPECT_EQ(dataset.files[0].sha256, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db");
  EXPECT_EQ(dataset.files[0].recognized, "MNIST train images, verified");
  EXPECT_EQ(dataset.files[3].recognized, "MNIST test labels, verified");
}

TEST(DatasetRealData, FashionMnistLoadsAndIsRecognized) {
  if (!fs::is_directory(kFashion)) GTEST_SKIP() << "no Fashion-MNIST at " << kFashion << " (Debian package dataset-fashion-mnist)";
  const Dataset dataset = load_dataset(kFashion, DatasetKind::kFashionMnist);
  EXPECT_EQ(dataset.train.count, 60000);
  EXPECT_EQ(dataset.test.count, 10000);
  EXPECT_EQ(std::vector<int>(dataset.train.labels.begin(), dataset.train.labels.begin() + 4),
            (std::vector<int>{9, 0, 0, 3}));
  EXPECT_EQ(dataset.files[0].recognized, "Fashion-MNIST train images, verified");
  EXPECT_EQ(dataset.files[3].recognized, "Fashion-MNIST test labels, verified");
  // Loaded under the wrong --dataset, the files are still named, with the mix-up pointed out.
  const Dataset as_mnist = load_dataset(kFashion, DatasetKind::kMnist);
  EXPECT_EQ(as_mnist.files[1].recognized, "Fashion-MNIST train labels, verified (but loaded as MNIST train labels)");
}

// A small valid dataset in a temp dir, for the checks that compare files with each other.
class SyntheticDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    write_split("train", 30, 28);
    write_split("t10k", 10, 28);
  }
  void write_split(const std::string& prefix, uint32_t count, uint32_t side) {
    t::write_file(dir_ / (prefix + "-images-idx3-ubyte.gz"), t::gzip(t::idx_images(count, side, side)));
    t::write_file(dir_ / (prefix + "-labels-idx1-ubyte.gz"), t::gzip(t::idx_labels(t::cycling_labels(count))));
  }
  t::TempDir dir_;
};

TEST_F(SyntheticDataset, UnknownFilesLoadButAreUnrecognized) {
  const Dataset dataset = load_dataset(dir_.path(), DatasetKind::kMnist);
  EXPECT_EQ(dataset.train.count, 30);
  EXPECT_EQ(dataset.test.count, 10);
  EXPECT_EQ(dataset.train.labels, t::cycling_labels(30));
  for (const DatasetFile& file : dataset.files) EXPECT_EQ(file.recognized, "") << file.role;
}

// Any size loads (whether the model takes it is the model's check, image_set_check.h), but both
// splits must have the same.
TEST_F(SyntheticDataset, BothSplitsMustHaveOneImageSize) {
  write_split("t10k", 10, 32);
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kMnist); }),
              AllOf(HasSubstr((dir_ / "t10k-images-idx3-ubyte.gz").string() + ": images are 32x32, but the train images ("),
                    HasSubstr("train-images-idx3-ubyte.gz) are 28x28; both splits must have one size")));
  write_split("train", 30, 32);
  const Dataset dataset = load_dataset(dir_.path(), DatasetKind::kMnist);
  EXPECT_EQ(dataset.train.rows, 32);
  EXPECT_EQ(dataset.test.cols, 32);
  EXPECT_EQ(dataset.train.channels, 1);
  EXPECT_EQ(dataset.train.classes, 10);
  EXPECT_EQ(dataset.class_names, standard_class_names(DatasetKind::kMnist));
}

TEST_F(SyntheticDataset, ImageAndLabelCountsMustMatch) {
  t::write_file(dir_ / "train-labels-idx1-ubyte.gz", t::gzip(t::idx_labels(t::cycling_labels(29))));
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kMnist); }),
              AllOf(HasSubstr((dir_ / "train-labels-idx1-ubyte.gz").string() + ": 29 labels, but "),
                    HasSubstr("train-images-idx3-ubyte.gz has 30 images")));
}

TEST_F(SyntheticDataset, LabelTenIsRejected) {
  t::Bytes labels = t::cycling_labels(10);
  labels[9] = 10;
  t::write_file(dir_ / "t10k-labels-idx1-ubyte.gz", t::gzip(t::idx_labels(labels)));
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kMnist); }),
              HasSubstr("t10k-labels-idx1-ubyte.gz: label 10 at index 9 is outside 0..9"));
}

// EMNIST-style: an idx set has max label + 1 classes over both splits, named "0".."N-1";
// MNIST and Fashion-MNIST stay at 10.
TEST_F(SyntheticDataset, AnIdxSetHasAsManyClassesAsItsLargestLabelSays) {
  t::Bytes train_labels;
  for (uint32_t i = 0; i < 30; ++i) train_labels.push_back(static_cast<uint8_t>(i % 11));  // 0..10
  t::Bytes test_labels = t::cycling_labels(10);
  test_labels[4] = 11;  // only the test split holds class 11
  t::write_file(dir_ / "train-labels-idx1-ubyte.gz", t::gzip(t::idx_labels(train_labels)));
  t::write_file(dir_ / "t10k-labels-idx1-ubyte.gz", t::gzip(t::idx_labels(test_labels)));
  const Dataset dataset = load_dataset(dir_.path(), DatasetKind::kIdx);
  EXPECT_EQ(dataset.train.classes, 12);
  EXPECT_EQ(dataset.test.classes, 12);
  EXPECT_EQ(dataset.class_names, numbered_class_names(12));
  EXPECT_EQ(dataset.class_names.back(), "11");
  EXPECT_EQ(dataset.train.labels, train_labels);
  EXPECT_EQ(load_dataset(dir_.path(), DatasetKind::kIdx, DatasetSplits::kTestOnly).test.classes, 12);
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kMnist); }),
              HasSubstr("train-labels-idx1-ubyte.gz: label 10 at index 10 is outside 0..9"));
}

TEST_F(SyntheticDataset, MissingFileListsNamesTried) {
  fs::remove(dir_ / "t10k-labels-idx1-ubyte.gz");
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kMnist); }),
              HasSubstr(dir_.path().string() + ": no test labels file (tried t10k-labels-idx1-ubyte.gz, "
                                                 "t10k-labels-idx1-ubyte, t10k-labels.idx1-ubyte.gz, "
                                                 "t10k-labels.idx1-ubyte)"));
}

TEST_F(SyntheticDataset, DirectoryWhereAFileShouldBe) {
  fs::remove(dir_ / "train-images-idx3-ubyte.gz");
  fs::create_directory(dir_ / "train-images-idx3-ubyte");
  EXPECT_THAT(t::error_of([&] { load_dataset(dir_.path(), DatasetKind::kMnist); }),
              HasSubstr("train-images-idx3-ubyte: is a directory, expected an IDX file"));
}

TEST(DatasetErrors, MissingOrNonDirectoryDataDir) {
  t::TempDir dir;
  const fs::path missing = dir / "nope";
  EXPECT_THAT(t::error_of([&] { load_dataset(missing, DatasetKind::kFashionMnist); }),
              AllOf(HasSubstr(missing.string() + ": no such directory"),
                    HasSubstr("tools/fetch-data.sh --dataset fashion-mnist"), HasSubstr("--data-dir")));
  t::write_file(dir / "file", {1});
  EXPECT_THAT(t::error_of([&] { load_dataset(dir / "file", DatasetKind::kMnist); }),
              HasSubstr("file: not a directory"));
}

}  // namespace
}  // namespace train_gpu

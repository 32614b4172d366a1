// --dataset cifar10 (host/data/cifar10_dataset.h, cifar10_records.h, tar_archive.h): batches the
// test writes record by record read back byte for byte in CIFAR's planar order, from a directory,
// from the cifar-10-batches-bin/ folder the archive unpacks to, and from a .tar.gz written with
// libarchive; every fault is one error naming the file; and the tutorial model refuses the set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "host/data/cifar10_records.h"
#include "host/data/dataset.h"
#include "host/data/sha256.h"
#include "support/cifar10_files.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using ::testing::HasSubstr;

// Batch b (1..5) holds records 2(b-1), 2(b-1)+1; the test batch records 100..102.
constexpr int kPerBatch = 2;
constexpr int kTestRecords = 3;
constexpr int kTestFirst = 100;

void write_text(const fs::path& file, const std::string& text) { t::write_file(file, t::Bytes(text.begin(), text.end())); }

t::Bytes train_batch(int b) { return t::cifar_batch(kPerBatch * (b - 1), kPerBatch); }

void write_batches(const fs::path& directory) {
  fs::create_directories(directory);
  for (int b = 1; b <= 5; ++b) t::write_file(directory / ("data_batch_" + std::to_string(b) + ".bin"), train_batch(b));
  t::write_file(directory / "test_batch.bin", t::cifar_batch(kTestFirst, kTestRecords));
}

// Every pixel and label as written: image n's plane c is its record's bytes 1 + 1024c ...
void expect_records(const ImageSet& set, int first_record, int count) {
  ASSERT_EQ(set.count, count);
  EXPECT_EQ(set.channels, 3);
  EXPECT_EQ(set.rows, 32);
  EXPECT_EQ(set.cols, 32);
  EXPECT_EQ(set.classes, 10);
  EXPECT_EQ(set.image_size(), 3072);
  ASSERT_EQ(set.pixels.size(), static_cast<size_t>(count) * 3072);
  for (int n = 0; n < count; ++n) {
    EXPECT_EQ(set.labels[static_cast<size_t>(n)], (first_record + n) % 10);
    int wrong = 0;
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < 1024; ++i) wrong += set.image(n)[c * 1024 + i] != t::cifar_pixel(first_record + n, c, i);
    }
    EXPECT_EQ(wrong, 0) << "image " << n;
  }
}

const std::vector<std::string> kStandardNames{"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

TEST(Cifar10Dataset, ReadsTheBatchesOfADirectoryInPlanarOrder) {
  t::TempDir dir;
  write_batches(dir.path());
  const Dataset dataset = load_dataset(dir.path(), DatasetKind::kCifar10);
  EXPECT_EQ(dataset.kind, DatasetKind::kCifar10);
  expect_records(dataset.train, 0, 5 * kPerBatch);
  expect_records(dataset.test, kTestFirst, kTestRecords);
  EXPECT_EQ(dataset.class_names, kStandardNames);  // no batches.meta.txt
  ASSERT_EQ(dataset.files.size(), 6u);
  EXPECT_EQ(dataset.files[0].role, "train batch 1");
  EXPECT_EQ(dataset.files[0].path, dir / "data_batch_1.bin");
  EXPECT_EQ(dataset.files[0].sha256, sha256_hex(train_batch(1).data(), train_batch(1).size()));
  EXPECT_EQ(dataset.files[5].role, "test batch");
  EXPECT_EQ(dataset.files[5].path, dir / "test_batch.bin");
}

TEST(Cifar10Dataset, ClassNamesComeFromBatchesMetaTxt) {
  t::TempDir dir;
  write_batches(dir.path());
  // As published: ten names and a blank line; here with a CRLF line too.
  write_text(dir / "batches.meta.txt", "plane\r\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  const Dataset dataset = load_dataset(dir.path(), DatasetKind::kCifar10);
  EXPECT_EQ(dataset.class_names,
            (std::vector<std::string>{"plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}));
  EXPECT_EQ(dataset.files.back().role, "class names");

  write_text(dir / "batches.meta.txt", "a\nb\nc\n");
  EXPECT_EQ(t::error_of([&] { load_dataset(dir.path(), DatasetKind::kCifar10); }),
            (dir / "batches.meta.txt").string() + ": 3 lines; expected the ten class names, one per line");
  write_text(dir / "batches.meta.txt", "a\nb\n\nd\ne\nf\ng\nh\ni\nj\n");
  EXPECT_EQ(t::error_of([&] { load_dataset(dir.path(), DatasetKind::kCifar10); }),
            (dir / "batches.meta.txt").string() + ": line 3 is empty; expected the ten class names, one per line");
}

TEST(Cifar10Dataset, TheTestSplitAloneReadsOnlyTheTestBatch) {
  t::TempDir dir;
  write_batches(dir.path());
  fs::remove(dir / "data_batch_2.bin");  // not needed, so not missed
  const Dataset dataset = load_dataset(dir.path(), DatasetKind::kCifar10, DatasetSplits::kTestOnly);
  expect_records(dataset.test, kTestFirst, kTestRecords);
  EXPECT_EQ(dataset.train.count, 0);
  EXPECT_EQ(dataset.train.channels, 3);
  EXPECT_EQ(dataset.train.rows, 32);
  ASSERT_EQ(dataset.files.size(), 1u);
}

TEST(Cifar10Dataset, TheUnpackedFolderIsFoundInsideTheDirectory) {
  t::TempDir dir;
  write_batches(dir / "cifar-10-batches-bin");
  const Dataset dataset = load_dataset(dir.path(), DatasetKind::kCifar10);
  expect_records(dataset.train, 0, 5 * kPerBatch);
  EXPECT_EQ(dataset.files[0].path, dir / "cifar-10-batches-bin" / "data_batch_1.bin");
}

TEST(Cifar10Dataset, EachFaultIsOneErrorNamingTheFile) {
  t::TempDir dir;
  write_batches(dir.path());
  const fs::path third = dir / "data_batch_3.bin";

  t::Bytes truncated = train_batch(3);
  truncated.resize(truncated.size() - 1);
  t::write_file(third, truncated);
  EXPECT_EQ(t::error_of([&] { load_dataset(dir.path(), DatasetKind::kCifar10); }),
            third.string() + ": 6145 bytes is not a whole number of 3073-byte CIFAR-10 records (1 records and 3072 "
                             "bytes over): the file is truncated or not a CIFAR-10 binary batch");

  t::Bytes bad_label = train_batch(3);
  bad_label[3073] = 10;  // the second record's label byte
  t::write_file(third, bad_label);
  EXPECT_EQ(t::error_of([&] { load_dataset(dir.path(), DatasetKind::kCifar10); }),
            third.string() + ": record 1 (byte 3073) has label 10; CIFAR-10 labels are 0..9 (is it a CIFAR-100 file?)");

  t::write_file(third, {});
  EXPECT_THAT(t::error_of([&] { load_dataset(dir.path(), DatasetKind::kCifar10); }),
              HasSubstr(third.string() + ": empty file (0 bytes)"));

  fs::remove(third);
  EXPECT_EQ(t::error_of([&] { load_dataset(dir.path(), DatasetKind::kCifar10); }),
            dir.path().string() + ": no data_batch_3.bin; CIFAR-10's binary version has data_batch_1.bin.."
                                  "data_batch_5.bin and test_batch.bin (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)");

  t::TempDir empty;
  EXPECT_THAT(t::error_of([&] { load_dataset(empty.path(), DatasetKind::kCifar10); }),
              HasSubstr(empty.path().string() + ": no CIFAR-10 batches (no test_batch.bin, cifar-10-batches-bin/ or "
                                                "cifar-10-binary.tar.gz)"));
}

std::vector<std::pair<std::string, t::Bytes>> published_members() {
  std::vector<std::pair<std::string, t::Bytes>> members;
  members.push_back({"cifar-10-batches-bin/readme.html", {'<', 'p', '>'}});
  members.push_back({"cifar-10-batches-bin/batches.meta.txt", {}});
  const std::string names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  members.back().second.assign(names.begin(), names.end());
  for (int b = 1; b <= 5; ++b) members.push_back({"cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin", train_batch(b)});
  members.push_back({"cifar-10-batches-bin/test_batch.bin", t::cifar_batch(kTestFirst, kTestRecords)});
  return members;
}

TEST(Cifar10Archive, TheTarGzReadsLikeTheDirectory) {
  t::TempDir dir;
  const fs::path archive = dir / "cifar-10-binary.tar.gz";
  const t::Bytes bytes = t::tar_gz(published_members());
  t::write_file(archive, bytes);
  for (const fs::path& location : {archive, dir.path()}) {  // named itself, or found in its directory
    SCOPED_TRACE(location.string());
    const Dataset dataset = load_dataset(location, DatasetKind::kCifar10);
    expect_records(dataset.train, 0, 5 * kPerBatch);
    expect_records(dataset.test, kTestFirst, kTestRecords);
    EXPECT_EQ(dataset.class_names, kStandardNames);
    ASSERT_EQ(dataset.files.size(), 8u);  // the archive, six batches, the names
    EXPECT_EQ(dataset.files[0].role, "archive");
    EXPECT_EQ(dataset.files[0].sha256, sha256_hex(bytes.data(), bytes.size()));
    EXPECT_EQ(dataset.files[1].path, archive.string() + ":cifar-10-batches-bin/data_batch_1.bin");
    EXPECT_EQ(dataset.files[1].sha256, sha256_hex(train_batch(1).data(), train_batch(1).size()));
  }
  const Dataset test_only = load_dataset(archive, DatasetKind::kCifar10, DatasetSplits::kTestOnly);
  expect_records(test_only.test, kTestFirst, kTestRecords);
  EXPECT_EQ(test_only.train.count, 0);
}

TEST(Cifar10Archive, FaultsNameTheArchiveAndTheMember) {
  t::TempDir dir;
  const fs::path archive = dir / "cifar-10-binary.tar.gz";
  auto members = published_members();
  members.erase(members.begin() + 4);  // data_batch_3.bin
  t::write_file(archive, t::tar_gz(members));
  EXPECT_THAT(t::error_of([&] { load_dataset(archive, DatasetKind::kCifar10); }),
              HasSubstr(archive.string() + ": no member data_batch_3.bin; CIFAR-10's binary version has"));

  members = published_members();
  members[3].second.pop_back();  // data_batch_2.bin one byte short
  t::write_file(archive, t::tar_gz(members));
  EXPECT_THAT(t::error_of([&] { load_dataset(archive, DatasetKind::kCifar10); }),
              HasSubstr(archive.string() + ":cifar-10-batches-bin/data_batch_2.bin: 6145 bytes is not a whole number"));

  members = published_members();
  members.push_back({"elsewhere/test_batch.bin", t::cifar_batch(0, 1)});
  t::write_file(archive, t::tar_gz(members));
  EXPECT_EQ(t::error_of([&] { load_dataset(archive, DatasetKind::kCifar10); }),
            archive.string() + ": two members named test_batch.bin (cifar-10-batches-bin/test_batch.bin and "
                               "elsewhere/test_batch.bin); which one is the batch is unclear");

  t::Bytes cut = t::tar_gz(published_members());
  cut.resize(cut.size() / 2);
  t::write_file(archive, cut);
  EXPECT_THAT(t::error_of([&] { load_dataset(archive, DatasetKind::kCifar10); }), HasSubstr(archive.string() + ": "));

  t::write_file(archive, {'n', 'o', 't', ' ', 'a', 'n', ' ', 'a', 'r', 'c', 'h', 'i', 'v', 'e'});
  EXPECT_THAT(t::error_of([&] { load_dataset(archive, DatasetKind::kCifar10); }), HasSubstr(archive.string() + ": "));
}

TEST(Cifar10Records, AppendCopiesRecordsAsTheyAre) {
  ImageSet set = cifar10_image_set();
  const t::Bytes one = t::cifar_batch(7, 1);
  append_cifar10_records(one.data(), one.size(), "one", set);
  append_cifar10_records(one.data(), one.size(), "again", set);
  EXPECT_EQ(set.count, 2);
  EXPECT_EQ(set.labels, (std::vector<uint8_t>{7, 7}));
  EXPECT_TRUE(std::equal(one.begin() + 1, one.end(), set.image(1)));
}

// The tutorial model takes 1x28x28 in 10 classes: the command refuses CIFAR-10 in one line,
// before it makes a run directory.
// The default model is the tutorial's layers built on the data's images, as Keras builds a
// Sequential on its input: on CIFAR-10 its first Dense takes 32*15*15 = 7200 features.
TEST(Cifar10Command, TheDefaultModelIsTheTutorialsLayersOnTheDatasImages) {
  t::TempDir dir;
  write_batches(dir / "cifar10");
  const fs::path run = dir / "run";
  const t::MergedCommandResult result =
      t::run_command_merged(t::shell_quote(TRAIN_GPU_BINARY) + " train --dataset cifar10 --data-dir " +
                            t::shell_quote((dir / "cifar10").string()) + " --epochs 1 --device cpu --no-progress --no-tensorboard --run-dir " +
                            t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output,
                     "model: input 3x32x32 > conv(3->32,3x3,valid)+relu > maxpool2x2 > flatten(7200) > dense(128)+relu > dense(10)\n");
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "epoch-001.safetensors")) << result.output;
}

// A model made for other images (Keras's Simple MNIST convnet, 28x28x1) is refused in one line
// naming both shapes, before the run directory exists.
TEST(Cifar10Command, AModelForOtherImagesIsRefusedInOneLine) {
  t::TempDir dir;
  write_batches(dir / "cifar10");
  const fs::path run = dir / "run";
  const std::string json = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/bench/models/simple_mnist_convnet.json";
  const t::MergedCommandResult result =
      t::run_command_merged(t::shell_quote(TRAIN_GPU_BINARY) + " train --dataset cifar10 --data-dir " +
                            t::shell_quote((dir / "cifar10").string()) + " --model " + t::shell_quote(json) +
                            " --epochs 1 --device cpu --no-progress --run-dir " + t::shell_quote(run.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  t::expect_contains(result.output, "error: " + json + ": the model's input is (28, 28, 1) (1x28x28) but the data's images are "
                                    "3x32x32; change the model's input shape or the dataset\n");
  EXPECT_FALSE(fs::exists(run)) << result.output;
}

TEST(Cifar10Command, InspectShowsShapesChannelsAndClasses) {
  t::TempDir dir;
  write_batches(dir / "cifar10");
  const t::MergedCommandResult result = t::run_command_merged(
      t::shell_quote(TRAIN_GPU_BINARY) + " inspect --dataset cifar10 --data-dir " + t::shell_quote((dir / "cifar10").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output, "CIFAR-10 from " + (dir / "cifar10").string());
  t::expect_contains(result.output, "(10, 3, 32, 32)");
  t::expect_contains(result.output, "Pixels per channel (scaled to [0,1])");
  t::expect_contains(result.output, "  train  R");
  t::expect_contains(result.output, "  test   B");
  t::expect_contains(result.output, "airplane");
  t::expect_contains(result.output, "truck");
}

}  // namespace
}  // namespace train_gpu

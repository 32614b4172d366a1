#include "host/data/cifar10_dataset.h"

#include <map>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/data/cifar10_records.h"
#include "host/data/sha256.h"
#include "host/data/tar_archive.h"

namespace train_gpu {

namespace fs = std::filesystem;

namespace {

constexpr int kTrainBatches = 5;
const char* const kArchiveName = "cifar-10-binary.tar.gz";
const char* const kUnpackedFolder = "cifar-10-batches-bin";
const char* const kNamesFile = "batches.meta.txt";
const char* const kTestBatch = "test_batch.bin";

struct BatchFile {
  std::string name;  // "data_batch_1.bin"
  std::string role;  // "train batch 1"
  bool train;
};

std::vector<BatchFile> batch_files(DatasetSplits splits) {
  std::vector<BatchFile> files;
  if (splits == DatasetSplits::kBoth) {
    for (int b = 1; b <= kTrainBatches; ++b) {
      files.push_back({"data_batch_" + std::to_string(b) + ".bin", "train batch " + std::to_string(b), true});
    }
  }
  files.push_back({kTestBatch, "test batch", false});
  return files;
}

const char* const kLayout =
    "CIFAR-10's binary version has data_batch_1.bin..data_batch_5.bin and test_batch.bin "
    "(https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)";

bool present(const fs::path& path) {
  std::error_code error;
  return fs::exists(fs::symlink_status(path, error));
}

Dataset empty_dataset() {
  Dataset dataset;
  dataset.kind = DatasetKind::kCifar10;
  dataset.train = cifar10_image_set();
  dataset.test = cifar10_image_set();
  dataset.class_names = standard_class_names(DatasetKind::kCifar10);
  return dataset;
}

Dataset load_from_directory(const fs::path& directory, DatasetSplits splits) {
  Dataset dataset = empty_dataset();
  const std::vector<BatchFile> batches = batch_files(splits);
  for (const BatchFile& batch : batches) {  // every file looked for before any is read
    if (!present(directory / batch.name)) throw Error(directory.string() + ": no " + batch.name + "; " + kLayout);
  }
  for (const BatchFile& batch : batches) {
    const fs::path file = directory / batch.name;
    const std::vector<uint8_t> bytes = read_regular_file(file, "a CIFAR-10 batch file");
    append_cifar10_records(bytes.data(), bytes.size(), file.string(), batch.train ? dataset.train : dataset.test);
    dataset.files.push_back({batch.role, file, sha256_hex(bytes.data(), bytes.size()), ""});
  }
  const fs::path names_file = directory / kNamesFile;
  if (present(names_file)) {
    const std::vector<uint8_t> bytes = read_regular_file(names_file, "a text file of class names");
    dataset.class_names = parse_cifar10_class_names(std::string(bytes.begin(), bytes.end()), names_file.string());
    dataset.files.push_back({"class names", names_file, sha256_hex(bytes.data(), bytes.size()), ""});
  }
  return dataset;
}

std::string base_name(const std::string& member_path) { return fs::path(member_path).filename().string(); }

Dataset load_from_archive(const fs::path& archive_file, DatasetSplits splits) {
  Dataset dataset = empty_dataset();
  const std::vector<BatchFile> batches = batch_files(splits);
  std::map<std::string, const BatchFile*> by_name;
  for (const BatchFile& batch : batches) by_name[batch.name] = &batch;
  const ArchiveContents contents = read_tar_archive(archive_file, [&](const std::string& path) {
    const std::string name = base_name(path);
    return by_name.count(name) > 0 || name == kNamesFile;
  });
  std::map<std::string, const ArchiveMember*> members;
  for (const ArchiveMember& member : contents.members) {
    const auto [it, inserted] = members.emplace(base_name(member.path), &member);
    if (!inserted) {
      throw Error(archive_file.string() + ": two members named " + it->first + " (" + it->second->path + " and " +
                  member.path + "); which one is the batch is unclear");
    }
  }
  dataset.files.push_back({"archive", archive_file, contents.sha256, ""});
  for (const BatchFile& batch : batches) {
    const auto found = members.find(batch.name);
    if (found == members.end()) throw Error(archive_file.string() + ": no member " + batch.name + "; " + kLayout);
    const ArchiveMember& member = *found->second;
    const std::string where = archive_file.string() + ":" + member.path;
    append_cifar10_records(member.bytes.data(), member.bytes.size(), where, batch.train ? dataset.train : dataset.test);
    dataset.files.push_back({batch.role, where, sha256_hex(member.bytes.data(), member.bytes.size()), ""});
  }
  const auto names = members.find(kNamesFile);
  if (names != members.end()) {
    const ArchiveMember& member = *names->second;
    const std::string where = archive_file.string() + ":" + member.path;
    dataset.class_names = parse_cifar10_class_names(std::string(member.bytes.begin(), member.bytes.end()), where);
    dataset.files.push_back({"class names", where, sha256_hex(member.bytes.data(), member.bytes.size()), ""});
  }
  return dataset;
}

}  // namespace

Dataset load_cifar10_dataset(const fs::path& location, DatasetSplits splits) {
  std::error_code error;
  if (fs::is_regular_file(location, error)) return load_from_archive(location, splits);
  for (const BatchFile& batch : batch_files(DatasetSplits::kBoth)) {
    if (present(location / batch.name)) return load_from_directory(location, splits);  // it names any missing one
  }
  if (fs::is_directory(location / kUnpackedFolder, error)) return load_from_directory(location / kUnpackedFolder, splits);
  if (present(location / kArchiveName)) return load_from_archive(location / kArchiveName, splits);
  throw Error(location.string() + ": no CIFAR-10 batches (no " + kTestBatch + ", " + kUnpackedFolder + "/ or " +
              kArchiveName + "); " + kLayout);
}

}  // namespace train_gpu

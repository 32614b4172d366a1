#include "host/data/idx_dataset.h"

#include <algorithm>
#include <array>
#include <future>

#include "host/common/error.h"
#include "host/data/idx_reader.h"

namespace train_gpu {

namespace fs = std::filesystem;

namespace {

// MNIST's and Fashion-MNIST's class count; an idx set's labels may go up to 255.
constexpr int kStandardClasses = 10;
constexpr int kMostClasses = 256;

struct KnownFile {
  DatasetKind kind;
  const char* role;
  const char* sha256;
};

// sha256 of the public files, as stored. MNIST: the canonical .gz files (torchvision's and
// Keras's mirrors serve the same bytes) and their decompressed contents, as listed in
// shared/data/mnist/SHA256SUMS. Fashion-MNIST: the .gz files Zalando publishes (the sums Keras
// and TFDS pin); the Debian package dataset-fashion-mnist (0.0~git20200523) re-wraps the same
// deflate streams in gzip headers without the file name, hence a second set (their sizes differ
// by exactly the file name's length, and they decompress to the same bytes); and the
// decompressed files, whose sums were taken from those streams.
constexpr std::array<KnownFile, 20> kKnownFiles{{
    {DatasetKind::kMnist, "train images", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
    {DatasetKind::kMnist, "train labels", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
    {DatasetKind::kMnist, "test images", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
    {DatasetKind::kMnist, "test labels", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
    {DatasetKind::kMnist, "train images", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
    {DatasetKind::kMnist, "train labels", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
    {DatasetKind::kMnist, "test images", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
    {DatasetKind::kMnist, "test labels", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
    {DatasetKind::kFashionMnist, "train images", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"},
    {DatasetKind::kFashionMnist, "train labels", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"},
    {DatasetKind::kFashionMnist, "test images", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"},
    {DatasetKind::kFashionMnist, "test labels", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
    {DatasetKind::kFashionMnist, "train images", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"},
    {DatasetKind::kFashionMnist, "train labels", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"},
    {DatasetKind::kFashionMnist, "test images", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"},
    {DatasetKind::kFashionMnist, "test labels", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"},
    {DatasetKind::kFashionMnist, "train images", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
    {DatasetKind::kFashionMnist, "train labels", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
    {DatasetKind::kFashionMnist, "test images", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
    {DatasetKind::kFashionMnist, "test labels", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
}};

// "MNIST train images, verified", with a note when a known file sits where another was expected.
std::string recognize(const std::string& sha256, DatasetKind kind, const std::string& role) {
  for (const KnownFile& known : kKnownFiles) {
    if (sha256 != known.sha256) continue;
    std::string text = dataset_display_name(known.kind) + " " + known.role + ", verified";
    if (known.kind != kind || role != known.role) {
      text += " (but loaded as " + dataset_display_name(kind) + " " + role + ")";
    }
    return text;
  }
  return "";
}

struct Split {
  IdxImages images;
  IdxLabels labels;
};

// Reads one split's two files and checks they belong together.
Split load_split(const fs::path& images_file, const fs::path& labels_file, int num_classes) {
  Split split{read_idx_images(images_file), read_idx_labels(labels_file, num_classes)};
  const auto label_count = static_cast<int64_t>(split.labels.labels.size());
  if (label_count != split.images.count) {
    throw Error(labels_file.string() + ": " + std::to_string(label_count) + " labels, but " + images_file.string() +
                " has " + std::to_string(split.images.count) + " images; the two files must match one to one");
  }
  return split;
}

ImageSet to_image_set(Split&& split) {
  ImageSet set;
  set.count = split.images.count;
  set.rows = split.images.rows;
  set.cols = split.images.cols;
  set.pixels = std::move(split.images.pixels);
  set.labels = std::move(split.labels.labels);
  return set;
}

int max_label(const ImageSet& set) {
  return set.labels.empty() ? -1 : *std::max_element(set.labels.begin(), set.labels.end());
}

}  // namespace

Dataset load_idx_dataset(const fs::path& directory, DatasetKind kind, DatasetSplits splits) {
  const int num_classes = kind == DatasetKind::kIdx ? kMostClasses : kStandardClasses;
  Dataset dataset;
  dataset.kind = kind;
  fs::path test_images_file;
  if (splits == DatasetSplits::kTestOnly) {
    test_images_file = find_idx_file(directory, "t10k-images", 3, "test images");
    const fs::path test_labels = find_idx_file(directory, "t10k-labels", 1, "test labels");
    Split test = load_split(test_images_file, test_labels, num_classes);
    dataset.files = {{"test images", test_images_file, test.images.sha256, ""},
                     {"test labels", test_labels, test.labels.sha256, ""}};
    dataset.test = to_image_set(std::move(test));
    dataset.train.rows = dataset.test.rows;  // an empty split of the same shape
    dataset.train.cols = dataset.test.cols;
  } else {
    // Every file is looked up before any is read, so a missing one is reported at once.
    const fs::path train_images = find_idx_file(directory, "train-images", 3, "train images");
    const fs::path train_labels = find_idx_file(directory, "train-labels", 1, "train labels");
    test_images_file = find_idx_file(directory, "t10k-images", 3, "test images");
    const fs::path test_labels = find_idx_file(directory, "t10k-labels", 1, "test labels");

    // The test split (1/6 of the bytes) decodes on a second thread while this one does the train
    // split; an Error there is rethrown by get(), after the train split's own checks.
    std::future<Split> test_future =
        std::async(std::launch::async, load_split, test_images_file, test_labels, num_classes);
    Split train = load_split(train_images, train_labels, num_classes);
    Split test = test_future.get();
    dataset.files = {
        {"train images", train_images, train.images.sha256, ""},
        {"train labels", train_labels, train.labels.sha256, ""},
        {"test images", test_images_file, test.images.sha256, ""},
        {"test labels", test_labels, test.labels.sha256, ""},
    };
    dataset.train = to_image_set(std::move(train));
    dataset.test = to_image_set(std::move(test));
    if (dataset.test.rows != dataset.train.rows || dataset.test.cols != dataset.train.cols) {
      throw Error(test_images_file.string() + ": images are " + std::to_string(dataset.test.rows) + "x" +
                  std::to_string(dataset.test.cols) + ", but the train images (" + train_images.string() + ") are " +
                  std::to_string(dataset.train.rows) + "x" + std::to_string(dataset.train.cols) +
                  "; both splits must have one size");
    }
  }
  // At least ten: a set (or a test split read alone, as evaluate does) whose labels happen to stop
  // below 9 is still a set of the ten classes MNIST-format files usually hold, and fits a
  // ten-class model; only labels past 9 (EMNIST-style) make it more.
  const int classes = kind == DatasetKind::kIdx
                          ? std::max({kStandardClasses, max_label(dataset.train) + 1, max_label(dataset.test) + 1})
                          : kStandardClasses;
  dataset.train.classes = dataset.test.classes = classes;
  dataset.class_names = kind == DatasetKind::kIdx ? numbered_class_names(classes) : standard_class_names(kind);
  for (DatasetFile& file : dataset.files) file.recognized = recognize(file.sha256, kind, file.role);
  return dataset;
}

}  // namespace train_gpu

#include "host/data/image_folder_dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>
#include <optional>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/data/sha256.h"
#include "host/predict/jpeg_input.h"
#include "host/predict/png_input.h"

namespace train_gpu {

namespace fs = std::filesystem;

namespace {

// Labels are uint8 (ImageSet), so 256 class folders at most.
constexpr std::size_t kMostClasses = 256;
// A line on stderr every this many pictures, so a long load shows it is moving.
constexpr int64_t kProgressEvery = 5000;

const char* const kLayout = "expected DIR/train/<class>/ and DIR/test/<class>/ folders of .png/.jpg/.jpeg pictures";

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

enum class Format { kPng, kJpeg, kOther };

Format format_of(const fs::path& file) {
  const std::string extension = lowercase(file.extension().string());
  if (extension == ".png") return Format::kPng;
  if (extension == ".jpg" || extension == ".jpeg") return Format::kJpeg;
  return Format::kOther;
}

predict::RgbaPicture decode_picture(const fs::path& file, const std::vector<uint8_t>& bytes) {
  return format_of(file) == Format::kPng ? predict::decode_png_rgba(bytes, file.string())
                                         : predict::decode_jpeg_rgba(bytes, file.string());
}

void check_split_directory(const fs::path& split_directory) {
  std::error_code error;
  if (!fs::is_directory(split_directory, error)) {
    throw Error(split_directory.string() + ": " + (fs::exists(split_directory, error) ? "not a directory" : "no such directory") +
                "; " + kLayout);
  }
}

// The class folders of a split, sorted.
std::vector<std::string> class_folders(const fs::path& split_directory) {
  check_split_directory(split_directory);
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(split_directory, error), end; !error && it != end; it.increment(error)) {
    if (it->is_directory(error)) names.push_back(it->path().filename().string());
  }
  if (error) throw Error(split_directory.string() + ": cannot list: " + error.message());
  std::sort(names.begin(), names.end());
  if (names.empty()) throw Error(split_directory.string() + ": no class folders; " + kLayout);
  if (names.size() > kMostClasses) {
    throw Error(split_directory.string() + ": " + std::to_string(names.size()) + " class folders; at most " +
                std::to_string(kMostClasses) + " classes are supported");
  }
  return names;
}

// The pictures below one class folder, sorted by their path within it.
std::vector<fs::path> pictures_in(const fs::path& class_directory) {
  std::vector<fs::path> files;
  std::error_code error;
  for (fs::recursive_directory_iterator it(class_directory, fs::directory_options::follow_directory_symlink, error), end;
       !error && it != end; it.increment(error)) {
    if (format_of(it->path()) != Format::kOther && !it->is_directory(error)) files.push_back(it->path());
  }
  if (error) throw Error(class_directory.string() + ": cannot list: " + error.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(class_directory.string() + ": no .png, .jpg or .jpeg pictures in this class folder");
  return files;
}

std::string list(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

void check_same_classes(const fs::path& directory, const std::vector<std::string>& train, const std::vector<std::string>& test) {
  if (train == test) return;
  std::vector<std::string> missing, extra;
  std::set_difference(train.begin(), train.end(), test.begin(), test.end(), std::back_inserter(missing));
  std::set_difference(test.begin(), test.end(), train.begin(), train.end(), std::back_inserter(extra));
  std::string what = (directory / "test").string() + ": its class folders differ from " + (directory / "train").string() + "'s:";
  if (!missing.empty()) what += " missing in test: " + list(missing) + ";";
  if (!extra.empty()) what += " only in test: " + list(extra) + ";";
  throw Error(what + " both splits need the same classes");
}

// What every picture must match: the first train picture's size and channel count.
struct Shape {
  int channels = 0;
  int width = 0;
  int height = 0;
  fs::path first;
};

// Appends one picture to `set` in planar (C, H, W) order, converted to `shape.channels`.
void append_picture(const predict::RgbaPicture& picture, const Shape& shape, ImageSet& set) {
  const std::size_t plane = static_cast<std::size_t>(shape.width) * static_cast<std::size_t>(shape.height);
  const std::size_t start = set.pixels.size();
  set.pixels.resize(start + plane * static_cast<std::size_t>(shape.channels));
  uint8_t* out = set.pixels.data() + start;
  for (std::size_t p = 0; p < plane; ++p) {
    const uint8_t* rgba = picture.pixels.data() + 4 * p;
    if (shape.channels == 3) {
      for (std::size_t c = 0; c < 3; ++c) out[c * plane + p] = rgba[c];  // a gray picture's R=G=B already
    } else if (!picture.colour) {
      out[p] = rgba[0];
    } else {
      out[p] = static_cast<uint8_t>(std::lround(0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]));
    }
  }
}

struct SplitLoad {
  ImageSet set;
  std::vector<DatasetFile> files;
};

void load_split(const fs::path& split_directory, const std::string& split, const std::vector<std::string>& classes,
                std::optional<Shape>& shape, SplitLoad& load) {
  std::vector<std::vector<fs::path>> pictures;
  int64_t total = 0;
  for (const std::string& name : classes) {
    pictures.push_back(pictures_in(split_directory / name));
    total += static_cast<int64_t>(pictures.back().size());
  }
  int64_t done = 0;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const fs::path class_directory = split_directory / classes[c];
    // The folder's digest is that of its sha256sum-style listing ("<sha256>  <path>\n" per
    // picture, paths relative to the class folder), so it changes when any picture does.
    std::string listing;
    for (const fs::path& file : pictures[c]) {
      const std::vector<uint8_t> bytes = read_regular_file(file, "a PNG or JPEG picture");
      const predict::RgbaPicture picture = decode_picture(file, bytes);
      if (!shape) shape = Shape{picture.colour ? 3 : 1, picture.width, picture.height, file};
      if (picture.width != shape->width || picture.height != shape->height) {
        throw Error(file.string() + ": " + std::to_string(picture.width) + "x" + std::to_string(picture.height) +
                    " pixels, but the set's first picture (" + shape->first.string() + ") is " +
                    std::to_string(shape->width) + "x" + std::to_string(shape->height) +
                    "; every picture of a folder set must have one size (resize them first)");
      }
      append_picture(picture, *shape, load.set);
      load.set.labels.push_back(static_cast<uint8_t>(c));
      listing += sha256_hex(bytes.data(), bytes.size()) + "  " + file.lexically_relative(class_directory).string() + "\n";
      ++done;
      if (done % kProgressEvery == 0) std::cerr << "  " << split << ": " << done << "/" << total << " pictures read\n";
    }
    load.files.push_back({split + " class " + classes[c] + " (" + std::to_string(pictures[c].size()) + " pictures)",
                          class_directory, sha256_hex(listing), ""});
  }
  load.set.count = static_cast<int64_t>(load.set.labels.size());
  load.set.channels = shape->channels;
  load.set.rows = shape->height;
  load.set.cols = shape->width;
  load.set.classes = static_cast<int>(classes.size());
}

}  // namespace

Dataset load_image_folder_dataset(const fs::path& directory, DatasetSplits splits) {
  const std::vector<std::string> classes = class_folders(directory / "train");
  check_same_classes(directory, classes, class_folders(directory / "test"));
  Dataset dataset;
  dataset.kind = DatasetKind::kFolder;
  dataset.class_names = classes;
  std::optional<Shape> shape;
  SplitLoad train, test;
  if (splits == DatasetSplits::kBoth) {
    load_split(directory / "train", "train", classes, shape, train);
  } else {
    // The set's shape is its first train picture's even when only the test split is read.
    const fs::path first = pictures_in(directory / "train" / classes.front()).front();
    const predict::RgbaPicture picture = decode_picture(first, read_regular_file(first, "a PNG or JPEG picture"));
    shape = Shape{picture.colour ? 3 : 1, picture.width, picture.height, first};
  }
  load_split(directory / "test", "test", classes, shape, test);
  if (splits == DatasetSplits::kTestOnly) {
    train.set = test.set;  // an empty split of the same shape
    train.set.count = 0;
    train.set.pixels.clear();
    train.set.labels.clear();
  }
  dataset.train = std::move(train.set);
  dataset.test = std::move(test.set);
  dataset.files = std::move(train.files);
  dataset.files.insert(dataset.files.end(), test.files.begin(), test.files.end());
  return dataset;
}

}  // namespace train_gpu

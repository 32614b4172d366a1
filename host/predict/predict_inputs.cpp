#include "host/predict/predict_inputs.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/data/idx_reader.h"
#include "host/eval/npy_reader.h"
#include "host/model/model_spec.h"
#include "host/predict/digit_normalizer.h"
#include "host/predict/jpeg_input.h"
#include "host/predict/model_input.h"
#include "host/predict/png_input.h"

namespace train_gpu::predict {

namespace {

namespace fs = std::filesystem;
constexpr int kSide = model::kImageSide;
constexpr size_t kPixels = model::kImagePixels;
constexpr const char* kWhatPredictReads = "a PNG or JPEG picture, a .npy array or an IDX images file";

enum class FileKind { kPng, kJpeg, kNpy, kIdxImages, kIdxLabels, kIdxOther, kGzip, kEmpty, kUnknown };

// The element type an IDX magic's third byte names (the IDX format's table); empty when none.
std::string idx_element_type(unsigned char code) {
  switch (code) {
    case 0x08: return "unsigned bytes";
    case 0x09: return "signed bytes";
    case 0x0B: return "16-bit integers";
    case 0x0C: return "32-bit integers";
    case 0x0D: return "32-bit floats";
    case 0x0E: return "64-bit floats";
    default: return "";
  }
}

// What `file` is, by its first bytes; `head` receives up to 8 of them.
FileKind sniff(const fs::path& file, unsigned char (&head)[8]) {
  const RegularFile opened = open_regular_file(file, kWhatPredictReads);
  const size_t got = read_up_to(opened.descriptor.get(), head, sizeof head, file);
  if (got == 0) return FileKind::kEmpty;
  if (got == 8 && std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) return FileKind::kPng;
  // SOI then the first marker's 0xFF: every JPEG (JFIF, Exif, raw) starts so.
  if (got >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return FileKind::kJpeg;
  if (got >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0) return FileKind::kNpy;
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) return FileKind::kGzip;
  if (got >= 4 && head[0] == 0 && head[1] == 0 && head[2] == 0x08 && head[3] == 0x03) return FileKind::kIdxImages;
  if (got >= 4 && head[0] == 0 && head[1] == 0 && head[2] == 0x08 && head[3] == 0x01) return FileKind::kIdxLabels;
  if (got >= 4 && head[0] == 0 && head[1] == 0 && !idx_element_type(head[2]).empty() && head[3] > 0) return FileKind::kIdxOther;
  return FileKind::kUnknown;
}

PredictInput failed(const std::string& name, const std::string& error) {
  PredictInput input;
  input.name = name;
  input.error = error;
  return input;
}

std::string indexed(const fs::path& file, int64_t index) { return file.filename().string() + "[" + std::to_string(index) + "]"; }

// The images of a multi-image file that `indices` asks for (all when empty); an index outside
// the file becomes an input with an error.
template <typename MakeInput>
std::vector<PredictInput> pick(const fs::path& file, int64_t count, const std::vector<int64_t>& indices, MakeInput make) {
  std::vector<PredictInput> inputs;
  if (indices.empty()) {
    for (int64_t i = 0; i < count; ++i) inputs.push_back(make(i));
    return inputs;
  }
  for (const int64_t i : indices) {
    if (i < 0 || i >= count) {
      inputs.push_back(failed(indexed(file, i), "--index " + std::to_string(i) + " is outside " + file.filename().string() +
                                                    " (" + std::to_string(count) + " images: 0.." + std::to_string(count - 1) + ")"));
    } else {
      inputs.push_back(make(i));
    }
  }
  return inputs;
}

model::Shape digit_shape() { return {1, kSide, kSide}; }

// --index picks among the images of multi-image files, and a command line may mix those with
// single pictures; a file of one image is predicted as it is, and its steps say that --index
// did not apply to it rather than ignoring it in silence.
void note_index_for_single_image(PredictInput& input, const std::vector<int64_t>& indices, const std::string& what) {
  if (indices.empty()) return;
  input.steps.insert(input.steps.begin(), what + " holds one image: --index applies to multi-image files only");
}

// A PNG or JPEG picture, read by `read` into RGBA and made to look like an MNIST digit for the
// tutorial's input, or resized to any other.
std::vector<PredictInput> picture_inputs(const fs::path& file, const std::vector<int64_t>& indices,
                                         RgbaPicture (*read)(const fs::path&), const std::string& what,
                                         const model::Shape& shape) {
  PredictInput input;
  input.name = file.filename().string();
  input.shape = shape;
  try {
    if (shape == digit_shape()) {
      NormalizedDigit digit = normalize_digit(read(file));
      input.pixels = std::move(digit.pixels);
      input.steps = std::move(digit.steps);
    } else {
      ModelPicture picture = picture_for_model(read(file), shape);
      input.pixels = std::move(picture.pixels);
      input.steps = std::move(picture.steps);
    }
    note_index_for_single_image(input, indices, what);
  } catch (const Error& e) {
    // The readers name the file already; normalize_digit's messages do not.
    const std::string message = e.what();
    input.error = message.rfind(file.string(), 0) == 0 ? message : file.string() + ": " + message;
  }
  return {input};
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text;
  for (const int64_t dim : shape) text += (text.empty() ? "" : ",") + std::to_string(dim);
  return "(" + text + (shape.size() == 1 ? ",)" : ")");
}

std::vector<PredictInput> npy_inputs(const fs::path& file, const std::vector<int64_t>& indices) {
  const eval::NpyArray array = eval::read_npy(file);
  const std::vector<int64_t>& s = array.shape;
  int64_t count = -1;
  bool single = false;
  if (s.size() == 2 && s[0] == kSide && s[1] == kSide) {
    count = 1;
    single = true;
  } else if ((s.size() == 3 && s[1] == kSide && s[2] == kSide) || (s.size() == 2 && s[1] == int64_t(kPixels)) ||
             (s.size() == 4 && s[1] == 1 && s[2] == kSide && s[3] == kSide) ||
             (s.size() == 4 && s[1] == kSide && s[2] == kSide && s[3] == 1)) {
    count = s[0];
  } else {
    throw Error(file.string() + ": shape " + shape_text(s) +
                "; predict takes (28,28), (N,28,28), (N,1,28,28), (N,28,28,1) or (N,784) arrays");
  }
  if (count == 0) throw Error(file.string() + ": shape " + shape_text(s) + " holds no images");

  double low = 0, high = 0;
  for (const double value : array.values) {
    if (!std::isfinite(value)) throw Error(file.string() + ": holds NaN or infinite values");
    low = std::min(low, value);
    high = std::max(high, value);
  }
  std::string step = shape_text(s) + " " + array.descr + ": ";
  double scale = 1;
  if (array.descr == "|u1" || array.descr == "<u1" || array.descr == "u1") {
    step += "bytes used as they are";
  } else if (low < 0 || high > 255) {
    throw Error(file.string() + ": float values from " + std::to_string(low) + " to " + std::to_string(high) +
                "; predict takes pixels in [0,1] (x / 255) or [0,255]");
  } else if (high <= 1) {
    scale = 255;
    step += "floats in [0,1] (pixels / 255) scaled by 255 and rounded to bytes";
  } else {
    step += "floats in [0,255] rounded to bytes";
  }
  const auto make = [&](int64_t i) {
    PredictInput input;
    input.name = single ? file.filename().string() : indexed(file, i);
    input.pixels.resize(kPixels);
    for (size_t p = 0; p < kPixels; ++p) {
      input.pixels[p] = static_cast<uint8_t>(std::lround(array.values[static_cast<size_t>(i) * kPixels + p] * scale));
    }
    input.steps = {step, "taken as MNIST-style already (light digit on black, centred): nothing else done"};
    return input;
  };
  if (single) {
    PredictInput input = make(0);
    note_index_for_single_image(input, indices, "a (28,28) array");
    return {input};
  }
  return pick(file, count, indices, make);
}

// The labels file beside an images file, by MNIST's naming: "images" -> "labels", "idx3" ->
// "idx1" in the file name. Empty when there is none; anything of that name counts, so that a
// directory or FIFO there is reported as ignored rather than passed over in silence.
fs::path labels_beside(const fs::path& images) {
  std::string name = images.filename().string();
  const size_t what = name.find("images");
  const size_t rank = name.find("idx3");
  if (what == std::string::npos || rank == std::string::npos) return {};
  name.replace(what, 6, "labels");
  name.replace(name.find("idx3"), 4, "idx1");
  const fs::path labels = images.parent_path() / name;
  std::error_code ignored;
  return fs::exists(fs::symlink_status(labels, ignored)) ? labels : fs::path();
}

// The labels beside `file` for its `count` images, or none with `note` saying why they were
// ignored: they are optional for predict, so a damaged labels file must not cost the images.
std::vector<uint8_t> optional_labels(const fs::path& file, int64_t count, std::string& note) {
  const fs::path labels_file = labels_beside(file);
  if (labels_file.empty()) return {};
  try {
    std::vector<uint8_t> labels = read_idx_labels(labels_file, model::kClasses).labels;
    if (static_cast<int64_t>(labels.size()) == count) {
      note = "label from " + labels_file.filename().string();
      return labels;
    }
    note = "labels ignored: " + labels_file.string() + " has " + std::to_string(labels.size()) + " labels for " +
           std::to_string(count) + " images";
  } catch (const Error& e) {
    note = std::string("labels ignored: ") + e.what();
  }
  return {};
}

std::vector<PredictInput> idx_inputs(const fs::path& file, const std::vector<int64_t>& indices) {
  const IdxImages images = read_idx_images(file);
  if (images.rows != kSide || images.cols != kSide) {
    throw Error(file.string() + ": " + std::to_string(images.rows) + "x" + std::to_string(images.cols) +
                " images; the model takes 28x28");
  }
  std::string labels_note;
  const std::vector<uint8_t> labels = optional_labels(file, images.count, labels_note);
  const std::string step = "28x28 bytes from an IDX file, used as they are" + (labels_note.empty() ? "" : "; " + labels_note);
  return pick(file, images.count, indices, [&](int64_t i) {
    PredictInput input;
    input.name = indexed(file, i);
    input.pixels.assign(images.pixels.begin() + i * int64_t(kPixels), images.pixels.begin() + (i + 1) * int64_t(kPixels));
    input.steps = {step};
    if (!labels.empty()) input.label = labels[static_cast<size_t>(i)];
    return input;
  });
}

}  // namespace

std::vector<PredictInput> load_predict_inputs(const fs::path& file, const std::vector<int64_t>& indices,
                                              const model::Shape& input) {
  try {
    unsigned char head[8] = {};
    const FileKind kind = sniff(file, head);
    if ((kind == FileKind::kNpy || kind == FileKind::kIdxImages || kind == FileKind::kGzip) && input != digit_shape()) {
      throw Error(file.string() + ": .npy and IDX inputs are 28x28 digits, for 1x28x28 models; this model takes " +
                  model::to_string(input) + " (channels x height x width): give PNG or JPEG pictures, which are resized");
    }
    switch (kind) {
      case FileKind::kPng:
        return picture_inputs(file, indices, read_png_rgba, "a PNG", input);
      case FileKind::kJpeg:
        return picture_inputs(file, indices, read_jpeg_rgba, "a JPEG", input);
      case FileKind::kNpy:
        return npy_inputs(file, indices);
      case FileKind::kIdxImages:
        return idx_inputs(file, indices);
      case FileKind::kGzip:
        if (file.extension() != ".gz") {
          throw Error(file.string() + ": gzip data in a file not named .gz; name it .gz if it is an IDX images file");
        }
        return idx_inputs(file, indices);
      case FileKind::kIdxLabels:
        throw Error(file.string() + ": an IDX labels file; pass the images file (its labels are found beside it)");
      case FileKind::kIdxOther: {
        char magic[16];
        std::snprintf(magic, sizeof magic, "0x%02x%02x%02x%02x", head[0], head[1], head[2], head[3]);
        throw Error(file.string() + ": an IDX file of " + idx_element_type(head[2]) + " with " + std::to_string(head[3]) +
                    " dimension" + (head[3] == 1 ? "" : "s") + " (magic " + magic +
                    "); predict takes IDX images files of unsigned bytes with 3 dimensions (magic 0x00000803)");
      }
      case FileKind::kEmpty:
        throw Error(file.string() + ": empty file (0 bytes)");
      case FileKind::kUnknown:
        break;
    }
    throw Error(file.string() + ": not " + kWhatPredictReads);
  } catch (const Error& e) {
    return {failed(file.filename().string(), e.what())};
  }
}

}  // namespace train_gpu::predict

#include "host/train/checkpoint_metadata.h"

#include <zlib.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>

#include "host/common/error.h"
#include "host/data/dataset.h"
#include "host/model/keras_json.h"
#include "host/model/model_spec.h"

namespace train_gpu {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
// train_command.cpp's --batch-size range; the image count is an int32 (epoch_permutation).
constexpr int64_t kMaxBatchSize = 65536;
constexpr int64_t kMaxTrainCount = std::numeric_limits<int32_t>::max();
// The trainer's keys (trainer.cpp), as stored: with kExtraPrefix.
constexpr const char* kBatchSizeKey = "x.batch_size";
constexpr const char* kTrainCountKey = "x.train_count";
constexpr const char* kPartialKeys[] = {"x.partial.batch_loss_sum", "x.partial.sample_loss_sum", "x.partial.batches",
                                        "x.partial.samples", "x.partial.correct", "x.partial.confusion"};

std::string range_text(int64_t low, int64_t high) {
  return "an integer from " + std::to_string(low) + " to " + std::to_string(high);
}

// Reads fields of one checkpoint's metadata; every complaint names the field, what it holds and
// what was expected.
class FieldReader {
 public:
  FieldReader(const safetensors::Metadata& metadata, const std::string& where) : metadata_(metadata), where_(where) {}

  const std::string* find(const std::string& key) const {
    const auto found = metadata_.find(key);
    return found == metadata_.end() ? nullptr : &found->second;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    const std::string* text = find(key);
    if (text == nullptr) throw Error(where_ + "metadata field '" + key + "' is missing, expected " + expected);
    // A long value (a damaged confusion matrix) is cut so that the message stays one line.
    const std::string shown = text->size() <= 60 ? *text : text->substr(0, 40) + "... (" + std::to_string(text->size()) + " characters)";
    throw Error(where_ + "metadata field '" + key + "' is '" + shown + "', expected " + expected);
  }

  const std::string& text(const std::string& key, const std::string& expected) const {
    const std::string* text = find(key);
    if (text == nullptr) fail(key, expected);
    return *text;
  }

  int64_t integer(const std::string& key, int64_t low, int64_t high, const std::string& why = "") const {
    return parsed_integer(key, text(key, range_text(low, high) + why), low, high, why);
  }

  std::optional<int64_t> optional_integer(const std::string& key, int64_t low, int64_t high) const {
    const std::string* text = find(key);
    if (text == nullptr) return std::nullopt;
    return parsed_integer(key, *text, low, high, "");
  }

  uint64_t unsigned_integer(const std::string& key) const {
    const std::string expected = "an integer from 0 to " + std::to_string(std::numeric_limits<uint64_t>::max());
    const std::string& value_text = text(key, expected);
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
    if (value_text.empty() || error != std::errc() || end != value_text.data() + value_text.size()) fail(key, expected);
    return value;
  }

  double finite_number(const std::string& key) const {
    const char* expected = "a finite number";
    const std::string& value_text = text(key, expected);
    double value = 0;
    const auto [end, error] = std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
    if (value_text.empty() || error != std::errc() || end != value_text.data() + value_text.size() || !std::isfinite(value)) {
      fail(key, expected);
    }
    return value;
  }

 private:
  int64_t parsed_integer(const std::string& key, const std::string& value_text, int64_t low, int64_t high,
                         const std::string& why) const {
    int64_t value = 0;
    const auto [end, error] = std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
    if (value_text.empty() || error != std::errc() || end != value_text.data() + value_text.size() || value < low ||
        value > high) {
      fail(key, range_text(low, high) + why);
    }
    return value;
  }

  const safetensors::Metadata& metadata_;
  const std::string& where_;
};

// A mid-epoch checkpoint's running totals of the epoch so far (trainer.cpp, totals_to_extra): all
// six or none, and consistent with the position and with each other.
void check_partial_totals(const FieldReader& fields, int64_t batches_into_epoch, std::optional<int64_t> batch_size,
                          bool trainer_checkpoint) {
  bool any = false;
  for (const char* key : kPartialKeys) any = any || fields.find(key) != nullptr;
  // A trainer checkpoint (it has x.batch_size and x.train_count) taken mid-epoch must have them,
  // or the resumed epoch's metrics would silently count only the batches after the resume.
  if (!any && (batches_into_epoch == 0 || !trainer_checkpoint)) return;
  fields.finite_number("x.partial.batch_loss_sum");
  fields.finite_number("x.partial.sample_loss_sum");
  const std::string batches_expected = std::to_string(batches_into_epoch) + " (the batches_into_epoch)";
  if (fields.integer("x.partial.batches", 0, kInt64Max, " equal to " + batches_expected) != batches_into_epoch) {
    fields.fail("x.partial.batches", batches_expected);
  }
  const int64_t most_samples =
      batch_size && batches_into_epoch <= kInt64Max / *batch_size ? batches_into_epoch * *batch_size : kInt64Max;
  const int64_t samples = fields.integer("x.partial.samples", 0, most_samples);
  fields.integer("x.partial.correct", 0, samples, " (at most x.partial.samples)");

  const char* key = "x.partial.confusion";
  // classes x classes counts, for any class count a dataset may have (2..256; labels are uint8).
  const std::string expected = "a square number (classes x classes, 4 to 65536) of counts separated by spaces, adding up "
                               "to x.partial.samples (" + std::to_string(samples) + ")";
  const std::string& confusion = fields.text(key, expected);
  int64_t cells = 0;
  int64_t total = 0;
  for (std::size_t start = 0;;) {
    const std::size_t space = confusion.find(' ', start);
    const char* const first = confusion.data() + start;
    const char* const last = confusion.data() + (space == std::string::npos ? confusion.size() : space);
    int64_t cell = -1;
    const auto [end, error] = std::from_chars(first, last, cell);
    if (first == last || error != std::errc() || end != last || cell < 0 || cell > samples - total) fields.fail(key, expected);
    if (++cells > 256 * 256) fields.fail(key, expected);
    total += cell;
    if (space == std::string::npos) break;
    start = space + 1;
  }
  int64_t classes = 2;
  while (classes * classes < cells) ++classes;
  if (classes * classes != cells || classes > 256 || total != samples) fields.fail(key, expected);
}

}  // namespace

std::string metadata_checksum(const safetensors::Metadata& metadata) {
  uint32_t crc = crc32_update(0, nullptr, 0);
  const char separator = 0;
  for (const auto& [key, value] : metadata) {
    if (key == kMetadataCrcKey) continue;
    crc = crc32_update(crc, key.data(), key.size());
    crc = crc32_update(crc, &separator, 1);
    crc = crc32_update(crc, value.data(), value.size());
    crc = crc32_update(crc, &separator, 1);
  }
  return hex32(crc);
}

uint32_t crc32_update(uint32_t crc, const void* data, std::size_t size) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

std::string hex32(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(value));
  return text;
}

safetensors::Metadata checkpoint_metadata_to_write(const Checkpoint& checkpoint, const std::string& data_crc32) {
  const CheckpointMetadata& meta = checkpoint.metadata;
  safetensors::Metadata metadata = {
      {"format", kCheckpointFormat},
      {"step", std::to_string(checkpoint.state.step)},
      {"epoch", std::to_string(meta.epoch)},
      {"batches_into_epoch", std::to_string(meta.batches_into_epoch)},
      {"seed", std::to_string(meta.seed)},
      {"dataset", meta.dataset},
      {"model", checkpoint.spec.description()},
      {kKerasModelKey, model::keras_json(checkpoint.spec)},
      {"data_crc32", data_crc32},
  };
  for (const auto& [key, value] : meta.extra) metadata[kExtraPrefix + key] = value;
  metadata[kMetadataCrcKey] = metadata_checksum(metadata);
  return metadata;
}

void verify_metadata_checksum(const safetensors::Metadata& metadata, const std::string& where) {
  const auto stored = metadata.find(kMetadataCrcKey);
  if (stored == metadata.end()) return;
  const std::string actual = metadata_checksum(metadata);
  if (stored->second != actual) {
    throw Error(where + "metadata checksum mismatch: the metadata is corrupt or was edited (expected crc32 " +
                stored->second + ", found " + actual + ")");
  }
}

void read_checkpoint_metadata(const safetensors::Metadata& metadata, const std::string& where, Checkpoint& checkpoint) {
  const FieldReader fields(metadata, where);
  CheckpointMetadata& meta = checkpoint.metadata;
  meta.model = fields.text("model", "the model description");
  meta.seed = fields.unsigned_integer("seed");
  const char* const kinds = "mnist, fashion-mnist, idx, cifar10 or folder";
  meta.dataset = fields.text("dataset", kinds);
  bool known = meta.dataset.empty();
  for (const DatasetKind kind : {DatasetKind::kMnist, DatasetKind::kFashionMnist, DatasetKind::kIdx, DatasetKind::kCifar10,
                                 DatasetKind::kFolder}) {
    known = known || meta.dataset == dataset_kind_name(kind);
  }
  if (!known) {
    fields.fail("dataset", kinds);
  }

  const std::string& data_crc32 = fields.text("data_crc32", "8 hexadecimal digits");
  if (data_crc32.size() != 8 || data_crc32.find_first_not_of("0123456789abcdef") != std::string::npos) {
    fields.fail("data_crc32", "8 hexadecimal digits");
  }

  const std::optional<int64_t> batch_size = fields.optional_integer(kBatchSizeKey, 1, kMaxBatchSize);
  const std::optional<int64_t> train_count = fields.optional_integer(kTrainCountKey, 1, kMaxTrainCount);
  if (batch_size && train_count) {
    // The run's shape bounds its position: batches_into_epoch within an epoch, and no more steps
    // than batches taken (Adam's t counts them; a --dry-run takes fewer).
    const int64_t batches_per_epoch = (*train_count + *batch_size - 1) / *batch_size;
    const std::string epoch_shape = " (" + std::to_string(*train_count) + " training images in batches of " +
                                    std::to_string(*batch_size) + " make " + std::to_string(batches_per_epoch) +
                                    " batches an epoch)";
    meta.batches_into_epoch = fields.integer("batches_into_epoch", 0, batches_per_epoch - 1, epoch_shape);
    meta.epoch = fields.integer("epoch", 0, (kInt64Max - meta.batches_into_epoch) / batches_per_epoch, epoch_shape);
    checkpoint.state.step = fields.integer("step", 0, meta.epoch * batches_per_epoch + meta.batches_into_epoch,
                                           " (the batches taken in " + std::to_string(meta.epoch) + " epoch(s) and " +
                                               std::to_string(meta.batches_into_epoch) + " batch(es) at " +
                                               std::to_string(batches_per_epoch) + " batches an epoch)");
  } else {
    meta.epoch = fields.integer("epoch", 0, kInt64Max);
    meta.batches_into_epoch = fields.integer("batches_into_epoch", 0, kInt64Max);
    checkpoint.state.step = fields.integer("step", 0, kInt64Max);
  }
  check_partial_totals(fields, meta.batches_into_epoch, batch_size, batch_size && train_count);

  const std::string extra_prefix = kExtraPrefix;
  for (const auto& [key, value] : metadata) {
    if (key.compare(0, extra_prefix.size(), extra_prefix) == 0) meta.extra[key.substr(extra_prefix.size())] = value;
  }
}

}  // namespace train_gpu

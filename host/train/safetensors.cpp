#include "host/train/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "host/common/error.h"
#include "host/common/regular_file.h"

namespace train_gpu::safetensors {
namespace {

constexpr std::size_t kLengthBytes = 8;
constexpr const char* kMetadataKey = "__metadata__";

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// Element count of `shape`, or false when it overflows 64 bits.
bool element_count(const std::vector<int64_t>& shape, uint64_t& count) {
  count = 1;
  for (const int64_t dim : shape) {
    const auto extent = static_cast<uint64_t>(dim);
    if (extent != 0 && count > std::numeric_limits<uint64_t>::max() / extent) return false;
    count *= extent;
  }
  return true;
}

std::vector<unsigned char> read_whole_file(const std::filesystem::path& path) {
  // Opened without blocking: a FIFO given as --checkpoint is refused, not waited on. The size
  // comes from the filesystem, not from the file's contents, so the allocation is bounded by
  // what is really on disk; a file that shrank while read comes back short, and the header
  // checks below report it.
  return read_regular_file(path, "a .safetensors checkpoint");
}

uint64_t read_u64_le(const unsigned char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

TensorInfo parse_tensor_entry(const std::string& name, const nlohmann::json& entry, const std::string& where) {
  const std::string prefix = where + "tensor '" + name + "': ";
  if (!entry.is_object()) throw Error(prefix + "expected an object with dtype, shape and data_offsets");
  for (const auto& item : entry.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      throw Error(prefix + "unexpected field '" + item.key() + "'");
    }
  }
  TensorInfo info;

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) throw Error(prefix + "missing or non-string \"dtype\"");
  info.dtype = dtype->get<std::string>();
  const std::size_t element_bytes = dtype_size(info.dtype);
  if (element_bytes == 0) throw Error(prefix + "unknown dtype '" + info.dtype + "'");

  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) throw Error(prefix + "missing or non-array \"shape\"");
  for (const auto& dim : *shape) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      throw Error(prefix + "shape entries must be non-negative integers, found " + dim.dump());
    }
    info.shape.push_back(static_cast<int64_t>(dim.get<uint64_t>()));
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    throw Error(prefix + "\"data_offsets\" must be [begin, end], two non-negative integers");
  }
  info.begin = (*offsets)[0].get<uint64_t>();
  info.end = (*offsets)[1].get<uint64_t>();
  if (info.end < info.begin) {
    throw Error(prefix + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "] end before they begin");
  }

  uint64_t count = 0;
  if (!element_count(info.shape, count) || count > std::numeric_limits<uint64_t>::max() / element_bytes) {
    throw Error(prefix + "shape " + shape_text(info.shape) + " is too large");
  }
  if (info.end - info.begin != count * element_bytes) {
    throw Error(prefix + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "] span " +
                std::to_string(info.end - info.begin) + " bytes, but shape " + shape_text(info.shape) + " of " +
                info.dtype + " needs " + std::to_string(count * element_bytes));
  }
  return info;
}

}  // namespace

std::size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
  };
  const auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

std::vector<unsigned char> encode(const std::vector<F32TensorView>& tensors, const Metadata& metadata) {
  // ordered_json keeps __metadata__ first and the tensors in file order, so `head -c` of a
  // checkpoint reads naturally; readers do not care about key order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;

  std::set<std::string> names;
  uint64_t offset = 0;
  for (const F32TensorView& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == kMetadataKey || !names.insert(tensor.name).second) {
      throw Error("safetensors: tensor name '" + tensor.name + "' is empty, reserved or repeated");
    }
    uint64_t count = 0;
    if (std::any_of(tensor.shape.begin(), tensor.shape.end(), [](int64_t dim) { return dim < 0; }) ||
        !element_count(tensor.shape, count) || count > std::numeric_limits<uint64_t>::max() / sizeof(float)) {
      throw Error("safetensors: tensor '" + tensor.name + "' has an invalid shape " + shape_text(tensor.shape));
    }
    if (count > 0 && tensor.data == nullptr) throw Error("safetensors: tensor '" + tensor.name + "' has no data");
    const uint64_t end = offset + count * sizeof(float);
    header[tensor.name] = {{"dtype", "F32"}, {"shape", tensor.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("safetensors: cannot encode the header (metadata must be UTF-8): ") + e.what());
  }
  // Spaces are JSON whitespace, so padding keeps the header valid; 8-byte alignment of the data
  // section is what lets numpy/PyTorch map float64/int64 tensors in place.
  header_text.append((kLengthBytes - header_text.size() % kLengthBytes) % kLengthBytes, ' ');

  std::vector<unsigned char> bytes;
  bytes.reserve(kLengthBytes + header_text.size() + static_cast<std::size_t>(offset));
  const uint64_t header_length = header_text.size();
  for (std::size_t i = 0; i < kLengthBytes; ++i) bytes.push_back(static_cast<unsigned char>(header_length >> (8 * i)));
  bytes.insert(bytes.end(), header_text.begin(), header_text.end());
  for (const F32TensorView& tensor : tensors) {
    uint64_t count = 0;
    element_count(tensor.shape, count);
    const auto* data = reinterpret_cast<const unsigned char*>(tensor.data);
    if (count > 0) bytes.insert(bytes.end(), data, data + count * sizeof(float));
  }
  return bytes;
}

File File::read(const std::filesystem::path& path) { return parse(read_whole_file(path), path.string()); }

File File::parse(std::vector<unsigned char> bytes, const std::string& source) {
  const std::string where = source + ": not a valid safetensors file: ";
  if (bytes.size() < kLengthBytes) {
    throw Error(where + "it has " + std::to_string(bytes.size()) + " bytes, fewer than the 8 of the header length (truncated?)");
  }
  const uint64_t header_length = read_u64_le(bytes.data());
  if (header_length > kMaxHeaderBytes) {
    throw Error(where + "header length " + std::to_string(header_length) + " is over the 100 MB limit (corrupt file?)");
  }
  if (header_length > bytes.size() - kLengthBytes) {
    throw Error(where + "header length " + std::to_string(header_length) + " exceeds the " +
                std::to_string(bytes.size() - kLengthBytes) + " bytes after it (truncated?)");
  }

  File file;
  file.source_ = source;
  file.data_start_ = kLengthBytes + static_cast<std::size_t>(header_length);
  const uint64_t data_size = bytes.size() - file.data_start_;

  nlohmann::json header;
  // JSON allows a key twice in an object and nlohmann keeps the last: a header naming a tensor
  // twice would silently read one of two. The parser's callback sees every key of every object.
  std::vector<std::set<std::string>> keys_of_open_objects;
  std::string repeated_key;
  const auto note_repeated_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::object_start) keys_of_open_objects.emplace_back();
    if (event == nlohmann::json::parse_event_t::object_end) keys_of_open_objects.pop_back();
    if (event == nlohmann::json::parse_event_t::key && !keys_of_open_objects.back().insert(parsed.get<std::string>()).second &&
        repeated_key.empty()) {
      repeated_key = parsed.get<std::string>();
    }
    return true;
  };
  try {
    header = nlohmann::json::parse(bytes.begin() + kLengthBytes, bytes.begin() + static_cast<std::ptrdiff_t>(file.data_start_),
                                   note_repeated_keys);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + "the header is not valid JSON (" + e.what() + ")");
  }
  if (!repeated_key.empty()) {
    throw Error(where + "the header has the key '" + repeated_key + "' twice in one object (which one is meant is ambiguous)");
  }
  if (!header.is_object()) throw Error(where + "the header is not a JSON object");

  for (const auto& item : header.items()) {
    if (item.key() == kMetadataKey) {
      if (!item.value().is_object()) throw Error(where + "__metadata__ is not an object");
      for (const auto& entry : item.value().items()) {
        if (!entry.value().is_string()) throw Error(where + "__metadata__ value of '" + entry.key() + "' is not a string");
        file.metadata_[entry.key()] = entry.value().get<std::string>();
      }
    } else {
      file.tensors_[item.key()] = parse_tensor_entry(item.key(), item.value(), where);
    }
  }

  // The tensors must tile the data section: a gap or overlap means a corrupt header, bytes
  // past the last tensor a damaged or foreign file, a tensor past the end a truncated one.
  std::vector<std::pair<const std::string*, const TensorInfo*>> by_offset;
  for (const auto& [name, info] : file.tensors_) by_offset.emplace_back(&name, &info);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second->begin, a.second->end) < std::make_pair(b.second->begin, b.second->end);
  });
  uint64_t covered = 0;
  for (const auto& [name, info] : by_offset) {
    const std::string offsets = "[" + std::to_string(info->begin) + ", " + std::to_string(info->end) + "]";
    if (info->begin < covered) throw Error(where + "tensor '" + *name + "' data_offsets " + offsets + " overlap another tensor");
    if (info->begin > covered) {
      throw Error(where + "tensor '" + *name + "' data_offsets " + offsets + " leave a gap after byte " + std::to_string(covered));
    }
    if (info->end > data_size) {
      throw Error(where + "tensor '" + *name + "' data_offsets " + offsets + " reach past the data section's " +
                  std::to_string(data_size) + " bytes (truncated?)");
    }
    covered = info->end;
  }
  if (covered != data_size) {
    throw Error(where + "the data section has " + std::to_string(data_size) + " bytes but the tensors cover " +
                std::to_string(covered) + " (trailing bytes)");
  }

  file.bytes_ = std::move(bytes);
  return file;
}

void File::copy_f32(const std::string& name, float* out, std::size_t count) const {
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) throw Error(source_ + ": no tensor '" + name + "'");
  const TensorInfo& info = found->second;
  if (info.dtype != "F32") throw Error(source_ + ": tensor '" + name + "' has dtype " + info.dtype + ", expected F32");
  if (info.end - info.begin != count * sizeof(float)) {
    throw Error(source_ + ": tensor '" + name + "' holds " + std::to_string((info.end - info.begin) / sizeof(float)) +
                " floats, expected " + std::to_string(count));
  }
  if (count > 0) std::memcpy(out, data_section() + info.begin, count * sizeof(float));
}

}  // namespace train_gpu::safetensors

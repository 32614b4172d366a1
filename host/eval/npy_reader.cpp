#include "host/eval/npy_reader.h"

#include <cctype>
#include <cstring>
#include <map>

#include "host/common/error.h"
#include "host/common/regular_file.h"

// Little-endian data is read as it lies in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy reader assumes a little-endian host");

namespace train_gpu::eval {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
// A cursor over it that understands exactly the literals numpy writes there: quoted strings,
// True/False and tuples of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& where) : text_(text), where_(where) {}

  std::map<std::string, std::string> strings;
  std::map<std::string, bool> booleans;
  std::map<std::string, std::vector<int64_t>> tuples;

  void parse() {
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skip_space();
      if (peek() == '\'' || peek() == '"') {
        strings[key] = quoted();
      } else if (peek() == '(') {
        tuples[key] = tuple();
      } else if (text_.compare(at_, 4, "True") == 0) {
        booleans[key] = true;
        at_ += 4;
      } else if (text_.compare(at_, 5, "False") == 0) {
        booleans[key] = false;
        at_ += 5;
      } else {
        fail("unexpected value for '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++at_;
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + "malformed header (" + what + " at character " + std::to_string(at_) + "): " + text_);
  }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++at_;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(at_ + 1, end - at_ - 1);
    at_ = end + 1;
    return value;
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> values;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (value > (int64_t{1} << 40)) fail("dimension too large");
        value = value * 10 + (text_[at_++] - '0');
      }
      values.push_back(value);
      skip_space();
      if (peek() == ',') ++at_;
    }
    ++at_;
    return values;
  }

  const std::string& text_;
  const std::string& where_;
  size_t at_ = 0;
};

size_t item_size(const std::string& descr) {
  if (descr == "|u1" || descr == "<u1" || descr == "u1") return 1;
  if (descr == "<f4") return 4;
  if (descr == "<f8") return 8;
  return 0;
}

}  // namespace

NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source) {
  const std::string where = source + ": ";
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    throw Error(where + "not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = bytes[6];
  size_t header_length = 0;
  size_t prefix = 0;
  if (major == 1) {
    header_length = bytes[8] | (size_t{bytes[9]} << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(where + "truncated .npy header");
    header_length = bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) | (size_t{bytes[11]} << 24);
    prefix = 12;
  } else {
    throw Error(where + ".npy format version " + std::to_string(major) + " is not one this reader knows (1, 2, 3)");
  }
  if (header_length > bytes.size() - prefix) {
    throw Error(where + "the header claims " + std::to_string(header_length) + " bytes, the file has " +
                std::to_string(bytes.size() - prefix) + " after its prefix");
  }
  const std::string header(bytes.begin() + static_cast<std::ptrdiff_t>(prefix),
                           bytes.begin() + static_cast<std::ptrdiff_t>(prefix + header_length));
  HeaderParser parser(header, where);
  parser.parse();

  NpyArray array;
  if (parser.strings.count("descr") == 0 || parser.booleans.count("fortran_order") == 0 || parser.tuples.count("shape") == 0) {
    throw Error(where + "the header lacks descr, fortran_order or shape: " + header);
  }
  array.descr = parser.strings["descr"];
  array.shape = parser.tuples["shape"];
  if (parser.booleans["fortran_order"]) {
    throw Error(where + "Fortran-order array; save it in C order (numpy.ascontiguousarray) and try again");
  }
  const size_t size = item_size(array.descr);
  if (size == 0) {
    throw Error(where + "dtype '" + array.descr + "' is not supported; use uint8 or float32/float64 (little-endian)");
  }
  size_t count = 1;
  for (const int64_t dim : array.shape) {
    // Divided rather than multiplied first, so a crafted shape cannot overflow the count.
    if (dim != 0 && count > bytes.size() / static_cast<size_t>(dim)) {
      throw Error(where + "the shape claims more elements than the " + std::to_string(bytes.size()) + "-byte file holds");
    }
    count *= static_cast<size_t>(dim);
  }
  const size_t data_start = prefix + header_length;
  if (bytes.size() - data_start != count * size) {
    throw Error(where + "the data section has " + std::to_string(bytes.size() - data_start) + " bytes, the header's shape and dtype need " +
                std::to_string(count * size));
  }
  array.values.resize(count);
  const uint8_t* data = bytes.data() + data_start;
  for (size_t i = 0; i < count; ++i) {
    if (size == 1) {
      array.values[i] = data[i];
    } else if (size == 4) {
      float value;
      std::memcpy(&value, data + 4 * i, 4);
      array.values[i] = value;
    } else {
      std::memcpy(&array.values[i], data + 8 * i, 8);
    }
  }
  return array;
}

NpyArray read_npy(const std::filesystem::path& file) {
  return parse_npy(read_regular_file(file, "a .npy array"), file.string());
}

}  // namespace train_gpu::eval

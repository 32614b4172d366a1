// The generic safetensors writer and reader: the bytes follow the format (and the reference
// writer's 8-byte padding), values survive bit for bit, and every malformed file is refused
// with a message naming the source and the problem.
#include "host/train/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/common/random.h"
#include "support/test_support.h"

namespace train_gpu::safetensors {
namespace {

namespace t = train_gpu::testing;  // test helpers (support/test_support.h)
using Bytes = std::vector<unsigned char>;

uint64_t header_length_of(const Bytes& bytes) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[static_cast<std::size_t>(i)];
  return length;
}

// A file with an arbitrary header text (not padded) and data section.
Bytes raw_file(const std::string& header, std::size_t data_bytes, uint64_t declared_length = UINT64_MAX) {
  const uint64_t length = declared_length == UINT64_MAX ? header.size() : declared_length;
  Bytes bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<unsigned char>(length >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data_bytes, 0);
  return bytes;
}

std::string parse_error(const Bytes& bytes) {
  return t::error_of([&] { File::parse(bytes, "test.safetensors"); });
}

TEST(Safetensors, EncodedBytesFollowTheFormat) {
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 5.0f, 6.0f};
  const std::vector<float> b = {7.0f};
  const Bytes bytes = encode({{"a", {2, 3}, a.data()}, {"b", {1}, b.data()}}, {{"note", "hello"}});

  const uint64_t header_length = header_length_of(bytes);
  EXPECT_EQ(header_length % 8, 0u) << "data section must start 8-byte aligned";
  ASSERT_EQ(bytes.size(), 8 + header_length + (a.size() + b.size()) * sizeof(float));
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
  EXPECT_EQ(header.front(), '{');
  const auto json = nlohmann::json::parse(header);
  EXPECT_EQ(json["__metadata__"]["note"], "hello");
  EXPECT_EQ(json["a"]["dtype"], "F32");
  EXPECT_EQ(json["a"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(json["a"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(json["b"]["data_offsets"], nlohmann::json({24, 28}));
  // Raw little-endian float32, back to back in the order given.
  EXPECT_EQ(std::memcmp(bytes.data() + 8 + header_length, a.data(), 24), 0);
  EXPECT_EQ(std::memcmp(bytes.data() + 8 + header_length + 24, b.data(), 4), 0);
  // 1.0f is 0x3f800000: little-endian puts 0x00 0x00 0x80 0x3f.
  const unsigned char one_le[4] = {0x00, 0x00, 0x80, 0x3f};
  EXPECT_EQ(std::memcmp(bytes.data() + 8 + header_length, one_le, 4), 0);
}

TEST(Safetensors, EmptyFileIsPaddedBraces) {
  const Bytes bytes = encode({}, {});
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ(header_length_of(bytes), 8u);
  EXPECT_EQ(std::string(bytes.begin() + 8, bytes.end()), "{}      ");
  const File file = File::parse(bytes, "empty");
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());
  EXPECT_EQ(file.data_section_size(), 0u);
}

TEST(Safetensors, RoundTripIsBitExact) {
  Rng rng(42);
  std::vector<float> big(3 * 5 * 7);
  for (float& value : big) value = rng.uniform01() * 200.0f - 100.0f;
  // Values whose bits a lossy path would change.
  big[0] = -0.0f;
  big[1] = std::numeric_limits<float>::denorm_min();
  big[2] = std::numeric_limits<float>::infinity();
  big[3] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> scalar = {3.5f};
  const Metadata metadata = {{"k", "v"}, {"unicode", "Fashion-MNIST \u00e9"}, {"empty", ""}};

  const File file = File::parse(encode({{"big", {3, 5, 7}, big.data()}, {"scalar", {}, scalar.data()},
                                        {"none", {0, 4}, nullptr}},
                                       metadata),
                                "memory");
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors().at("big").shape, (std::vector<int64_t>{3, 5, 7}));
  EXPECT_EQ(file.tensors().at("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(file.tensors().at("none").shape, (std::vector<int64_t>{0, 4}));
  std::vector<float> read(big.size());
  file.copy_f32("big", read.data(), read.size());
  EXPECT_EQ(std::memcmp(read.data(), big.data(), big.size() * sizeof(float)), 0);
  float read_scalar = 0;
  file.copy_f32("scalar", &read_scalar, 1);
  EXPECT_EQ(read_scalar, 3.5f);
  file.copy_f32("none", nullptr, 0);
}

TEST(Safetensors, ReadsOtherDtypesAndUnorderedOffsets) {
  // As PyTorch's writer might produce: tensors listed out of offset order, mixed dtypes.
  const std::string header =
      R"({"x":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"y":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})";
  const File file = File::parse(raw_file(header, 24), "mixed");
  EXPECT_EQ(file.tensors().at("x").dtype, "I64");
  EXPECT_EQ(file.tensors().at("y").begin, 0u);
  t::expect_contains(t::error_of([&] { file.copy_f32("x", nullptr, 2); }), "has dtype I64, expected F32");
  t::expect_contains(t::error_of([&] { file.copy_f32("z", nullptr, 2); }), "no tensor 'z'");
}

TEST(Safetensors, CopyChecksTheCount) {
  const std::vector<float> values(6, 1.0f);
  const File file = File::parse(encode({{"t", {6}, values.data()}}, {}), "count");
  std::vector<float> out(7);
  t::expect_contains(t::error_of([&] { file.copy_f32("t", out.data(), 7); }), "holds 6 floats, expected 7");
}

TEST(Safetensors, RejectsShortFiles) {
  for (std::size_t size : {0, 1, 7}) {
    const std::string message = parse_error(Bytes(size, 0));
    t::expect_contains(message, "test.safetensors");
    t::expect_contains(message, "fewer than the 8");
  }
}

TEST(Safetensors, RejectsHeaderLengthBeyondFileOrLimit) {
  t::expect_contains(parse_error(raw_file("{}", 0, 3)), "header length 3 exceeds the 2 bytes");
  t::expect_contains(parse_error(raw_file("{}", 0, uint64_t{1} << 40)), "over the 100 MB limit");
  t::expect_contains(parse_error(raw_file("{}", 0, UINT64_MAX - 1)), "over the 100 MB limit");
}

TEST(Safetensors, RejectsBadJson) {
  t::expect_contains(parse_error(raw_file("{\"a\":", 0)), "not valid JSON");
  t::expect_contains(parse_error(raw_file("", 0)), "not valid JSON");
  t::expect_contains(parse_error(raw_file("[1,2]", 0)), "not a JSON object");
  t::expect_contains(parse_error(raw_file(R"({"__metadata__":{"a":1}})", 0)), "value of 'a' is not a string");
  t::expect_contains(parse_error(raw_file(R"({"__metadata__":[]})", 0)), "__metadata__ is not an object");
}

TEST(Safetensors, RejectsAKeyRepeatedInAnyObject) {
  // JSON parsers keep the last of two equal keys; a header with a tensor named twice would read
  // one of two sets of offsets, so the file is ambiguous: refused, naming the key.
  const std::string tensor = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string message = parse_error(raw_file("{\"w\":" + tensor + ",\"w\":" + tensor + "}", 4));
  t::expect_contains(message, "test.safetensors: not a valid safetensors file: the header has the key 'w' twice in one object");
  t::expect_contains(parse_error(raw_file(R"({"__metadata__":{"step":"1","step":"2"}})", 0)), "the key 'step' twice");
  t::expect_contains(parse_error(raw_file(R"({"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)),
                     "the key 'dtype' twice");
  t::expect_contains(parse_error(raw_file(R"({"__metadata__":{},"__metadata__":{}})", 0)), "the key '__metadata__' twice");
  // Equal keys in different objects are no repetition.
  const File file = File::parse(raw_file(R"({"__metadata__":{"w":"x"},"w":)" + tensor + "}", 4), "test.safetensors");
  EXPECT_EQ(file.tensors().count("w"), 1u);
  EXPECT_EQ(file.metadata().at("w"), "x");
}

TEST(Safetensors, RejectsBadTensorEntries) {
  const auto entry_error = [](const std::string& entry, std::size_t data_bytes) {
    return parse_error(raw_file("{\"t\":" + entry + "}", data_bytes));
  };
  t::expect_contains(entry_error("3", 0), "tensor 't': expected an object");
  t::expect_contains(entry_error(R"({"shape":[1],"data_offsets":[0,4]})", 4), "missing or non-string \"dtype\"");
  t::expect_contains(entry_error(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})", 4), "unknown dtype 'F33'");
  t::expect_contains(entry_error(R"({"dtype":"F32","data_offsets":[0,4]})", 4), "non-array \"shape\"");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4), "non-negative integers");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4), "non-negative integers");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4), "[begin, end]");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})", 4), "end before they begin");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4),
                  "span 4 bytes, but shape [2] of F32 needs 8");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})", 4),
                  "is too large");
  t::expect_contains(entry_error(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})", 4),
                  "unexpected field 'extra'");
}

TEST(Safetensors, RejectsOffsetsThatDoNotTileTheData) {
  const std::string a0 = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string b4 = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]})";
  const std::string b12 = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]})";
  const std::string b8 = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]})";
  t::expect_contains(parse_error(raw_file("{" + a0 + "," + b4 + "}", 16)), "overlap another tensor");
  t::expect_contains(parse_error(raw_file("{" + a0 + "," + b12 + "}", 20)), "leave a gap after byte 8");
  t::expect_contains(parse_error(raw_file("{" + a0 + "," + b8 + "}", 12)), "reach past the data section's 12 bytes");
  t::expect_contains(parse_error(raw_file("{" + a0 + "," + b8 + "}", 17)), "has 17 bytes but the tensors cover 16");
  EXPECT_EQ(parse_error(raw_file("{" + a0 + "," + b8 + "}", 16)), "(no error)");
}

TEST(Safetensors, EncodeRejectsBadInput) {
  const float value = 1.0f;
  t::expect_contains(t::error_of([&] { encode({{"t", {1}, &value}, {"t", {1}, &value}}, {}); }), "repeated");
  t::expect_contains(t::error_of([&] { encode({{"__metadata__", {1}, &value}}, {}); }), "reserved");
  t::expect_contains(t::error_of([&] { encode({{"t", {-1}, &value}}, {}); }), "invalid shape");
  t::expect_contains(t::error_of([&] { encode({{"t", {1}, nullptr}}, {}); }), "has no data");
  t::expect_contains(t::error_of([&] { encode({}, {{"bad", std::string("\xff\xfe")}}); }), "must be UTF-8");
}

TEST(Safetensors, ReadNamesMissingFile) {
  const std::string message = t::error_of([] { File::read("/nonexistent/dir/model.safetensors"); });
  t::expect_contains(message, "/nonexistent/dir/model.safetensors");
  t::expect_contains(message, "No such file or directory");
}

}  // namespace
}  // namespace train_gpu::safetensors

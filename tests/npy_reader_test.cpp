// The .npy reader (host/eval/npy_reader.h): what our writer and numpy write comes back exactly,
// format versions 1-3, and every kind of damage is one Error naming the file and the fault.
#include "host/eval/npy_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/eval/npy.h"
#include "support/test_support.h"

namespace train_gpu::eval {
namespace {

namespace t = train_gpu::testing;

std::vector<uint8_t> bytes_of(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }

// A version-1 file with `dict` as its header (padded like numpy's) followed by `data`.
std::vector<uint8_t> npy_file(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  return bytes_of(file + header + data);
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  return t::error_of([&] { parse_npy(bytes, "x.npy"); });
}

TEST(NpyReader, ReadsBackWhatTheWriterWrites) {
  t::TempDir dir;
  const std::vector<float> floats = {0.0f, -1.5f, 3.25f, 1e-30f, 65504.0f, 0.1f};
  write_npy(dir / "f.npy", floats.data(), {2, 3});
  const NpyArray f = read_npy(dir / "f.npy");
  EXPECT_EQ(f.descr, "<f4");
  EXPECT_EQ(f.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(f.values.size(), 6u);
  for (size_t i = 0; i < floats.size(); ++i) EXPECT_EQ(f.values[i], double(floats[i])) << i;  // exact: float -> double

  const std::vector<uint8_t> bytes = {0, 1, 254, 255};
  write_npy(dir / "u.npy", bytes.data(), {4});
  const NpyArray u = read_npy(dir / "u.npy");
  EXPECT_EQ(u.descr, "|u1");
  EXPECT_EQ(u.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(u.values, (std::vector<double>{0, 1, 254, 255}));

  write_npy(dir / "empty.npy", static_cast<const uint8_t*>(nullptr), {0, 28, 28});
  EXPECT_EQ(read_npy(dir / "empty.npy").values.size(), 0u);
}

TEST(NpyReader, Float64AndHeaderVariantsNumpyMayWrite) {
  const double values[2] = {0.25, -3.0};
  // Double quotes, keys in another order, no trailing comma: still a valid Python dict.
  const NpyArray a = parse_npy(npy_file("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f8\"}",
                                        std::string(reinterpret_cast<const char*>(values), sizeof values)),
                               "a.npy");
  EXPECT_EQ(a.descr, "<f8");
  EXPECT_EQ(a.values, (std::vector<double>{0.25, -3.0}));

  // Version 2.0: a 4-byte header length.
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
  dict.append((64 - (12 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string v2 = std::string("\x93NUMPY\x02\x00", 8);
  for (int shift = 0; shift < 32; shift += 8) v2 += static_cast<char>((dict.size() >> shift) & 0xff);
  const NpyArray b = parse_npy(bytes_of(v2 + dict + std::string("\x07\x08\x09", 3)), "b.npy");
  EXPECT_EQ(b.values, (std::vector<double>{7, 8, 9}));

  const NpyArray scalar = parse_npy(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", "\x2a"), "s.npy");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.values, (std::vector<double>{42}));
}

TEST(NpyReader, DamageIsOneErrorNamingTheFault) {
  const std::string good_dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }";
  EXPECT_EQ(parse_npy(npy_file(good_dict, "abcd"), "x.npy").values.size(), 4u);

  t::expect_contains(parse_error(bytes_of("PK\x03\x04 a zip file")), "x.npy: not a .npy file");
  t::expect_contains(parse_error(npy_file(good_dict, "abc")), "data section has 3 bytes, the header's shape and dtype need 4");
  t::expect_contains(parse_error(npy_file(good_dict, "abcde")), "data section has 5 bytes");
  t::expect_contains(parse_error(npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", "12345678")),
                     "dtype '<i8' is not supported");
  t::expect_contains(parse_error(npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "1234")),
                     "dtype '>f4' is not supported");
  t::expect_contains(parse_error(npy_file("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", "abcd")),
                     "Fortran-order");
  t::expect_contains(parse_error(npy_file("{'descr': '|u1', 'shape': (4,), }", "abcd")), "lacks descr, fortran_order or shape");
  t::expect_contains(parse_error(npy_file("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (4,), }", "abcd")),
                     "malformed header");
  t::expect_contains(parse_error(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (-4,), }", "abcd")),
                     "malformed header");
  t::expect_contains(parse_error(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (4,", "abcd")), "malformed header");
  // A shape whose element count overflows 64 bits is refused before anything is allocated.
  t::expect_contains(
      parse_error(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", "")),
      "more elements than");

  std::vector<uint8_t> long_header = npy_file(good_dict, "abcd");
  long_header[8] = 0xff;
  long_header[9] = 0xff;  // claims 65,535 header bytes
  t::expect_contains(parse_error(long_header), "the header claims 65535 bytes");
  std::vector<uint8_t> version9 = npy_file(good_dict, "abcd");
  version9[6] = 9;
  t::expect_contains(parse_error(version9), "format version 9");
  t::expect_contains(t::error_of([] { read_npy("/nonexistent/x.npy"); }), "/nonexistent/x.npy: cannot open");
}

// numpy's own files: float64 from the tutorial's x / 255, uint8, and a 4-D array.
TEST(NpyReader, ReadsWhatNumpyWrites) {
  if (!t::system_python_has("numpy")) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  t::TempDir dir;
  const t::MergedCommandResult result = t::run_command_merged(
      "cd " + t::shell_quote(dir.path().string()) +
      " && /usr/bin/python3 -c 'import numpy as np; np.save(\"x.npy\", np.arange(6, dtype=np.uint8).reshape(2, 3) / np.float64(255)); "
      "np.save(\"b.npy\", np.arange(24, dtype=np.uint8).reshape(2, 3, 4, 1)); np.save(\"h.npy\", np.ones(3, np.float32))'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const NpyArray x = read_npy(dir / "x.npy");
  EXPECT_EQ(x.descr, "<f8");
  EXPECT_EQ(x.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_DOUBLE_EQ(x.values[5], 5.0 / 255.0);
  const NpyArray b = read_npy(dir / "b.npy");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 3, 4, 1}));
  EXPECT_EQ(b.values[23], 23.0);
  EXPECT_EQ(read_npy(dir / "h.npy").values, (std::vector<double>{1, 1, 1}));
}

}  // namespace
}  // namespace train_gpu::eval

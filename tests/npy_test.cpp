#include "host/eval/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "support/test_support.h"

namespace train_gpu::eval {
namespace {

namespace t = train_gpu::testing;  // test helpers (support/test_support.h)

uint16_t header_length(const std::string& preamble) {
  return static_cast<uint16_t>(static_cast<uint8_t>(preamble[8]) | (static_cast<uint8_t>(preamble[9]) << 8));
}

TEST(NpyPreamble, FeatureMapHeaderMatchesNumpyFormat) {
  const std::string preamble = npy_preamble("<f4", {32, 26, 26});
  ASSERT_GE(preamble.size(), 10u);
  EXPECT_EQ(preamble.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(preamble[6], '\x01');  // version 1.0
  EXPECT_EQ(preamble[7], '\x00');
  EXPECT_EQ(preamble.size() % 64, 0u) << "data must start 64-byte aligned";
  EXPECT_EQ(header_length(preamble), preamble.size() - 10);
  const std::string dict = preamble.substr(10);
  EXPECT_EQ(dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (32, 26, 26), }", 0), 0u) << dict;
  EXPECT_EQ(dict.back(), '\n');
  // Between the dict and the newline only spaces.
  const size_t close = dict.find('}');
  EXPECT_EQ(dict.find_first_not_of(' ', close + 1), dict.size() - 1);
  // 10 + 66 characters of dict + 1 newline = 77 -> padded to 128.
  EXPECT_EQ(preamble.size(), 128u);
}

TEST(NpyPreamble, ShapesOfRankZeroOneAndTwo) {
  EXPECT_NE(npy_preamble("|u1", {}).find("'shape': (), }"), std::string::npos);
  EXPECT_NE(npy_preamble("|u1", {25}).find("'shape': (25,), }"), std::string::npos);
  EXPECT_NE(npy_preamble("|u1", {28, 28}).find("'descr': '|u1'"), std::string::npos);
  EXPECT_NE(npy_preamble("|u1", {28, 28}).find("'shape': (28, 28), }"), std::string::npos);
  for (const auto& shape : {std::vector<int64_t>{}, {1}, {60000, 28, 28}, {1, 2, 3, 4, 5, 6, 7, 8}}) {
    EXPECT_EQ(npy_preamble("<f4", shape).size() % 64, 0u);
  }
}

TEST(NpyWrite, FloatDataFollowsPreambleBitExact) {
  t::TempDir dir;
  const std::vector<float> values = {0.0f, -1.5f, 3.25f, 1e-30f, 65504.0f, -0.0f};
  const std::filesystem::path file = dir.path() / "values.npy";
  write_npy(file, values.data(), {2, 3});
  const std::string bytes = t::read_text(file);
  const std::string preamble = npy_preamble("<f4", {2, 3});
  ASSERT_EQ(bytes.size(), preamble.size() + values.size() * sizeof(float));
  EXPECT_EQ(bytes.substr(0, preamble.size()), preamble);
  EXPECT_EQ(std::memcmp(bytes.data() + preamble.size(), values.data(), values.size() * sizeof(float)), 0);
}

TEST(NpyWrite, Uint8DataAndEmptyArray) {
  t::TempDir dir;
  const std::vector<uint8_t> values = {0, 1, 127, 128, 255};
  write_npy(dir.path() / "bytes.npy", values.data(), {5});
  const std::string bytes = t::read_text(dir.path() / "bytes.npy");
  EXPECT_EQ(bytes.substr(bytes.size() - 5), std::string("\x00\x01\x7f\x80\xff", 5));
  write_npy(dir.path() / "empty.npy", static_cast<const uint8_t*>(nullptr), {0, 28, 28});
  EXPECT_EQ(t::read_text(dir.path() / "empty.npy"), npy_preamble("|u1", {0, 28, 28}));
}

TEST(NpyWrite, UnwritablePathIsAnErrorNamingIt) {
  const float value = 1.0f;
  try {
    write_npy("/nonexistent-dir/x.npy", &value, {1});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.npy"), std::string::npos) << e.what();
  }
}

// numpy itself is the reference reader, when the system Python has it.
TEST(NpyWrite, NumpyLoadsWhatWeWrite) {
  if (!t::system_python_has("numpy")) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  }
  t::TempDir dir;
  std::vector<float> maps(32 * 26 * 26);
  for (size_t i = 0; i < maps.size(); ++i) maps[i] = static_cast<float>(i) * 0.5f - 7.0f;
  write_npy(dir.path() / "maps.npy", maps.data(), {32, 26, 26});
  std::vector<uint8_t> images(3 * 28 * 28);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>(i % 256);
  write_npy(dir.path() / "images.npy", images.data(), {3, 28, 28});

  // Values are exact in float32 (multiples of 0.5 below 2^24), so numpy must match exactly.
  const std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "m = np.load(d + '/maps.npy')\n"
      "assert m.dtype == np.float32 and m.shape == (32, 26, 26), (m.dtype, m.shape)\n"
      "assert (m.ravel() == np.arange(m.size, dtype=np.float64) * 0.5 - 7.0).all()\n"
      "i = np.load(d + '/images.npy')\n"
      "assert i.dtype == np.uint8 and i.shape == (3, 28, 28), (i.dtype, i.shape)\n"
      "assert (i.ravel() == np.arange(i.size) % 256).all()\n"
      "mm = np.load(d + '/maps.npy', mmap_mode='r')\n"
      "assert mm.offset % 64 == 0\n"
      "print('ok')\n";
  const std::filesystem::path script_file = dir.path() / "check.py";
  std::ofstream(script_file) << script;
  const std::string command = "/usr/bin/python3 " + script_file.string() + " " + dir.path().string();
  const t::MergedCommandResult result = t::run_command_merged(command);
  EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output;
}

}  // namespace
}  // namespace train_gpu::eval

// csv_field (host/common/csv_field.h): RFC 4180 quoting, checked by hand and by the reader the
// device check and users rely on, Python's csv module, which must get every field back unchanged.
#include "host/common/csv_field.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

TEST(CsvField, PlainTextStaysAsIs) {
  EXPECT_EQ(csv_field("cuda:0 NVIDIA H200"), "cuda:0 NVIDIA H200");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("812.500"), "812.500");
}

TEST(CsvField, CommasQuotesAndLineBreaksAreQuoted) {
  EXPECT_EQ(csv_field("cuda:0 NVIDIA H200, compute capability 9.0, 132 SMs, 139.8 GiB"),
            "\"cuda:0 NVIDIA H200, compute capability 9.0, 132 SMs, 139.8 GiB\"");
  EXPECT_EQ(csv_field("a \"quoted\" word"), "\"a \"\"quoted\"\" word\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("carriage\rreturn"), "\"carriage\rreturn\"");
}

TEST(CsvField, PythonsCsvModuleReadsEveryFieldBack) {
  if (!t::system_python_has("csv")) GTEST_SKIP() << "no /usr/bin/python3";
  const std::vector<std::string> fields = {"cuda:0 NVIDIA H200, compute capability 9.0, 132 SMs, 139.8 GiB",
                                           "say \"hi\", twice", "plain", "", "x,\"y\"\nz", "64", "812.500"};
  t::TempDir dir;
  std::string line;
  for (const std::string& field : fields) line += (line.empty() ? "" : ",") + csv_field(field);
  t::write_file(dir / "row.csv", t::Bytes(line.begin(), line.end()));
  // Each field as Python reads it, hex-encoded so newlines and quotes survive the trip back.
  const t::MergedCommandResult read = t::run_command_merged(
      "/usr/bin/python3 -c 'import csv, sys; [print(f.encode().hex()) for f in next(csv.reader(open(sys.argv[1], "
      "newline=\"\")))]' " + t::shell_quote((dir / "row.csv").string()));
  ASSERT_EQ(read.exit_code, 0) << read.output;
  const std::vector<std::string> hex = t::lines_of(read.output);
  ASSERT_EQ(hex.size(), fields.size()) << read.output;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string decoded;
    for (std::size_t c = 0; c + 1 < hex[i].size(); c += 2) decoded += char(std::stoi(hex[i].substr(c, 2), nullptr, 16));
    EXPECT_EQ(decoded, fields[i]) << "field " << i;
  }
}

}  // namespace
}  // namespace train_gpu

#include "host/eval/confusion.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "host/common/error.h"

namespace train_gpu::eval {
namespace {

// Ratios of small integers computed in double: the only error is the final rounding of one
// division (and for the macro mean, three additions and a division), so 1e-15 relative is ample.
constexpr double kRtol = 1e-15;

void expect_close(double actual, double expected) {
  EXPECT_LE(std::abs(actual - expected), kRtol * std::abs(expected)) << actual << " vs " << expected;
}

// Hand-worked 3-class example (rows true, columns predicted):
//
//            pred 0  pred 1  pred 2 | support
//   true 0      5       1       0   |   6
//   true 1      2       3       0   |   5
//   true 2      1       0       0   |   1
//   predicted   8       4       0      total 12, correct 5 + 3 + 0 = 8
//
//   precision: 0: 5/8 = 0.625   1: 3/4 = 0.75   2: 0/0 -> undefined, reported 0
//   recall:    0: 5/6           1: 3/5 = 0.6    2: 0/1 = 0 (defined)
//   macro precision = (0.625 + 0.75 + 0) / 3 = 1.375 / 3 = 0.458333...
//   macro recall    = (5/6 + 0.6 + 0) / 3    = (43/30) / 3 = 43/90 = 0.477777...
//   accuracy = 8 / 12
ConfusionMatrix three_class_example() { return ConfusionMatrix(3, {5, 1, 0, 2, 3, 0, 1, 0, 0}); }

TEST(ConfusionMatrix, HandWorkedThreeClassExample) {
  const ConfusionMatrix m = three_class_example();
  EXPECT_EQ(m.total(), 12);
  EXPECT_EQ(m.correct(), 8);
  expect_close(m.accuracy(), 8.0 / 12.0);

  EXPECT_EQ(m.class_metrics(0).support, 6);
  EXPECT_EQ(m.class_metrics(1).support, 5);
  EXPECT_EQ(m.class_metrics(2).support, 1);
  EXPECT_EQ(m.class_metrics(0).predicted, 8);
  EXPECT_EQ(m.class_metrics(1).predicted, 4);
  EXPECT_EQ(m.class_metrics(2).predicted, 0);
  EXPECT_EQ(m.class_metrics(0).true_positives, 5);

  expect_close(m.class_metrics(0).precision, 0.625);
  expect_close(m.class_metrics(1).precision, 0.75);
  EXPECT_EQ(m.class_metrics(2).precision, 0.0);
  EXPECT_TRUE(m.class_metrics(0).precision_defined);
  EXPECT_TRUE(m.class_metrics(1).precision_defined);
  EXPECT_FALSE(m.class_metrics(2).precision_defined);

  expect_close(m.class_metrics(0).recall, 5.0 / 6.0);
  expect_close(m.class_metrics(1).recall, 0.6);
  EXPECT_EQ(m.class_metrics(2).recall, 0.0);
  EXPECT_TRUE(m.class_metrics(2).recall_defined);

  expect_close(m.macro_precision(), 1.375 / 3.0);
  expect_close(m.macro_recall(), 43.0 / 90.0);
}

// A class with no samples has no recall (0/0); being predicted once gives it a defined precision
// of 0/1 = 0.   [[3, 1], [0, 0]]: recall 1 undefined, precision 1 = 0 defined, precision 0 = 3/3.
TEST(ConfusionMatrix, ClassWithoutSamplesHasUndefinedRecall) {
  const ConfusionMatrix m(2, {3, 1, 0, 0});
  EXPECT_FALSE(m.class_metrics(1).recall_defined);
  EXPECT_EQ(m.class_metrics(1).recall, 0.0);
  EXPECT_TRUE(m.class_metrics(1).precision_defined);
  EXPECT_EQ(m.class_metrics(1).precision, 0.0);
  expect_close(m.class_metrics(0).precision, 1.0);
  expect_close(m.class_metrics(0).recall, 0.75);
  expect_close(m.macro_recall(), 0.75 / 2);
  expect_close(m.macro_precision(), 0.5);
}

TEST(ConfusionMatrix, PerfectTenClassDiagonal) {
  std::vector<int64_t> counts(100, 0);
  for (int c = 0; c < 10; ++c) counts[static_cast<size_t>(c * 11)] = 100 + c;
  const ConfusionMatrix m(10, counts);
  EXPECT_EQ(m.total(), 1045);
  EXPECT_EQ(m.correct(), 1045);
  EXPECT_EQ(m.macro_precision(), 1.0);
  EXPECT_EQ(m.macro_recall(), 1.0);
  EXPECT_EQ(m.count(3, 3), 103);
}

TEST(ConfusionMatrix, RejectsBadInput) {
  EXPECT_THROW(ConfusionMatrix(3, {1, 2, 3}), Error);
  EXPECT_THROW(ConfusionMatrix(2, {1, -1, 0, 0}), Error);
  EXPECT_THROW(ConfusionMatrix(0, {}), Error);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ConfusionTable, AlignedWithMarginsAndFootnote) {
  const std::string table = confusion_table(three_class_example(), {"0", "1", "2"});
  const std::vector<std::string> lines = lines_of(table);
  ASSERT_GE(lines.size(), 7u) << table;
  // Header, three class rows and the precision row share one width: the columns line up.
  for (size_t i = 1; i < 5; ++i) EXPECT_EQ(lines[i].size(), lines[0].size()) << table;
  EXPECT_EQ(lines[0].rfind("true\\pred", 0), 0u);
  EXPECT_NE(lines[0].find("recall"), std::string::npos);
  EXPECT_NE(lines[0].find("support"), std::string::npos);
  // Row "true 0": counts 5 1 0, recall 83.33%, support 6.
  EXPECT_NE(lines[1].find("83.33%"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].substr(lines[1].size() - 1), "6");
  // Precision row: 62.50% 75.00% n/a, then the total.
  EXPECT_EQ(lines[4].rfind("precision", 0), 0u);
  EXPECT_NE(lines[4].find("62.50%"), std::string::npos) << lines[4];
  EXPECT_NE(lines[4].find("75.00%"), std::string::npos);
  EXPECT_NE(lines[4].find("n/a"), std::string::npos);
  EXPECT_NE(lines[5].find("macro precision 45.83%"), std::string::npos) << lines[5];
  EXPECT_NE(lines[5].find("macro recall 47.78%"), std::string::npos);
  EXPECT_NE(lines[5].find("accuracy 66.67%"), std::string::npos);
  EXPECT_NE(lines[6].find("n/a: 0/0"), std::string::npos);
}

TEST(ConfusionTable, NamedClassesLabelRowsAndWideCountsFit) {
  std::vector<int64_t> counts = {123456789, 2, 3, 4};
  const std::string table = confusion_table(ConfusionMatrix(2, counts), {"T-shirt/top", "Trouser"});
  const std::vector<std::string> lines = lines_of(table);
  EXPECT_EQ(lines[1].rfind("0 T-shirt/top", 0), 0u) << table;
  EXPECT_EQ(lines[2].rfind("1 Trouser", 0), 0u);
  EXPECT_NE(lines[1].find("123456789"), std::string::npos);
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(lines[i].size(), lines[0].size()) << table;
  // No 0/0 anywhere: no footnote.
  EXPECT_EQ(table.find("n/a"), std::string::npos);
  EXPECT_THROW(confusion_table(ConfusionMatrix(2, counts), {"only one"}), Error);
}

}  // namespace
}  // namespace train_gpu::eval

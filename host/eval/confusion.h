// The confusion matrix of a classification pass and what is read off it: per-class precision,
// recall and support, their macro averages, and an aligned text table for the terminal.
//
// Conventions (as scikit-learn's confusion_matrix and classification_report):
// - counts[true * classes + predicted]: rows are true classes, columns predicted classes.
// - precision(c) = tp / (tp + fp) = counts[c][c] / (column c sum): of the samples predicted as c,
//   the fraction that are c.
// - recall(c) = tp / (tp + fn) = counts[c][c] / (row c sum = support): of the samples that are
//   c, the fraction predicted as c.
// - 0/0: a class never predicted has no precision, a class with no samples no recall. Such a
//   value is reported as 0 with its *_defined flag false, and the macro average (an unweighted
//   mean over all classes) counts it as 0 -- scikit-learn's zero_division=0. The text table
//   prints "n/a" for it; evaluation.json writes 0 and the flag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace train_gpu::eval {

struct ClassMetrics {
  int64_t support = 0;          // samples whose true class is c (row sum)
  int64_t predicted = 0;        // samples predicted as c (column sum)
  int64_t true_positives = 0;   // counts[c][c]
  double precision = 0;         // tp / predicted; 0 when predicted == 0
  double recall = 0;            // tp / support; 0 when support == 0
  bool precision_defined = false;  // predicted > 0
  bool recall_defined = false;     // support > 0
};

class ConfusionMatrix {
 public:
  // `counts` is row-major (classes x classes), [true * classes + predicted], all >= 0.
  ConfusionMatrix(int classes, std::vector<int64_t> counts);

  int classes() const { return classes_; }
  int64_t count(int true_class, int predicted_class) const {
    return counts_[static_cast<size_t>(true_class * classes_ + predicted_class)];
  }
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const { return total_; }
  int64_t correct() const { return correct_; }  // the diagonal
  double accuracy() const { return total_ > 0 ? double(correct_) / double(total_) : 0.0; }

  const ClassMetrics& class_metrics(int c) const { return metrics_[static_cast<size_t>(c)]; }
  double macro_precision() const { return macro_precision_; }
  double macro_recall() const { return macro_recall_; }

 private:
  int classes_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
  int64_t correct_ = 0;
  std::vector<ClassMetrics> metrics_;
  double macro_precision_ = 0;
  double macro_recall_ = 0;
};

// The counts as an aligned table, rows true classes and columns predicted, with a recall and a
// support column on the right, a precision row at the bottom and the macro averages below it.
// `class_names` (one per class) label the rows; the columns show the class index, and when a
// name differs from its index (Fashion-MNIST) the row label is "index name".
std::string confusion_table(const ConfusionMatrix& matrix, const std::vector<std::string>& class_names);

}  // namespace train_gpu::eval

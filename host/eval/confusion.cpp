#include "host/eval/confusion.h"

#include <algorithm>
#include <sstream>

#include "host/common/error.h"
#include "host/common/format.h"

namespace train_gpu::eval {

ConfusionMatrix::ConfusionMatrix(int classes, std::vector<int64_t> counts)
    : classes_(classes), counts_(std::move(counts)) {
  if (classes_ <= 0) throw Error("confusion matrix: need at least one class, got " + std::to_string(classes_));
  const size_t expected = static_cast<size_t>(classes_) * static_cast<size_t>(classes_);
  if (counts_.size() != expected) {
    throw Error("confusion matrix: expected " + std::to_string(expected) + " counts for " + std::to_string(classes_) +
                " classes, got " + std::to_string(counts_.size()));
  }
  metrics_.resize(static_cast<size_t>(classes_));
  for (int t = 0; t < classes_; ++t) {
    for (int p = 0; p < classes_; ++p) {
      const int64_t n = count(t, p);
      if (n < 0) throw Error("confusion matrix: negative count at true " + std::to_string(t) + ", predicted " + std::to_string(p));
      metrics_[static_cast<size_t>(t)].support += n;
      metrics_[static_cast<size_t>(p)].predicted += n;
      total_ += n;
      if (t == p) correct_ += n;
    }
  }
  double precision_sum = 0;
  double recall_sum = 0;
  for (int c = 0; c < classes_; ++c) {
    ClassMetrics& m = metrics_[static_cast<size_t>(c)];
    m.true_positives = count(c, c);
    m.precision_defined = m.predicted > 0;
    m.recall_defined = m.support > 0;
    m.precision = m.precision_defined ? double(m.true_positives) / double(m.predicted) : 0.0;
    m.recall = m.recall_defined ? double(m.true_positives) / double(m.support) : 0.0;
    precision_sum += m.precision;
    recall_sum += m.recall;
  }
  macro_precision_ = precision_sum / classes_;
  macro_recall_ = recall_sum / classes_;
}

namespace {

std::string percent(double fraction, bool defined) { return defined ? fixed(100 * fraction, 2) + "%" : "n/a"; }

std::string pad_left(const std::string& text, size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

std::string pad_right(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

}  // namespace

std::string confusion_table(const ConfusionMatrix& matrix, const std::vector<std::string>& class_names) {
  const int classes = matrix.classes();
  if (class_names.size() != static_cast<size_t>(classes)) {
    throw Error("confusion table: " + std::to_string(class_names.size()) + " class names for " + std::to_string(classes) +
                " classes");
  }
  std::vector<std::string> row_labels;
  for (int c = 0; c < classes; ++c) {
    const std::string index = std::to_string(c);
    const std::string& name = class_names[static_cast<size_t>(c)];
    row_labels.push_back(name == index ? index : index + " " + name);
  }
  const std::string corner = "true\\pred";
  const std::string precision_label = "precision";
  size_t label_width = std::max(corner.size(), precision_label.size());
  for (const std::string& label : row_labels) label_width = std::max(label_width, label.size());

  // Wide enough for "100.00%" in the precision row and for the largest count.
  size_t cell = 7;
  for (int64_t n : matrix.counts()) cell = std::max(cell, std::to_string(n).size());
  const size_t gap = 1;
  const std::string support_label = "support";
  const size_t support_width = std::max(support_label.size(), std::to_string(matrix.total()).size());

  std::ostringstream out;
  out << pad_right(corner, label_width);
  for (int p = 0; p < classes; ++p) out << std::string(gap, ' ') << pad_left(std::to_string(p), cell);
  out << "  " << pad_left("recall", cell) << "  " << pad_left(support_label, support_width) << "\n";
  for (int t = 0; t < classes; ++t) {
    const ClassMetrics& m = matrix.class_metrics(t);
    out << pad_right(row_labels[static_cast<size_t>(t)], label_width);
    for (int p = 0; p < classes; ++p) out << std::string(gap, ' ') << pad_left(std::to_string(matrix.count(t, p)), cell);
    out << "  " << pad_left(percent(m.recall, m.recall_defined), cell) << "  "
        << pad_left(std::to_string(m.support), support_width) << "\n";
  }
  out << pad_right(precision_label, label_width);
  bool any_undefined = false;
  for (int p = 0; p < classes; ++p) {
    const ClassMetrics& m = matrix.class_metrics(p);
    any_undefined = any_undefined || !m.precision_defined || !m.recall_defined;
    out << std::string(gap, ' ') << pad_left(percent(m.precision, m.precision_defined), cell);
  }
  out << "  " << pad_left("", cell) << "  " << pad_left(std::to_string(matrix.total()), support_width) << "\n";
  out << "macro precision " << percent(matrix.macro_precision(), true) << "  macro recall "
      << percent(matrix.macro_recall(), true) << "  accuracy " << percent(matrix.accuracy(), matrix.total() > 0) << "\n";
  if (any_undefined) {
    out << "n/a: 0/0 (a class never predicted has no precision, one without samples no recall); counted as 0 in the "
           "macro averages\n";
  }
  return out.str();
}

}  // namespace train_gpu::eval

#include "host/eval/evaluator.h"

#include <algorithm>
#include <numeric>

#include "host/common/error.h"

namespace train_gpu::eval {

const char* split_name(Split split) { return split == Split::kTrain ? "train" : "test"; }

Evaluation evaluate_split(Backend& backend, const ImageSet& images, Split split, int batch_size) {
  if (batch_size < 1) throw Error("evaluation batch size must be at least 1, got " + std::to_string(batch_size));
  if (images.count <= 0) throw Error(std::string("the ") + split_name(split) + " split is empty: nothing to evaluate");
  if (images.labels.size() != static_cast<size_t>(images.count)) {
    throw Error(std::string("the ") + split_name(split) + " split has " + std::to_string(images.labels.size()) +
                " labels for " + std::to_string(images.count) + " images");
  }
  backend.take_totals(PassKind::kEvaluation);  // drop whatever an earlier pass left

  std::vector<int32_t> order(static_cast<size_t>(images.count));
  std::iota(order.begin(), order.end(), 0);
  backend.set_order(split, order);

  const std::size_t classes = static_cast<std::size_t>(backend.network().classes());
  Evaluation evaluation;
  evaluation.split = split;
  evaluation.predictions.reserve(order.size());
  evaluation.probabilities.reserve(order.size() * classes);
  std::vector<float> probabilities(static_cast<size_t>(batch_size) * classes);
  for (int64_t first = 0; first < images.count; first += batch_size) {
    const int count = static_cast<int>(std::min<int64_t>(batch_size, images.count - first));
    backend.evaluate_batch(split, first, count, probabilities.data());
    evaluation.probabilities.insert(evaluation.probabilities.end(), probabilities.begin(),
                                    probabilities.begin() + static_cast<std::ptrdiff_t>(count * classes));
    for (int i = 0; i < count; ++i) {
      const float* row = probabilities.data() + static_cast<size_t>(i) * classes;
      const int predicted = static_cast<int>(std::max_element(row, row + classes) - row);
      SamplePrediction prediction;
      prediction.index = first + i;
      prediction.true_label = images.labels[static_cast<size_t>(first + i)];
      prediction.predicted_label = predicted;
      prediction.confidence = row[predicted];
      evaluation.predictions.push_back(prediction);
    }
  }
  evaluation.totals = backend.take_totals(PassKind::kEvaluation);
  if (evaluation.totals.samples != images.count) {
    throw Error("the backend counted " + std::to_string(evaluation.totals.samples) + " evaluated samples, expected " +
                std::to_string(images.count));
  }
  evaluation.loss = evaluation.totals.mean_sample_loss();
  evaluation.accuracy = evaluation.totals.accuracy();
  return evaluation;
}

std::vector<SamplePrediction> mistakes_by_confidence(const Evaluation& evaluation) {
  std::vector<SamplePrediction> mistakes;
  for (const SamplePrediction& p : evaluation.predictions) {
    if (p.predicted_label != p.true_label) mistakes.push_back(p);
  }
  std::stable_sort(mistakes.begin(), mistakes.end(),
                   [](const SamplePrediction& a, const SamplePrediction& b) { return a.confidence > b.confidence; });
  return mistakes;
}

}  // namespace train_gpu::eval

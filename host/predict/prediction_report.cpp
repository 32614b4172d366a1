#include "host/predict/prediction_report.h"

#include <algorithm>
#include <numeric>

#include "host/common/format.h"

namespace train_gpu::predict {

namespace {

constexpr size_t kTop = 3;

std::string class_text(int c, const std::vector<std::string>& names) {
  const std::string number = std::to_string(c);
  const std::string& name = names[static_cast<size_t>(c)];
  return name == number ? number : number + " (" + name + ")";
}

}  // namespace

std::vector<int> classes_by_probability(const std::vector<float>& probabilities) {
  std::vector<int> classes(probabilities.size());
  std::iota(classes.begin(), classes.end(), 0);
  std::stable_sort(classes.begin(), classes.end(), [&](int a, int b) {
    return probabilities[static_cast<size_t>(a)] > probabilities[static_cast<size_t>(b)];
  });
  return classes;
}

std::string prediction_text(const PredictInput& input, const std::vector<float>& probabilities,
                            const std::vector<std::string>& class_names) {
  const std::vector<int> ranked = classes_by_probability(probabilities);
  std::string text = input.name + ": " + class_text(ranked[0], class_names) + "  top-3:";
  for (size_t k = 0; k < std::min(kTop, ranked.size()); ++k) {
    text += (k == 0 ? " " : "  ") + class_text(ranked[k], class_names) + " " +
            fixed(100.0 * probabilities[static_cast<size_t>(ranked[k])], 2) + "%";
  }
  if (input.label >= 0) text += "  label " + std::to_string(input.label) + (input.label == ranked[0] ? "" : ", wrong");
  text += "\n  preprocessing: ";
  for (size_t i = 0; i < input.steps.size(); ++i) text += (i ? "; " : "") + input.steps[i];
  return text + "\n";
}

nlohmann::json prediction_json(const PredictInput& input, const std::vector<float>& probabilities,
                               const std::vector<std::string>& class_names) {
  if (!input.error.empty()) return {{"input", input.name}, {"error", input.error}};
  const std::vector<int> ranked = classes_by_probability(probabilities);
  nlohmann::json top = nlohmann::json::array();
  for (size_t k = 0; k < std::min(kTop, ranked.size()); ++k) {
    const int c = ranked[k];
    top.push_back({{"class", c},
                   {"name", class_names[static_cast<size_t>(c)]},
                   {"probability", probabilities[static_cast<size_t>(c)]}});
  }
  nlohmann::json document = {{"input", input.name},
                             {"predicted", ranked[0]},
                             {"class_name", class_names[static_cast<size_t>(ranked[0])]},
                             {"top3", top},
                             {"probabilities", probabilities},
                             {"preprocessing", input.steps}};
  if (input.label >= 0) document["label"] = input.label;
  return document;
}

}  // namespace train_gpu::predict

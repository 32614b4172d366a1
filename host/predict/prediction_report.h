// What `predict` prints per image: the predicted class and the three most probable classes as a
// line for people, or as JSON for machines, with the preprocessing steps and, when known, the
// true label. Class names come from the dataset the checkpoint was trained on.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "host/predict/predict_inputs.h"

namespace train_gpu::predict {

// The classes by probability, highest first (ties: the lower class first).
std::vector<int> classes_by_probability(const std::vector<float>& probabilities);

// Two lines for a predicted input (probabilities: its 10 class probabilities):
//   "digit.png: 7  top-3: 7 99.81%  1 0.12%  2 0.04%"   (with "  label 7" or "  label 3, wrong")
//   "  preprocessing: <step>; <step>; ..."
// Names other than the class number (Fashion-MNIST) follow it in parentheses.
std::string prediction_text(const PredictInput& input, const std::vector<float>& probabilities,
                            const std::vector<std::string>& class_names);

// {"input", "predicted", "class_name", "top3": [{"class", "name", "probability"}], "probabilities",
//  "preprocessing", "label" (when known)} or, for an input with an error, {"input", "error"}.
nlohmann::json prediction_json(const PredictInput& input, const std::vector<float>& probabilities,
                               const std::vector<std::string>& class_names);

}  // namespace train_gpu::predict

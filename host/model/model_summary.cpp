#include "host/model/model_summary.h"

#include <cstdio>
#include <string>

#include "host/common/format.h"
#include "host/model/model_spec.h"

namespace train_gpu {

std::string model_summary_table() {
  using namespace model;
  struct Row {
    const char* layer;
    std::string shape;
    size_t parameters;
  };
  const std::string side = std::to_string(kConvSide), pool = std::to_string(kPoolSide);
  const Row rows[] = {
      {"conv (Conv2D 3x3, ReLU)", "(None, " + side + ", " + side + ", 32)", kConvWeightCount + kConvBiasCount},
      {"pool (MaxPooling2D 2x2)", "(None, " + pool + ", " + pool + ", 32)", 0},
      {"flatten (Flatten)", "(None, " + std::to_string(kFlatFeatures) + ")", 0},
      {"fc1 (Dense, ReLU)", "(None, " + std::to_string(kHidden) + ")", kFc1WeightCount + kFc1BiasCount},
      {"fc2 (Dense, logits)", "(None, " + std::to_string(kClasses) + ")", kFc2WeightCount + kFc2BiasCount},
  };
  std::string out = "Model: \"mnist_cnn\" (the TensorFlow 2 tutorial's custom model)\n";
  const std::string rule(66, '_'), double_rule(66, '=');
  char line[128];
  out += rule + "\n";
  std::snprintf(line, sizeof line, "%-28s %-24s %12s\n", "Layer (type)", "Output Shape", "Param #");
  out += line + double_rule + "\n";
  size_t total = 0;
  for (const Row& row : rows) {
    std::snprintf(line, sizeof line, "%-28s %-24s %12s\n", row.layer, row.shape.c_str(),
                  with_thousands(static_cast<int64_t>(row.parameters)).c_str());
    out += line;
    total += row.parameters;
  }
  out += double_rule + "\n";
  out += "Total params: " + with_thousands(static_cast<int64_t>(total)) + "\n";
  out += "Trainable params: " + with_thousands(static_cast<int64_t>(total)) + "\n";
  out += "Non-trainable params: 0\n" + rule + "\n";
  return out;
}

}  // namespace train_gpu

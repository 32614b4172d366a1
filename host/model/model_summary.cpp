#include "host/model/model_summary.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "host/common/format.h"

namespace train_gpu {

std::string keras_output_shape(const model::Shape& shape, bool image) {
  if (!image) return "(None, " + std::to_string(shape.size()) + ")";
  return "(None, " + std::to_string(shape.height) + ", " + std::to_string(shape.width) + ", " + std::to_string(shape.channels) + ")";
}

std::string model_summary_table(const model::NetworkSpec& spec) {
  using namespace model;
  struct Row {
    std::string layer, shape, parameters;
  };
  std::vector<Row> rows;
  const std::size_t trainable = spec.parameter_count, non_trainable = spec.buffer_count;
  bool image = true;  // Flatten and Dense make the activation a vector, as in Keras
  for (const LayerSpec& layer : spec.layers) {
    if (layer.kind == LayerKind::kFlatten || layer.kind == LayerKind::kDense) image = false;
    std::size_t count = 0;
    for (int i = 0; i < layer.parameter_tensors; ++i) count += spec.parameters[std::size_t(layer.first_parameter + i)].count;
    for (int i = 0; i < layer.buffer_tensors; ++i) count += spec.buffers[std::size_t(layer.first_buffer + i)].count;
    rows.push_back({layer.name + " (" + kind_name(layer.kind) + ")", keras_output_shape(layer.output, image),
                    with_thousands(static_cast<int64_t>(count))});
  }

  std::size_t layer_width = 28, shape_width = 24, count_width = 12;
  for (const Row& row : rows) {
    layer_width = std::max(layer_width, row.layer.size());
    shape_width = std::max(shape_width, row.shape.size());
    count_width = std::max(count_width, row.parameters.size());
  }
  const auto line = [&](const std::string& layer, const std::string& shape, const std::string& count) {
    return layer + std::string(layer_width + 1 - layer.size(), ' ') + shape + std::string(shape_width + 1 - shape.size(), ' ') +
           std::string(count_width - count.size(), ' ') + count + "\n";
  };
  const std::size_t width = layer_width + shape_width + count_width + 2;
  const std::string rule(width, '_'), double_rule(width, '=');
  std::string out = spec.is_tutorial() ? "Model: \"mnist_cnn\" (the TensorFlow 2 tutorial's network)\n"
                                       : "Model: \"sequential\" (input " + to_string(spec.input) + ")\n";
  out += rule + "\n" + line("Layer (type)", "Output Shape", "Param #") + double_rule + "\n";
  for (const Row& row : rows) out += line(row.layer, row.shape, row.parameters);
  out += double_rule + "\n";
  out += "Total params: " + with_thousands(static_cast<int64_t>(trainable + non_trainable)) + "\n";
  out += "Trainable params: " + with_thousands(static_cast<int64_t>(trainable)) + "\n";
  out += "Non-trainable params: " + with_thousands(static_cast<int64_t>(non_trainable)) + "\n" + rule + "\n";
  return out;
}

}  // namespace train_gpu

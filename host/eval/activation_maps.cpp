#include "host/eval/activation_maps.h"

#include <cctype>

#include "host/common/error.h"

namespace train_gpu::eval {

namespace {

std::string conv_layers_text(const model::NetworkSpec& spec) {
  std::string text;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    if (spec.layers[i].kind != model::LayerKind::kConv2D) continue;
    text += (text.empty() ? "" : ", ") + std::to_string(i + 1) + " (" + spec.layers[i].name + ")";
  }
  return text;
}

int first_conv(const model::NetworkSpec& spec) {
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    if (spec.layers[i].kind == model::LayerKind::kConv2D) return int(i);
  }
  return -1;
}

}  // namespace

int feature_layer_index(const model::NetworkSpec& spec, const std::string& choice) {
  if (first_conv(spec) < 0) throw Error("--layer: the model has no Conv2D layer, so no feature maps to show");
  if (choice.empty()) return first_conv(spec);
  int index = -1;
  const bool number = choice.size() <= 9 && choice.find_first_not_of("0123456789") == std::string::npos;
  if (number) {
    index = std::stoi(choice) - 1;
  } else {
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      if (spec.layers[i].name == choice) index = int(i);
    }
  }
  const std::string choices = "; the Conv2D layers are " + conv_layers_text(spec);
  if (index < 0 || index >= int(spec.layers.size())) {
    throw Error("--layer " + choice + ": no such layer (" + (number ? "positions 1.." + std::to_string(spec.layers.size()) : "by name") +
                ")" + choices);
  }
  const model::LayerSpec& layer = spec.layers[std::size_t(index)];
  if (layer.kind != model::LayerKind::kConv2D) {
    throw Error("--layer " + choice + ": layer " + std::to_string(index + 1) + " (" + layer.name + ") is a " +
                model::kind_name(layer.kind) + ", not a Conv2D" + choices);
  }
  return index;
}

FeatureMaps feature_maps_of(const ImageActivations& activations, const model::NetworkSpec& spec, int layer) {
  const model::LayerSpec& shown = spec.layers.at(std::size_t(layer));
  for (const ConvMaps& conv : activations.conv_layers) {
    if (conv.layer != layer) continue;
    // Another layer than the first Conv2D names its files after itself.
    FeatureMaps maps{conv.shape.channels, conv.shape.height, conv.shape.width, conv.values,
                     layer == first_conv(spec) ? "" : shown.name};
    check_feature_maps(maps);
    return maps;
  }
  throw Error("--layer: the backend gave no maps of layer " + std::to_string(layer + 1) + " (" + shown.name + ")");
}

}  // namespace train_gpu::eval

#include "host/model/spec_line.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "host/common/error.h"

namespace train_gpu::model {
namespace {

constexpr const char* kLayerWords = "conv, maxpool, avgpool, flatten, dense, dropout, batchnorm, relu, tanh, sigmoid, softmax, linear";
constexpr int kMaxNumber = 1 << 20;  // build_network() applies the real limits; this keeps ints ints

std::string trimmed(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  for (std::string& word : split(text, ' ')) {
    word = trimmed(word);
    if (!word.empty()) words.push_back(std::move(word));
  }
  return words;
}

bool activation_word(const std::string& word, Activation& activation) {
  for (const Activation candidate :
       {Activation::kLinear, Activation::kRelu, Activation::kTanh, Activation::kSigmoid, Activation::kSoftmax}) {
    if (activation_name(candidate) == word) {
      activation = candidate;
      return true;
    }
  }
  return false;
}

// Parses one item; every complaint names it.
class ItemParser {
 public:
  ItemParser(std::size_t index, std::string item) : item_(std::move(item)), prefix_("--model: item " + std::to_string(index + 1) + " '" + item_ + "': ") {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(prefix_ + what); }

  // "32" -> 32; the whole text must be the integer.
  int integer(const std::string& text, const std::string& what) const {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1 || value > kMaxNumber) {
      fail(what + " '" + text + "' must be an integer from 1 to " + std::to_string(kMaxNumber));
    }
    return value;
  }

  // "3" -> {3, 3}; "3x5" -> {3, 5}.
  std::pair<int, int> size(const std::string& text, const std::string& what) const {
    const std::size_t x = text.find('x');
    if (x == std::string::npos) {
      const int both = integer(text, what);
      return {both, both};
    }
    return {integer(text.substr(0, x), what), integer(text.substr(x + 1), what)};
  }

  float real(const std::string& text, const std::string& what) const {
    float value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
      fail(what + " '" + text + "' must be a number");
    }
    return value;
  }

  LayerSpec parse() const {
    const std::vector<std::string> words = words_of(item_);
    if (words.empty()) fail("empty item; expected a layer such as conv32k3 or dense10");
    const std::string& head = words[0];
    LayerSpec layer;
    // The options each layer accepts, checked as the words are read.
    bool window = false, weights = false, batchnorm = false;
    if (head.rfind("conv", 0) == 0) {
      layer.kind = LayerKind::kConv2D;
      const std::string sizes = head.substr(4);
      const std::size_t k = sizes.find('k');
      if (k == std::string::npos) fail("conv needs its filters and kernel, e.g. conv32k3 (32 filters, 3x3)");
      layer.units = integer(sizes.substr(0, k), "filters");
      std::tie(layer.kernel_h, layer.kernel_w) = size(sizes.substr(k + 1), "kernel");
      window = weights = true;
    } else if (head.rfind("maxpool", 0) == 0 || head.rfind("avgpool", 0) == 0) {
      layer.kind = head[0] == 'm' ? LayerKind::kMaxPool2D : LayerKind::kAvgPool2D;
      std::tie(layer.kernel_h, layer.kernel_w) = size(head.substr(7), "pool size");
      window = true;
    } else if (head == "flatten") {
      layer.kind = LayerKind::kFlatten;
    } else if (head.rfind("dense", 0) == 0) {
      layer.kind = LayerKind::kDense;
      layer.units = integer(head.substr(5), "units");
      weights = true;
    } else if (head.rfind("dropout", 0) == 0) {
      layer.kind = LayerKind::kDropout;
      layer.rate = real(head.substr(7), "dropout rate");
    } else if (head == "batchnorm") {
      layer.kind = LayerKind::kBatchNorm;
      batchnorm = true;
    } else if (activation_word(head, layer.activation)) {
      layer.kind = LayerKind::kActivation;
    } else {
      fail("unknown layer '" + head + "'; layers are " + kLayerWords);
    }

    std::set<std::string> seen;
    for (std::size_t i = 1; i < words.size(); ++i) {
      const std::string& word = words[i];
      const std::size_t equals = word.find('=');
      const std::string key = equals == std::string::npos ? word : word.substr(0, equals);
      const std::string value = equals == std::string::npos ? "" : word.substr(equals + 1);
      Activation activation = Activation::kLinear;
      std::string option;  // which option the word sets, to refuse it twice
      if (key == "name" && equals != std::string::npos) {
        if (value.empty()) fail("name= needs a name");
        layer.name = value;
        option = "name";
      } else if (window && word.size() > 1 && word[0] == 's' && std::isdigit(static_cast<unsigned char>(word[1]))) {
        std::tie(layer.stride_h, layer.stride_w) = size(word.substr(1), "strides");
        option = "strides";
      } else if (window && (word == "same" || word == "valid")) {
        layer.padding = word == "same" ? Padding::kSame : Padding::kValid;
        option = "padding";
      } else if (weights && word == "nobias") {
        layer.use_bias = false;
        option = "bias";
      } else if (weights && activation_word(word, activation)) {
        layer.activation = activation;
        option = "activation";
      } else if (batchnorm && key == "momentum" && equals != std::string::npos) {
        layer.momentum = real(value, "momentum");
        option = "momentum";
      } else if (batchnorm && key == "epsilon" && equals != std::string::npos) {
        layer.epsilon = real(value, "epsilon");
        option = "epsilon";
      } else {
        std::string accepted = "name=";
        if (window) accepted += ", s<stride>, same, valid";
        if (weights) accepted += ", nobias, relu, tanh, sigmoid, softmax, linear";
        if (batchnorm) accepted += ", momentum=, epsilon=";
        fail("option '" + word + "' is not one of " + head + "'s (" + accepted + ")");
      }
      if (!seen.insert(option).second) fail("option '" + word + "' sets its " + option + " a second time");
    }
    return layer;
  }

 private:
  std::string item_;
  std::string prefix_;
};

std::string size_text(int a, int b) { return std::to_string(a) + (a == b ? "" : "x" + std::to_string(b)); }

// The shortest text that reads back as the same float.
std::string float_text(float value) {
  char text[32];
  const std::to_chars_result end = std::to_chars(text, text + sizeof text, value);
  return std::string(text, end.ptr);
}

std::string layer_words(const LayerSpec& layer) {
  std::string text;
  const auto activation = [&] { return layer.activation == Activation::kLinear ? "" : " " + activation_name(layer.activation); };
  switch (layer.kind) {
    case LayerKind::kConv2D:
      text = "conv" + std::to_string(layer.units) + "k" + size_text(layer.kernel_h, layer.kernel_w);
      if (layer.stride_h != 1 || layer.stride_w != 1) text += " s" + size_text(layer.stride_h, layer.stride_w);
      if (layer.padding == Padding::kSame) text += " same";
      if (!layer.use_bias) text += " nobias";
      return text + activation();
    case LayerKind::kMaxPool2D:
    case LayerKind::kAvgPool2D:
      text = (layer.kind == LayerKind::kMaxPool2D ? "maxpool" : "avgpool") + size_text(layer.kernel_h, layer.kernel_w);
      if (layer.stride_h != layer.kernel_h || layer.stride_w != layer.kernel_w) {
        text += " s" + size_text(layer.stride_h, layer.stride_w);
      }
      if (layer.padding == Padding::kSame) text += " same";
      return text;
    case LayerKind::kFlatten: return "flatten";
    case LayerKind::kDense: return "dense" + std::to_string(layer.units) + (layer.use_bias ? "" : " nobias") + activation();
    case LayerKind::kDropout: return "dropout" + float_text(layer.rate);
    case LayerKind::kBatchNorm:
      text = "batchnorm";
      if (layer.momentum != LayerSpec().momentum) text += " momentum=" + float_text(layer.momentum);
      if (layer.epsilon != LayerSpec().epsilon) text += " epsilon=" + float_text(layer.epsilon);
      return text;
    case LayerKind::kActivation: return activation_name(layer.activation);
  }
  return text;
}

}  // namespace

NetworkSpec network_from_line(const std::string& line, const Shape& input) {
  std::vector<LayerSpec> layers;
  const std::vector<std::string> items = split(line, ',');
  for (std::size_t i = 0; i < items.size(); ++i) layers.push_back(ItemParser(i, trimmed(items[i])).parse());
  try {
    return build_network(input, std::move(layers));
  } catch (const Error& error) {
    throw Error(std::string("--model: ") + error.what());
  }
}

std::string spec_line(const NetworkSpec& spec) {
  // Which layers need their name written: those whose name is not the one build_network() gives
  // an unnamed layer there. Default names depend on the explicit ones before them (a taken name
  // is skipped), so this grows the set until the rebuilt names all agree.
  std::vector<bool> named(spec.layers.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<LayerSpec> layers = spec.layers;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (!named[i]) layers[i].name.clear();
    }
    const NetworkSpec rebuilt = build_network(spec.input, std::move(layers));
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      if (!named[i] && rebuilt.layers[i].name != spec.layers[i].name) named[i] = changed = true;
    }
  }
  std::string line;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    std::string item = layer_words(layer);
    if (named[i]) {
      if (layer.name.find_first_of(", \t") != std::string::npos) {
        throw Error("layer " + std::to_string(i + 1) + " '" + layer.name +
                    "': a name with a comma or a space cannot be written in the one-line --model form");
      }
      item += " name=" + layer.name;
    }
    line += (line.empty() ? "" : ", ") + item;
  }
  return line;
}

}  // namespace train_gpu::model

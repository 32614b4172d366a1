#include "host/model/keras_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "host/common/error.h"
#include "host/train/run_config.h"

namespace train_gpu::model {
namespace {

using nlohmann::json;

constexpr int kMaxDimension = 1 << 20;  // build_network() applies the real limits; this keeps ints ints

// A JSON value as a message shows it: scalars and short flat arrays as written ("[2, 2]"),
// anything else by its type, so that a hostile file's deep nesting never reaches dump()'s
// recursion and the message stays one short line.
std::string shown(const json& value) {
  if (value.is_primitive()) {
    std::string text = value.dump();
    return text.size() <= 40 ? text : text.substr(0, 37) + "...";
  }
  if (value.is_array() && value.size() <= 8 &&
      std::all_of(value.begin(), value.end(), [](const json& item) { return item.is_number() || item.is_null(); })) {
    std::string text;
    for (const json& item : value) text += (text.empty() ? "" : ", ") + item.dump();
    return "[" + text + "]";
  }
  return value.is_array() ? "an array of " + std::to_string(value.size()) + " items" : "an object";
}

// An initializer's class as Keras writes it (Keras 3: {"module": ..., "class_name": "GlorotUniform",
// ...}; Keras 2: {"class_name": "GlorotUniform", "config": {...}}; or a string "glorot_uniform"),
// lower-cased without underscores so both spellings compare equal.
std::optional<std::string> initializer_name(const json& value) {
  std::string name;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object() && value.contains("class_name") && value["class_name"].is_string()) {
    name = value["class_name"].get<std::string>();
  } else {
    return std::nullopt;
  }
  std::string folded;
  for (const char c : name) {
    if (c != '_') folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return folded;
}

std::optional<Activation> activation_from(const std::string& name) {
  for (const Activation activation :
       {Activation::kLinear, Activation::kRelu, Activation::kTanh, Activation::kSigmoid, Activation::kSoftmax}) {
    if (activation_name(activation) == name) return activation;
  }
  return std::nullopt;
}

// Reads one layer's "config" object. Every key it reads is marked; finish() refuses the keys left
// unread unless they are null (Keras writes many options as null when they are off, and adds new
// ones across versions the same way), so no option is silently dropped.
class ConfigReader {
 public:
  ConfigReader(const json& config, std::string prefix, std::vector<std::string>* notes)
      : config_(config), prefix_(std::move(prefix)), notes_(notes) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(prefix_ + what); }
  const std::string& prefix() const { return prefix_; }

  const json* find(const std::string& key) {
    used_.insert(key);
    const auto found = config_.find(key);
    return found == config_.end() ? nullptr : &*found;
  }

  int integer(const std::string& key, int low, int high, std::optional<int> fallback = std::nullopt) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) {
      if (!fallback) fail(key + " is missing; expected an integer");
      return *fallback;
    }
    return checked_integer(*value, key, low, high);
  }

  // Keras's "int or tuple of 2 ints" options (kernel_size, strides, pool_size, dilation_rate).
  std::pair<int, int> pair(const std::string& key, int low, int high, std::optional<std::pair<int, int>> fallback = std::nullopt) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) {
      if (!fallback) fail(key + " is missing; expected an integer or a list of 2");
      return *fallback;
    }
    if (value->is_array()) {
      if (value->size() != 2) fail(key + " " + shown(*value) + " must be an integer or a list of 2 integers");
      return {checked_integer((*value)[0], key, low, high), checked_integer((*value)[1], key, low, high)};
    }
    const int both = checked_integer(*value, key, low, high);
    return {both, both};
  }

  double number(const std::string& key, double fallback) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_number() || !std::isfinite(value->get<double>())) fail(key + " " + shown(*value) + " must be a number");
    return value->get<double>();
  }

  bool boolean(const std::string& key, bool fallback) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_boolean()) fail(key + " " + shown(*value) + " must be true or false");
    return value->get<bool>();
  }

  std::string text(const std::string& key, const std::string& fallback) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_string()) fail(key + " " + shown(*value) + " must be a string");
    return value->get<std::string>();
  }

  Padding padding() {
    const std::string value = text("padding", "valid");
    if (value == "valid") return Padding::kValid;
    if (value == "same") return Padding::kSame;
    fail("padding '" + value + "' is not supported; use valid or same");
  }

  Activation activation() {
    const json* value = find("activation");
    if (value == nullptr || value->is_null()) return Activation::kLinear;
    if (!value->is_string()) fail("activation " + shown(*value) + " is not supported; use relu, linear, tanh, sigmoid or softmax");
    const std::optional<Activation> activation = activation_from(value->get<std::string>());
    if (!activation) {
      fail("activation '" + value->get<std::string>() + "' is not supported; use relu, linear, tanh, sigmoid or softmax");
    }
    return *activation;
  }

  // channels_first: true, channels_last (or unset, Keras's default): false.
  bool channels_first() {
    const std::string value = text("data_format", "channels_last");
    if (value != "channels_last" && value != "channels_first") {
      fail("data_format '" + value + "' is not supported; use channels_last or channels_first");
    }
    return value == "channels_first";
  }

  // Options that change what is computed but that we support only at one value.
  void require_one(const std::string& key, const char* only) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return;
    const bool one = (value->is_number() && value->get<double>() == 1.0) ||
                     (value->is_array() && std::all_of(value->begin(), value->end(), [](const json& item) {
                        return item.is_number() && item.get<double>() == 1.0;
                      }));
    if (!one) fail(key + " " + shown(*value) + " is not supported; only " + only);
  }

  void require_absent(const std::string& key, const std::string& why) {
    const json* value = find(key);
    if (value != nullptr && !value->is_null()) fail(key + " " + shown(*value) + " is not supported; " + why);
  }

  void require_false(const std::string& key, const std::string& why) {
    if (boolean(key, false)) fail(key + " true is not supported; " + why);
  }

  // An initializer: Keras's default is what training here starts from; another is set aside
  // with a note (it changes only where training starts, not what the model is).
  void initializer(const std::string& key, const char* keras_default) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return;
    const std::optional<std::string> name = initializer_name(*value);
    if (!name) fail(key + " " + shown(*value) + " is not an initializer Keras writes");
    std::string folded_default;
    for (const char* c = keras_default; *c != '\0'; ++c) folded_default += static_cast<char>(std::tolower(*c));
    if (*name != folded_default && notes_ != nullptr) {
      notes_->push_back(prefix_ + key + " " + shown(value->is_object() ? (*value)["class_name"] : *value) +
                        " is set aside: training here starts from Keras's default, " + keras_default);
    }
  }

  void no_regularizer(const std::string& key) {
    require_absent(key, "train_gpu trains without weight penalties; remove it (or use --weight-decay where available)");
  }
  void no_constraint(const std::string& key) { require_absent(key, "train_gpu applies no weight constraints; remove it"); }

  // The keys every layer has: name (read by the caller), trainable, dtype.
  void common() {
    find("name");
    if (!boolean("trainable", true)) fail("trainable false (a frozen layer) is not supported; every layer trains here");
    const json* dtype = find("dtype");
    if (dtype != nullptr && !dtype->is_null()) {
      const json* name = dtype;
      if (dtype->is_object()) {
        const auto config = dtype->find("config");
        if (config != dtype->end() && config->is_object() && config->contains("name")) name = &(*config)["name"];
      }
      if (!name->is_string() || name->get<std::string>() != "float32") {
        fail("dtype " + shown(name->is_string() ? *name : *dtype) + " is not supported; only float32");
      }
    }
  }

  void finish() const {
    for (auto item = config_.begin(); item != config_.end(); ++item) {
      if (used_.count(item.key()) == 0 && !item.value().is_null()) {
        fail("option '" + item.key() + "' (" + shown(item.value()) + ") is not supported");
      }
    }
  }

 private:
  int checked_integer(const json& value, const std::string& key, int low, int high) const {
    const bool integral = value.is_number_integer() || value.is_number_unsigned() ||
                          (value.is_number_float() && std::isfinite(value.get<double>()) &&
                           value.get<double>() == std::floor(value.get<double>()));
    if (!integral || value.get<double>() < low || value.get<double>() > high) {
      fail(key + " " + shown(value) + " must be an integer from " + std::to_string(low) + " to " + std::to_string(high));
    }
    return static_cast<int>(value.get<double>());
  }

  const json& config_;
  std::string prefix_;
  std::vector<std::string>* notes_;
  std::set<std::string> used_;
};

// A Keras shape ([null, 28, 28, 1] with the batch, or without), as positive ints.
std::vector<int> keras_dims(const json& value, bool with_batch, const std::string& where) {
  if (!value.is_array() || value.size() < (with_batch ? 2u : 1u) || value.size() > 5) {
    throw Error(where + shown(value) + " is not a shape; expected e.g. [null, 28, 28, 1]");
  }
  std::vector<int> dims;
  for (std::size_t i = with_batch ? 1 : 0; i < value.size(); ++i) {
    const json& dim = value[i];
    if (!dim.is_number_integer() && !dim.is_number_unsigned()) {
      throw Error(where + shown(value) + " has a dimension that is not a positive integer; every dimension but the batch must be known");
    }
    if (dim.get<double>() < 1 || dim.get<double>() > kMaxDimension) {
      throw Error(where + shown(value) + " has a dimension outside 1.." + std::to_string(kMaxDimension));
    }
    dims.push_back(dim.get<int>());
  }
  return dims;
}

std::string dims_text(const std::vector<int>& dims) {
  std::string text;
  for (const int dim : dims) text += (text.empty() ? "" : ", ") + std::to_string(dim);
  return "(" + text + (dims.size() == 1 ? ",)" : ")");
}

struct ParsedModel {
  std::optional<std::vector<int>> input;  // Keras's dims, without the batch
  std::string input_where;                // where the input came from, for messages
  std::optional<bool> channels_first;     // set by the first layer that names a data_format
  std::vector<LayerSpec> layers;
  std::vector<std::pair<std::string, int>> batchnorm_axes;  // (message prefix, axis), checked once the format is known
};

void set_format(ParsedModel& model, ConfigReader& config) {
  const bool first = config.channels_first();
  if (model.channels_first && *model.channels_first != first) {
    config.fail(std::string("data_format ") + (first ? "channels_first" : "channels_last") + " differs from an earlier layer's; " +
                "one data format per model");
  }
  model.channels_first = first;
}

// The input shape a layer's config may carry (Keras 2 puts batch_input_shape on the first layer).
void read_input_shape(ParsedModel& model, ConfigReader& config, bool first_layer) {
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    const json* value = config.find(key);
    if (value == nullptr || value->is_null()) continue;
    if (!first_layer) config.fail(std::string(key) + " is allowed only on the first layer");
    model.input = keras_dims(*value, true, config.prefix() + key + " ");
    model.input_where = config.prefix() + key;
  }
}

// The options Conv2D and Dense share: activation, bias, and what Keras does to their weights.
void read_weights_options(ConfigReader& config, LayerSpec& layer) {
    layer.activation = config.activation();
    layer.use_bias = config.boolean("use_bias", true);
    config.initializer("kernel_initializer", "GlorotUniform");
    config.initializer("bias_initializer", "Zeros");
    for (const char* key : {"kernel_regularizer", "bias_regularizer", "activity_regularizer"}) config.no_regularizer(key);
    for (const char* key : {"kernel_constraint", "bias_constraint"}) config.no_constraint(key);
}

// One layer of the list into `model` (nothing for InputLayer and no-op Reshapes).
void read_layer(ParsedModel& model, const json& entry, std::size_t position, const std::string& source,
                std::vector<std::string>* notes) {
  const std::string at = source + ": layer " + std::to_string(position + 1);
  if (!entry.is_object()) throw Error(at + " is " + shown(entry) + ", expected an object with class_name and config");
  const auto class_name = entry.find("class_name");
  if (class_name == entry.end() || !class_name->is_string()) throw Error(at + " has no class_name string");
  const std::string kind = class_name->get<std::string>();
  const auto config_entry = entry.find("config");
  if (config_entry == entry.end() || !config_entry->is_object()) throw Error(at + " (" + kind + ") has no config object");
  const json& config_json = *config_entry;
  std::string name;
  if (const auto found = config_json.find("name"); found != config_json.end()) {
    if (!found->is_string()) throw Error(at + " (" + kind + "): name " + shown(*found) + " must be a string");
    name = found->get<std::string>();
  }
  ConfigReader config(config_json, at + (name.empty() ? "" : " '" + name + "'") + " (" + kind + "): ", notes);
  config.common();
  const bool first_layer = model.layers.empty() && !model.input;

  LayerSpec layer;
  layer.name = name;
  if (kind == "InputLayer") {
    if (!model.layers.empty() || model.input) config.fail("an InputLayer is allowed only first");
    read_input_shape(model, config, true);
    if (!model.input) config.fail("gives no batch_shape; expected e.g. [null, 28, 28, 1]");
    config.require_false("sparse", "the input is a dense image");
    config.require_false("ragged", "the input is a dense image");
    config.require_false("optional", "the input is required");
    config.finish();
    return;
  }
  read_input_shape(model, config, first_layer);

  if (kind == "Conv2D") {
    layer.kind = LayerKind::kConv2D;
    layer.units = config.integer("filters", 1, kMaxDimension);
    std::tie(layer.kernel_h, layer.kernel_w) = config.pair("kernel_size", 1, kMaxDimension);
    std::tie(layer.stride_h, layer.stride_w) = config.pair("strides", 1, kMaxDimension, std::make_pair(1, 1));
    layer.padding = config.padding();
    set_format(model, config);
    config.require_one("dilation_rate", "1");
    config.require_one("groups", "1");
    read_weights_options(config, layer);
  } else if (kind == "MaxPooling2D" || kind == "AveragePooling2D") {
    layer.kind = kind == "MaxPooling2D" ? LayerKind::kMaxPool2D : LayerKind::kAvgPool2D;
    std::tie(layer.kernel_h, layer.kernel_w) = config.pair("pool_size", 1, kMaxDimension, std::make_pair(2, 2));
    // null strides: the pool size (build_network's 0).
    std::tie(layer.stride_h, layer.stride_w) = config.pair("strides", 1, kMaxDimension, std::make_pair(0, 0));
    layer.padding = config.padding();
    set_format(model, config);
  } else if (kind == "Flatten") {
    layer.kind = LayerKind::kFlatten;
    set_format(model, config);
  } else if (kind == "Dense") {
    layer.kind = LayerKind::kDense;
    layer.units = config.integer("units", 1, kMaxDimension);
    read_weights_options(config, layer);
    config.find("input_dim");  // Keras 2's record of the input width: build_network derives it
  } else if (kind == "Dropout") {
    layer.kind = LayerKind::kDropout;
    const double rate = config.number("rate", -1.0);
    if (rate < 0.0 || rate >= 1.0) config.fail("rate " + std::to_string(rate) + " must be in [0, 1): the fraction dropped");
    layer.rate = static_cast<float>(rate);
    config.find("seed");  // our masks come from the run's --seed and the step
    config.require_absent("noise_shape", "masks are drawn per value");
  } else if (kind == "BatchNormalization") {
    layer.kind = LayerKind::kBatchNorm;
    const json* axis = config.find("axis");
    int axis_value = -1;
    if (axis != nullptr && !axis->is_null()) {
      const json& single = axis->is_array() && axis->size() == 1 ? (*axis)[0] : *axis;
      if (!single.is_number_integer()) config.fail("axis " + shown(*axis) + " is not supported; only the channel axis");
      axis_value = single.get<int>();
    }
    model.batchnorm_axes.emplace_back(config.prefix(), axis_value);
    layer.momentum = static_cast<float>(config.number("momentum", 0.99));
    layer.epsilon = static_cast<float>(config.number("epsilon", 1e-3));
    if (!config.boolean("center", true)) config.fail("center false is not supported; only true (a learned beta)");
    if (!config.boolean("scale", true)) config.fail("scale false is not supported; only true (a learned gamma)");
    config.initializer("beta_initializer", "Zeros");
    config.initializer("gamma_initializer", "Ones");
    config.initializer("moving_mean_initializer", "Zeros");
    config.initializer("moving_variance_initializer", "Ones");
    for (const char* key : {"beta_regularizer", "gamma_regularizer"}) config.no_regularizer(key);
    for (const char* key : {"beta_constraint", "gamma_constraint"}) config.no_constraint(key);
    config.require_false("renorm", "batch renormalization is not implemented");
    config.find("renorm_clipping");
    config.find("renorm_momentum");  // read only with renorm
    config.boolean("synchronized", false);  // one process: nothing to synchronize
    config.find("fused");                   // Keras 2's choice of kernel: no effect on the result
    config.require_absent("virtual_batch_size", "statistics are over the whole batch");
    config.require_absent("adjustment", "statistics are over the whole batch");
  } else if (kind == "Activation" || kind == "ReLU" || kind == "Softmax") {
    layer.kind = LayerKind::kActivation;
    if (kind == "Activation") {
      layer.activation = config.activation();
    } else if (kind == "ReLU") {
      layer.activation = Activation::kRelu;
      config.require_absent("max_value", "only a plain ReLU");
      if (config.number("negative_slope", 0.0) != 0.0) config.fail("negative_slope is not supported; only 0 (a plain ReLU)");
      if (config.number("threshold", 0.0) != 0.0) config.fail("threshold is not supported; only 0 (a plain ReLU)");
    } else {
      layer.activation = Activation::kSoftmax;
      const json* axis = config.find("axis");
      if (axis != nullptr && !axis->is_null() && !(axis->is_number_integer() && axis->get<int>() == -1)) {
        config.fail("axis " + shown(*axis) + " is not supported; only -1 (over the classes)");
      }
    }
  } else if (kind == "Reshape") {
    // Provably nothing to do only as the first layer: a one-channel input laid out as (H, W, 1),
    // or a target equal to the input; the values keep their order either way.
    const json* target = config.find("target_shape");
    if (target == nullptr) config.fail("target_shape is missing");
    const std::vector<int> dims = keras_dims(*target, false, config.prefix() + "target_shape ");
    config.finish();
    const std::vector<int>* input = model.input ? &*model.input : nullptr;
    const auto count = [](const std::vector<int>& d) {
      int64_t product = 1;
      for (const int v : d) product *= v;
      return product;
    };
    const bool first = model.layers.empty() && input != nullptr;
    const bool same = first && dims == *input;
    const bool to_gray_image = first && dims.size() == 3 && dims[2] == 1 && count(dims) == count(*input) &&
                               (input->size() == 1 || (input->size() == 2 && (*input)[0] == dims[0]));
    if (!same && !to_gray_image) {
      config.fail("Reshape to " + dims_text(dims) +
                  " is supported only as the first layer, turning a one-channel input into an image (H, W, 1) of the "
                  "same values; reshape the data instead");
    }
    model.input = dims;
    return;
  } else {
    config.fail("layer type " + kind +
                " is not supported; supported: InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, "
                "Dropout, BatchNormalization, Activation, ReLU, Softmax (and a first Reshape that changes nothing)");
  }
  config.finish();
  model.layers.push_back(std::move(layer));
}

}  // namespace

NetworkSpec network_from_keras_json(const std::string& json_text, const std::string& source, const Shape* data_input,
                                    std::vector<std::string>* notes) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& error) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." without the tag.
    std::string what = error.what();
    if (const std::size_t tag = what.find("] "); what.rfind("[json.exception", 0) == 0 && tag != std::string::npos) {
      what = what.substr(tag + 2);
    }
    throw Error(source + ": not valid JSON (" + what + "); expected what Keras's model.to_json() writes");
  }
  if (!root.is_object() || !root.contains("class_name") || !root["class_name"].is_string()) {
    throw Error(source + ": not a Keras model (no class_name at the top); expected what a keras.Sequential's to_json() writes");
  }
  const std::string model_class = root["class_name"].get<std::string>();
  if (model_class != "Sequential") {
    throw Error(source + ": a Keras " + model_class + " model; only keras.Sequential models are read (one input, one "
                         "chain of layers)");
  }
  const json* layers = nullptr;
  const json* config = root.contains("config") ? &root["config"] : nullptr;
  ParsedModel model;
  if (config != nullptr && config->is_array()) {
    layers = config;  // early Keras 2: the config is the layer list
  } else if (config != nullptr && config->is_object() && config->contains("layers")) {
    layers = &(*config)["layers"];
    if (const auto built = config->find("build_input_shape"); built != config->end() && !built->is_null()) {
      model.input = keras_dims(*built, true, source + ": build_input_shape ");
      model.input_where = source + ": build_input_shape";
    }
  }
  if (layers == nullptr || !layers->is_array()) throw Error(source + ": the Sequential's config holds no layer list");

  // The build_input_shape is the fallback; an InputLayer or batch_input_shape is authoritative.
  const std::optional<std::vector<int>> built = model.input;
  model.input.reset();
  for (std::size_t i = 0; i < layers->size(); ++i) read_layer(model, (*layers)[i], i, source, notes);
  if (model.layers.empty()) throw Error(source + ": the Sequential has no layers to train");
  if (!model.input) model.input = built;

  const bool channels_first = model.channels_first.value_or(false);
  for (const auto& [prefix, axis] : model.batchnorm_axes) {
    const bool channel_axis = channels_first ? (axis == 1 || axis == -3) : (axis == -1 || axis == 3);
    if (!channel_axis) {
      throw Error(prefix + "axis " + std::to_string(axis) + " is not supported; only the channel axis (" +
                  (channels_first ? "1" : "-1") + " for " + (channels_first ? "channels_first" : "channels_last") + ")");
    }
  }

  Shape input;
  if (model.input) {
    const std::vector<int>& dims = *model.input;
    if (dims.size() != 3) {
      throw Error(model.input_where + " " + dims_text(dims) + " is not an image shape; expected (height, width, channels)" +
                  (channels_first ? " in channels_first order (channels, height, width)" : "") +
                  ", e.g. keras.Input((28, 28, 1))");
    }
    input = channels_first ? Shape{dims[0], dims[1], dims[2]} : Shape{dims[2], dims[0], dims[1]};
    if (data_input != nullptr && *data_input != input) {
      throw Error(source + ": the model's input is " + dims_text(dims) + " (" + to_string(input) + ") but the data's images are " +
                  to_string(*data_input) + "; change the model's input shape or the dataset");
    }
  } else if (data_input != nullptr) {
    input = *data_input;
  } else {
    throw Error(source + ": the model gives no input shape (no InputLayer, batch_input_shape or build_input_shape); "
                         "add keras.Input((height, width, channels)) as its first layer");
  }
  try {
    return build_network(input, std::move(model.layers));
  } catch (const Error& error) {
    throw Error(source + ": " + error.what());
  }
}

namespace {

json dtype_policy() {
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}, {"registered_name", nullptr}};
}

json initializer(const char* class_name) {
  const json config = std::string(class_name) == "GlorotUniform" ? json{{"seed", nullptr}} : json::object();
  return {{"module", "keras.initializers"}, {"class_name", class_name}, {"config", config}, {"registered_name", nullptr}};
}

json layer_entry(const char* class_name, json config) {
  return {{"module", "keras.layers"}, {"class_name", class_name}, {"config", std::move(config)}, {"registered_name", nullptr}};
}

json base_config(const LayerSpec& layer) { return {{"name", layer.name}, {"trainable", true}, {"dtype", dtype_policy()}}; }

json keras_pair(int a, int b) { return json::array({a, b}); }

void add_weights_options(json& config, const LayerSpec& layer) {
  config["activation"] = activation_name(layer.activation);
  config["use_bias"] = layer.use_bias;
  config["kernel_initializer"] = initializer("GlorotUniform");
  config["bias_initializer"] = initializer("Zeros");
  for (const char* key : {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"}) {
    config[key] = nullptr;
  }
}

json keras_layer(const LayerSpec& layer) {
  json config = base_config(layer);
  switch (layer.kind) {
    case LayerKind::kConv2D:
      config["filters"] = layer.units;
      config["kernel_size"] = keras_pair(layer.kernel_h, layer.kernel_w);
      config["strides"] = keras_pair(layer.stride_h, layer.stride_w);
      config["padding"] = padding_name(layer.padding);
      config["data_format"] = "channels_last";
      config["dilation_rate"] = keras_pair(1, 1);
      config["groups"] = 1;
      add_weights_options(config, layer);
      return layer_entry("Conv2D", std::move(config));
    case LayerKind::kMaxPool2D:
    case LayerKind::kAvgPool2D:
      config["pool_size"] = keras_pair(layer.kernel_h, layer.kernel_w);
      config["padding"] = padding_name(layer.padding);
      config["strides"] = keras_pair(layer.stride_h, layer.stride_w);
      config["data_format"] = "channels_last";
      return layer_entry(layer.kind == LayerKind::kMaxPool2D ? "MaxPooling2D" : "AveragePooling2D", std::move(config));
    case LayerKind::kFlatten:
      config["data_format"] = "channels_last";
      return layer_entry("Flatten", std::move(config));
    case LayerKind::kDense:
      config["units"] = layer.units;
      add_weights_options(config, layer);
      return layer_entry("Dense", std::move(config));
    case LayerKind::kDropout:
      config["rate"] = float_as_typed(layer.rate);
      config["seed"] = nullptr;
      config["noise_shape"] = nullptr;
      return layer_entry("Dropout", std::move(config));
    case LayerKind::kBatchNorm:
      config["axis"] = -1;
      config["momentum"] = float_as_typed(layer.momentum);
      config["epsilon"] = float_as_typed(layer.epsilon);
      config["center"] = true;
      config["scale"] = true;
      config["beta_initializer"] = initializer("Zeros");
      config["gamma_initializer"] = initializer("Ones");
      config["moving_mean_initializer"] = initializer("Zeros");
      config["moving_variance_initializer"] = initializer("Ones");
      for (const char* key : {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"}) config[key] = nullptr;
      config["synchronized"] = false;
      return layer_entry("BatchNormalization", std::move(config));
    case LayerKind::kActivation:
      config["activation"] = activation_name(layer.activation);
      return layer_entry("Activation", std::move(config));
  }
  return {};
}

}  // namespace

std::string keras_json(const NetworkSpec& spec) {
  const json batch_shape = {nullptr, spec.input.height, spec.input.width, spec.input.channels};
  json layers = json::array();
  layers.push_back(layer_entry("InputLayer", {{"batch_shape", batch_shape},
                                              {"dtype", "float32"},
                                              {"sparse", false},
                                              {"ragged", false},
                                              {"name", "input_layer"},
                                              {"optional", false}}));
  for (const LayerSpec& layer : spec.layers) layers.push_back(keras_layer(layer));
  const json model = {{"module", "keras"},
                      {"class_name", "Sequential"},
                      {"config", {{"name", "sequential"},
                                  {"trainable", true},
                                  {"dtype", dtype_policy()},
                                  {"layers", std::move(layers)},
                                  {"build_input_shape", batch_shape}}},
                      {"registered_name", nullptr}};
  return model.dump();
}

}  // namespace train_gpu::model

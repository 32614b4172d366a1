#include "host/model/network_spec.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "host/common/error.h"
#include "host/model/model_spec.h"

namespace train_gpu::model {

namespace {

// Far from int overflow in any index product a backend forms (batch × activation size stays in
// int64, but per-sample sizes and dimensions are ints): a side up to 2^15, one sample's
// activation up to 2^28 floats (1 GiB), the parameter arena up to 2^31 floats (8 GiB).
constexpr int kMaxSide = 1 << 15;
constexpr int kMaxUnits = 1 << 20;
constexpr int64_t kMaxActivation = int64_t{1} << 28;
constexpr std::size_t kMaxArena = std::size_t{1} << 31;

// Keras's default layer name for a kind (the first one gets it bare, then _1, _2, ...).
std::string keras_base_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv2D: return "conv2d";
    case LayerKind::kMaxPool2D: return "max_pooling2d";
    case LayerKind::kAvgPool2D: return "average_pooling2d";
    case LayerKind::kFlatten: return "flatten";
    case LayerKind::kDense: return "dense";
    case LayerKind::kDropout: return "dropout";
    case LayerKind::kBatchNorm: return "batch_normalization";
    case LayerKind::kActivation: return "activation";
  }
  return "layer";
}

// Builds "layer N (name): ..." errors for one layer.
class LayerError {
 public:
  LayerError(std::size_t index, const LayerSpec& layer)
      : prefix_("layer " + std::to_string(index + 1) + " (" + (layer.name.empty() ? keras_base_name(layer.kind) : layer.name) +
                ", " + kind_name(layer.kind) + "): ") {}
  [[noreturn]] void fail(const std::string& what) const { throw Error(prefix_ + what); }
  void require(bool condition, const std::string& what) const {
    if (!condition) fail(what);
  }

 private:
  std::string prefix_;
};

// One spatial dimension of a convolution or pooling window: the output size and the padding
// before/after it, TensorFlow's way.
struct Extent {
  int output = 0;
  int pad_before = 0;
  int pad_after = 0;
};

Extent window_extent(int input, int window, int stride, Padding padding, const char* axis, const LayerError& error) {
  Extent extent;
  if (padding == Padding::kValid) {
    error.require(window <= input, std::string("its ") + axis + " window of " + std::to_string(window) +
                                       " is larger than its input's " + std::to_string(input) +
                                       " (valid padding); use padding same or a smaller window");
    extent.output = (input - window) / stride + 1;
  } else {
    extent.output = (input + stride - 1) / stride;
    const int total = std::max((extent.output - 1) * stride + window - input, 0);
    extent.pad_before = total / 2;
    extent.pad_after = total - extent.pad_before;
  }
  return extent;
}

void check_window(const LayerSpec& layer, const LayerError& error) {
  const bool conv = layer.kind == LayerKind::kConv2D;
  const char* what = conv ? "kernel" : "pool size";
  error.require(layer.kernel_h >= 1 && layer.kernel_w >= 1 && layer.kernel_h <= kMaxSide && layer.kernel_w <= kMaxSide,
                std::string(what) + " " + std::to_string(layer.kernel_h) + "x" + std::to_string(layer.kernel_w) +
                    " must be at least 1x1");
  error.require(layer.stride_h >= 1 && layer.stride_w >= 1 && layer.stride_h <= kMaxSide && layer.stride_w <= kMaxSide,
                "strides " + std::to_string(layer.stride_h) + "x" + std::to_string(layer.stride_w) +
                    " must be at least 1x1");
}

void add_tensor(std::vector<ArenaTensor>& arena, std::size_t& count, int layer_index, const std::string& name,
                std::vector<int64_t> shape, const LayerError& error) {
  ArenaTensor tensor;
  tensor.name = name;
  tensor.count = 1;
  for (const int64_t dim : shape) tensor.count *= std::size_t(dim);
  tensor.shape = std::move(shape);
  tensor.offset = count;
  tensor.layer = layer_index;
  error.require(tensor.count <= kMaxArena - count, "its " + name + " takes the model past " +
                                                       std::to_string(kMaxArena) + " parameters");
  count += tensor.count;
  arena.push_back(std::move(tensor));
}

bool nonlinear(Activation activation) { return activation != Activation::kLinear; }

std::string describe_layer(const LayerSpec& layer) {
  std::ostringstream out;
  const auto window = [&](const LayerSpec& l) {
    std::string text = std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w);
    return text;
  };
  // Softmax is left out: folded into the loss, it changes nothing a checkpoint holds.
  const auto activation = [&](Activation a) {
    return nonlinear(a) && a != Activation::kSoftmax ? "+" + activation_name(a) : std::string();
  };
  switch (layer.kind) {
    case LayerKind::kConv2D:
      out << "conv(" << layer.input.channels << "->" << layer.units << "," << window(layer);
      if (layer.stride_h != 1 || layer.stride_w != 1) out << ",s" << layer.stride_h << "x" << layer.stride_w;
      out << "," << padding_name(layer.padding) << (layer.use_bias ? "" : ",nobias") << ")" << activation(layer.activation);
      break;
    case LayerKind::kMaxPool2D:
    case LayerKind::kAvgPool2D:
      out << (layer.kind == LayerKind::kMaxPool2D ? "maxpool" : "avgpool") << window(layer);
      if (layer.stride_h != layer.kernel_h || layer.stride_w != layer.kernel_w) {
        out << ",s" << layer.stride_h << "x" << layer.stride_w;
      }
      if (layer.padding == Padding::kSame) out << ",same";
      break;
    case LayerKind::kFlatten: out << "flatten(" << layer.output.size() << ")"; break;
    case LayerKind::kDense:
      out << "dense(" << layer.units << (layer.use_bias ? "" : ",nobias") << ")" << activation(layer.activation);
      break;
    case LayerKind::kDropout: out << "dropout(" << layer.rate << ")"; break;
    case LayerKind::kBatchNorm: out << "batchnorm(momentum " << layer.momentum << ",eps " << layer.epsilon << ")"; break;
    case LayerKind::kActivation: out << activation_name(layer.activation); break;
  }
  return out.str();
}

}  // namespace

std::string to_string(const Shape& shape) {
  return std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" + std::to_string(shape.width);
}

std::string kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv2D: return "Conv2D";
    case LayerKind::kMaxPool2D: return "MaxPooling2D";
    case LayerKind::kAvgPool2D: return "AveragePooling2D";
    case LayerKind::kFlatten: return "Flatten";
    case LayerKind::kDense: return "Dense";
    case LayerKind::kDropout: return "Dropout";
    case LayerKind::kBatchNorm: return "BatchNormalization";
    case LayerKind::kActivation: return "Activation";
  }
  return "?";
}

std::string activation_name(Activation activation) {
  switch (activation) {
    case Activation::kLinear: return "linear";
    case Activation::kRelu: return "relu";
    case Activation::kTanh: return "tanh";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kSoftmax: return "softmax";
  }
  return "?";
}

std::string padding_name(Padding padding) { return padding == Padding::kValid ? "valid" : "same"; }

NetworkSpec build_network(const Shape& input, std::vector<LayerSpec> layers) {
  if (input.channels < 1 || input.height < 1 || input.width < 1 || input.channels > kMaxSide ||
      input.height > kMaxSide || input.width > kMaxSide || input.size() > kMaxActivation) {
    throw Error("model: input " + to_string(input) + " is not a usable image shape (channels x height x width, each 1.." +
                std::to_string(kMaxSide) + ")");
  }
  if (layers.empty()) throw Error("model: it has no layers");

  NetworkSpec spec;
  spec.input = input;
  std::map<std::string, int> kind_counts;
  std::set<std::string> names;
  // The nn.Sequential index of the next module: a layer with a fused activation is two modules
  // in PyTorch (Conv2d then ReLU), so its successor's index skips one.
  int module = 0;
  Shape shape = input;
  bool image = true;  // false once Flatten or Dense made the activation a vector
  for (std::size_t i = 0; i < layers.size(); ++i) {
    LayerSpec& layer = layers[i];
    const LayerError error(i, layer);
    if (layer.name.empty()) {
      const std::string base = keras_base_name(layer.kind);
      int& used = kind_counts[base];
      do {
        layer.name = used == 0 ? base : base + "_" + std::to_string(used);
        ++used;
      } while (names.count(layer.name) != 0);
    }
    error.require(names.insert(layer.name).second, "its name is used by an earlier layer; layer names must be unique");
    const bool last = i + 1 == layers.size();
    const bool has_activation = layer.kind == LayerKind::kConv2D || layer.kind == LayerKind::kDense ||
                                layer.kind == LayerKind::kActivation;
    if (has_activation && layer.activation == Activation::kSoftmax) {
      error.require(last, "softmax is supported only as the last activation (folded into the loss, whose inputs are logits)");
    }
    layer.input = shape;
    layer.module = std::to_string(module);
    layer.first_parameter = int(spec.parameters.size());
    layer.first_buffer = int(spec.buffers.size());
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        error.require(image, "Conv2D needs an image input (channels x height x width) but gets the flat " + to_string(shape) +
                          "; convolutions go before Flatten and Dense");
        error.require(layer.units >= 1 && layer.units <= kMaxUnits,
                      "filters " + std::to_string(layer.units) + " must be 1.." + std::to_string(kMaxUnits));
        if (layer.stride_h == 0) layer.stride_h = 1;
        if (layer.stride_w == 0) layer.stride_w = 1;
        check_window(layer, error);
        const Extent h = window_extent(shape.height, layer.kernel_h, layer.stride_h, layer.padding, "height", error);
        const Extent w = window_extent(shape.width, layer.kernel_w, layer.stride_w, layer.padding, "width", error);
        layer.pad_top = h.pad_before, layer.pad_bottom = h.pad_after, layer.pad_left = w.pad_before, layer.pad_right = w.pad_after;
        add_tensor(spec.parameters, spec.parameter_count, int(i), layer.module + ".weight",
                   {layer.units, shape.channels, layer.kernel_h, layer.kernel_w}, error);
        if (layer.use_bias) add_tensor(spec.parameters, spec.parameter_count, int(i), layer.module + ".bias", {layer.units}, error);
        shape = Shape{layer.units, h.output, w.output};
        break;
      }
      case LayerKind::kMaxPool2D:
      case LayerKind::kAvgPool2D: {
        error.require(image, "pooling needs an image input but gets the flat " + to_string(shape) +
                                         "; pooling goes before Flatten and Dense");
        if (layer.stride_h == 0) layer.stride_h = layer.kernel_h;
        if (layer.stride_w == 0) layer.stride_w = layer.kernel_w;
        check_window(layer, error);
        const Extent h = window_extent(shape.height, layer.kernel_h, layer.stride_h, layer.padding, "height", error);
        const Extent w = window_extent(shape.width, layer.kernel_w, layer.stride_w, layer.padding, "width", error);
        layer.pad_top = h.pad_before, layer.pad_bottom = h.pad_after, layer.pad_left = w.pad_before, layer.pad_right = w.pad_after;
        shape = Shape{shape.channels, h.output, w.output};
        break;
      }
      case LayerKind::kFlatten:
        shape = Shape{int(shape.size()), 1, 1};
        image = false;
        break;
      case LayerKind::kDense:
        error.require(shape.flat(), "Dense needs a flat input but gets " + to_string(shape) + "; put a Flatten before it");
        error.require(layer.units >= 1 && layer.units <= kMaxUnits,
                      "units " + std::to_string(layer.units) + " must be 1.." + std::to_string(kMaxUnits));
        add_tensor(spec.parameters, spec.parameter_count, int(i), layer.module + ".weight", {layer.units, shape.channels},
                   error);
        if (layer.use_bias) add_tensor(spec.parameters, spec.parameter_count, int(i), layer.module + ".bias", {layer.units}, error);
        shape = Shape{layer.units, 1, 1};
        image = false;
        break;
      case LayerKind::kDropout:
        error.require(layer.rate >= 0.0f && layer.rate < 1.0f,
                      "rate " + std::to_string(layer.rate) + " must be in [0, 1): the fraction of values dropped");
        break;
      case LayerKind::kBatchNorm:
        error.require(layer.momentum >= 0.0f && layer.momentum <= 1.0f,
                      "momentum " + std::to_string(layer.momentum) + " must be in [0, 1] (Keras's meaning)");
        error.require(layer.epsilon > 0.0f && std::isfinite(layer.epsilon),
                      "epsilon " + std::to_string(layer.epsilon) + " must be positive");
        add_tensor(spec.parameters, spec.parameter_count, int(i), layer.module + ".weight", {shape.channels}, error);
        add_tensor(spec.parameters, spec.parameter_count, int(i), layer.module + ".bias", {shape.channels}, error);
        add_tensor(spec.buffers, spec.buffer_count, int(i), layer.module + ".running_mean", {shape.channels}, error);
        add_tensor(spec.buffers, spec.buffer_count, int(i), layer.module + ".running_var", {shape.channels}, error);
        break;
      case LayerKind::kActivation:
        break;
    }
    error.require(shape.channels >= 1 && shape.height >= 1 && shape.width >= 1 && shape.size() <= kMaxActivation,
                  "its output " + to_string(shape) + " is empty or too large (at most " +
                      std::to_string(kMaxActivation) + " values per sample)");
    layer.output = shape;
    layer.parameter_tensors = int(spec.parameters.size()) - layer.first_parameter;
    layer.buffer_tensors = int(spec.buffers.size()) - layer.first_buffer;
    module += 1;
    if ((layer.kind == LayerKind::kConv2D || layer.kind == LayerKind::kDense) && nonlinear(layer.activation) &&
        layer.activation != Activation::kSoftmax) {
      module += 1;
    }
  }

  const LayerSpec& last = layers.back();
  const LayerError last_error(layers.size() - 1, last);
  last_error.require(shape.flat() && shape.channels >= 2,
                     "the model's output is " + to_string(shape) +
                         "; it must be flat with one logit per class (at least 2): end with Flatten/Dense");
  const bool activates = last.kind == LayerKind::kConv2D || last.kind == LayerKind::kDense || last.kind == LayerKind::kActivation;
  if (activates) {
    last_error.require(last.activation == Activation::kLinear || last.activation == Activation::kSoftmax,
                       "the last activation is " + activation_name(last.activation) +
                           "; it must be linear or softmax, since the model's outputs are the loss's logits");
    spec.softmax_output = last.activation == Activation::kSoftmax;
  }
  spec.layers = std::move(layers);

  // The tutorial keeps model_spec.h's names, so that its checkpoints from before specs existed load.
  if (spec.is_tutorial()) {
    const char* modules[] = {"conv", "", "", "fc1", "fc2"};
    for (std::size_t i = 0; i < spec.layers.size(); ++i) spec.layers[i].module = modules[i];
    for (ArenaTensor& tensor : spec.parameters) {
      tensor.name = spec.layers[std::size_t(tensor.layer)].module + tensor.name.substr(tensor.name.find('.'));
    }
  }
  return spec;
}

bool NetworkSpec::is_tutorial() const {
  if (input != Shape{1, kImageSide, kImageSide} || layers.size() != 5) return false;
  const LayerSpec& conv = layers[0];
  const LayerSpec& pool = layers[1];
  const LayerSpec& fc1 = layers[3];
  const LayerSpec& fc2 = layers[4];
  return conv.kind == LayerKind::kConv2D && conv.units == kConvFilters && conv.kernel_h == kConvKernel &&
         conv.kernel_w == kConvKernel && conv.stride_h == 1 && conv.stride_w == 1 && conv.padding == Padding::kValid &&
         conv.use_bias && conv.activation == Activation::kRelu &&  //
         pool.kind == LayerKind::kMaxPool2D && pool.kernel_h == 2 && pool.kernel_w == 2 && pool.stride_h == 2 &&
         pool.stride_w == 2 && pool.padding == Padding::kValid &&  //
         layers[2].kind == LayerKind::kFlatten &&                   //
         fc1.kind == LayerKind::kDense && fc1.units == kHidden && fc1.use_bias && fc1.activation == Activation::kRelu &&
         fc2.kind == LayerKind::kDense && fc2.units == kClasses && fc2.use_bias &&
         (fc2.activation == Activation::kLinear || fc2.activation == Activation::kSoftmax);
}

std::string NetworkSpec::description() const {
  std::string text;
  for (const LayerSpec& layer : layers) {
    if (layer.kind == LayerKind::kActivation && layer.activation == Activation::kSoftmax) continue;  // folded into the loss
    text += (text.empty() ? "" : " > ") + describe_layer(layer);
  }
  // The tutorial's form (model_spec.h) gives no input shape: every checkpoint it wrote says 1x28x28.
  return is_tutorial() ? text : "input " + to_string(input) + " > " + text;
}

const NetworkSpec& tutorial_network() {
  static const NetworkSpec spec = [] {
    std::vector<LayerSpec> layers(5);
    layers[0].kind = LayerKind::kConv2D;
    layers[0].units = kConvFilters;
    layers[0].kernel_h = layers[0].kernel_w = kConvKernel;
    layers[0].activation = Activation::kRelu;
    layers[1].kind = LayerKind::kMaxPool2D;
    layers[1].kernel_h = layers[1].kernel_w = 2;
    layers[2].kind = LayerKind::kFlatten;
    layers[3].kind = LayerKind::kDense;
    layers[3].units = kHidden;
    layers[3].activation = Activation::kRelu;
    layers[4].kind = LayerKind::kDense;
    layers[4].units = kClasses;
    return build_network(Shape{1, kImageSide, kImageSide}, std::move(layers));
  }();
  return spec;
}

}  // namespace train_gpu::model

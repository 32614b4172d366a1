// The model as runtime data: an input shape and a list of layers, with every derived shape and
// the parameter layout computed and checked once, by build_network(). Everything that runs or
// describes a model (backends, checkpoints, summary, export) loops over a NetworkSpec; readers
// (Keras JSON, the one-line --model form) only produce one. The tutorial's network is one spec
// among others, tutorial_network(), whose arena is exactly model_spec.h's (same tensor names,
// order and offsets), so its fused fast paths and today's checkpoints keep working.
//
// Conventions (those of model_spec.h, for every spec):
// - Activations are NCHW row-major; a flat activation (after Flatten or Dense) is the shape
//   (features, 1, 1), flattened in (channel, row, col) order as torch.flatten gives.
// - Weights are in PyTorch's layouts: Conv2D (filters, in_channels, kernel_h, kernel_w), Dense
//   (units, in_features), BatchNormalization weight/bias (gamma/beta, channels).
// - Trainable parameters live in one arena (NetworkSpec::parameters: offsets into it, in layer
//   order); non-trained state (BatchNormalization's moving mean and variance: PyTorch's
//   "buffers") in a second, smaller arena (NetworkSpec::buffers). Optimizers, gradients and
//   all-reduces see only the first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace train_gpu::model {

// Channels × height × width of one sample's activation.
struct Shape {
  int channels = 0;
  int height = 0;
  int width = 0;

  int64_t size() const { return int64_t{channels} * height * width; }
  bool flat() const { return height == 1 && width == 1; }
  bool operator==(const Shape& other) const {
    return channels == other.channels && height == other.height && width == other.width;
  }
  bool operator!=(const Shape& other) const { return !(*this == other); }
};
std::string to_string(const Shape& shape);  // "3x32x32"

enum class LayerKind { kConv2D, kMaxPool2D, kAvgPool2D, kFlatten, kDense, kDropout, kBatchNorm, kActivation };
enum class Activation { kLinear, kRelu, kTanh, kSigmoid, kSoftmax };
// kSame follows TensorFlow: output = ceil(input / stride), the padding split with the odd one at
// the bottom/right; pooling windows ignore padded positions (max) or leave them out of the
// count (average), as tf.nn.avg_pool does.
enum class Padding { kValid, kSame };

std::string kind_name(LayerKind kind);          // Keras's class name: "Conv2D", "MaxPooling2D", ...
std::string activation_name(Activation activation);  // Keras's: "relu", "linear", ...
std::string padding_name(Padding padding);      // "valid", "same"

struct LayerSpec {
  LayerKind kind = LayerKind::kFlatten;
  std::string name;  // Keras's layer name ("conv2d_1"); build_network() gives unnamed layers one

  // Set by the reader, per kind (the others are ignored and left at their defaults):
  int units = 0;                 // Conv2D: filters; Dense: units
  int kernel_h = 0, kernel_w = 0;  // Conv2D: kernel size; pooling: pool size
  int stride_h = 0, stride_w = 0;  // Conv2D, pooling; 0 = the default (conv 1, pooling = pool size)
  Padding padding = Padding::kValid;  // Conv2D, pooling
  bool use_bias = true;          // Conv2D, Dense
  Activation activation = Activation::kLinear;  // Conv2D, Dense, Activation
  float rate = 0.0f;             // Dropout: the fraction dropped, in [0, 1)
  float momentum = 0.99f;        // BatchNormalization, Keras's meaning: moving = moving*momentum + batch*(1-momentum)
  float epsilon = 1e-3f;         // BatchNormalization (Keras's default)

  // Derived by build_network():
  Shape input, output;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  // Conv2D/pooling with kSame
  int first_parameter = 0, parameter_tensors = 0;  // [first, first + count) of NetworkSpec::parameters
  int first_buffer = 0, buffer_tensors = 0;        // [first, first + count) of NetworkSpec::buffers
  std::string module;  // the PyTorch nn.Sequential name of its tensors ("0", "3"; "conv" for the tutorial)
};

// One tensor of an arena.
struct ArenaTensor {
  std::string name;             // PyTorch state_dict name, also the safetensors key: "0.weight"
  std::vector<int64_t> shape;   // PyTorch layout
  std::size_t offset = 0;       // first element in its arena
  std::size_t count = 0;        // elements
  int layer = 0;                // index into NetworkSpec::layers
};

struct NetworkSpec {
  Shape input;
  std::vector<LayerSpec> layers;
  std::vector<ArenaTensor> parameters;  // trainable, in layer order
  std::vector<ArenaTensor> buffers;     // not trained (BatchNormalization moving statistics)
  std::size_t parameter_count = 0;      // floats in the parameter arena
  std::size_t buffer_count = 0;         // floats in the buffer arena
  bool softmax_output = false;          // the reader's last activation was softmax (folded into the loss)

  // The class count: the last layer's output features.
  int classes() const { return layers.empty() ? 0 : int(layers.back().output.size()); }
  // True for the tutorial's network (same layers, input and names), which backends may run
  // through their fused kernels.
  bool is_tutorial() const;
  // One line for logs and checkpoints, e.g. model_spec.h's kModelDescription for the tutorial.
  std::string description() const;

  // Where `layer`'s k-th parameter tensor starts in the parameter arena (Conv2D/Dense: 0 the
  // kernel, 1 the bias; BatchNormalization: 0 gamma, 1 beta). Inline: cuda/network's layers read
  // it too, and the CUDA library links without this header's .cpp.
  std::size_t parameter_offset(const LayerSpec& layer, int k) const {
    return parameters.at(std::size_t(layer.first_parameter + k)).offset;
  }
  // Its bias's offset, or -1 for a Conv2D/Dense layer without one.
  std::ptrdiff_t bias_offset(const LayerSpec& layer) const {
    return layer.use_bias ? std::ptrdiff_t(parameter_offset(layer, 1)) : -1;
  }
};

// Checks the layers against the input and each other and derives shapes, padding and both
// arenas' layouts. Each problem is an Error naming the layer (1-based position and name) and
// the field, e.g. "layer 4 (dense): Dense needs a flat input but gets 32x13x13; put a Flatten
// before it". The rules: at least one layer; Conv2D and pooling need an unflattened input and,
// with valid padding, a window that fits; Dense needs a flat input; the network's output (the
// last layer's) is flat with at least 2 classes: the logits. The final activation (the last
// layer's own, or a last Activation layer) is linear or softmax; softmax there is folded into the
// loss, as the tutorial's logits are (softmax_output), and refused anywhere else; every size
// stays far from int overflow.
NetworkSpec build_network(const Shape& input, std::vector<LayerSpec> layers);

// The tutorial's network: Conv2D 32 3x3 relu, MaxPooling2D 2, Flatten, Dense 128 relu, Dense 10
// on 1x28x28, with model_spec.h's tensor names ("conv.weight", ...), order and offsets.
const NetworkSpec& tutorial_network();

}  // namespace train_gpu::model

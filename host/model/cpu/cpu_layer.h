// One layer of a spec-driven CPU network (cpu_network.h): the interface every layer kind's file
// in this folder implements. Shapes come from the layer's LayerSpec and are checked once, when
// the layer is built; forward/backward then only run.
//
// Memory: activations are (count, C, H, W) NCHW float arrays owned by the network; parameters
// and their gradients are views into the spec's arenas at the layer's offsets.
// Gradient mode: backward OVERWRITES its parameter gradients and dinput (no zeroing pass).
#pragma once

#include <cstdint>

#include "host/model/network_spec.h"

namespace train_gpu::cpu {

struct LayerForward {
  int count = 0;                    // images in the batch, 1..max_batch
  const float* input = nullptr;     // (count, layer.input)
  float* output = nullptr;          // (count, layer.output), overwritten
  const float* parameters = nullptr;  // the whole parameter arena
  float* buffers = nullptr;         // the whole buffer arena (BatchNorm's moving statistics)
  bool training = false;            // training: dropout drops, BatchNorm uses and updates batch statistics
  uint64_t seed = 0;                // dropout: the masks' key with step and layer
  int64_t step = 0;                 //   (dropout_math.h)
  int64_t first_sample = 0;         // dropout: this batch's first image's place in the global batch
                                    //   (a rank's slice starts past 0), so ranks draw no mask twice
  float* conv_maps = nullptr;       // the fused convolution + pooling: its maps, when not null
  bool keep_outputs = false;        // every layer writes its plain `output` (features read them);
                                    //   otherwise a layer whose output only the next layer reads, in
                                    //   a layout of their own, may leave `output` unwritten
};

struct LayerBackward {
  int count = 0;
  const float* input = nullptr;     // what forward was given
  const float* output = nullptr;    // what forward wrote
  float* doutput = nullptr;         // d loss / d output; the layer may overwrite it (it is scratch afterwards)
  float* dinput = nullptr;          // d loss / d input, overwritten
  bool need_dinput = true;          // false: nothing before this layer has parameters, dinput may be left alone
  const float* parameters = nullptr;
  float* gradients = nullptr;       // the gradient arena, parameters' layout
};

class CpuLayer {
 public:
  virtual ~CpuLayer() = default;
  virtual void forward(const LayerForward& args) = 0;
  virtual void backward(const LayerBackward& args) = 0;
};

}  // namespace train_gpu::cpu

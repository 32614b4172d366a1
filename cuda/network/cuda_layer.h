// One layer of a spec-driven CUDA network (cuda_network.h): the interface every layer kind's file
// in this folder implements, the GPU twin of host/model/cpu/cpu_layer.h, and the CPU backend is
// its oracle (tests/gpu/network_backend_test.cpp). Shapes come from the layer's LayerSpec and
// are checked once, when the layer is built; cuDNN descriptors are built once per batch size and
// cached, workspaces are allocated up front for max_batch: forward/backward never allocate and
// never synchronize.
//
// Memory: activations are (count, C, H, W) NCHW device arrays owned by the network; parameters
// and their gradients are views into the network's arenas at the spec's offsets.
// Gradient mode: backward OVERWRITES its parameter gradients and dinput (no zeroing pass).
// Everything runs on the stream the network's cuDNN and cuBLAS handles are bound to.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/math/step_counters.h"
#include "host/model/network_spec.h"

namespace train_gpu::cuda {

struct LayerForward {
  int count = 0;                      // images in the batch, 1..max_batch
  const float* input = nullptr;       // (count, layer.input)
  float* output = nullptr;            // (count, layer.output), overwritten
  const float* parameters = nullptr;  // the whole parameter arena
  float* buffers = nullptr;           // the whole buffer arena (BatchNorm's moving statistics)
  bool training = false;              // dropout drops, BatchNorm uses and updates batch statistics
  uint64_t seed = 0;                  // dropout: the masks' key with step and layer
  math::PerStep<int64_t> step;        //   (cuda/math/dropout_math.h); read through math::forward_step:
                                      //   t by value, or the device's step counter in a graph replay
  int64_t first_sample = 0;           // dropout: this batch's first image's place in the global batch
                                      //   (a rank's slice starts past 0), so ranks draw no mask twice
  bool keep_outputs = false;          // every layer's output must be what the layer computes (`features`
                                      //   reads them), not a fused intermediate (fusion_plan.h)
  cudaStream_t stream = nullptr;
};

struct LayerBackward {
  int count = 0;
  const float* input = nullptr;       // what forward was given
  const float* output = nullptr;      // what forward wrote
  float* doutput = nullptr;           // d loss / d output; the layer may overwrite it (scratch afterwards)
  float* dinput = nullptr;            // d loss / d input, overwritten
  bool need_dinput = true;            // false: nothing before this layer has parameters
  const float* parameters = nullptr;
  float* gradients = nullptr;         // the gradient arena, parameters' layout
  cudaStream_t stream = nullptr;
};

class CudaLayer {
 public:
  virtual ~CudaLayer() = default;
  virtual void forward(const LayerForward& args) = 0;
  virtual void backward(const LayerBackward& args) = 0;
};

}  // namespace train_gpu::cuda

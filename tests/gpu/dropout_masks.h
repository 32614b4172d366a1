// The masks the CPU and CUDA Dropout layers draw for the same images, for the GPU tests that compare
// them (network_ranks_test.cpp: a rank's slice of the global batch; network_graph_test.cpp: the
// step read from a device counter, as in a replayed graph). The input is all ones, so the mask is
// the only thing that varies.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cuda/check.h"
#include "cuda/handles.h"
#include "cuda/math/step_counters.h"
#include "cuda/network/dropout_layer.h"
#include "gpu/cuda_test_fixture.h"
#include "host/model/cpu/dropout_layer.h"
#include "host/model/network_spec.h"

namespace train_gpu::cuda::testing {

// The index of the spec's first Dropout layer, -1 when it has none.
inline int dropout_layer_of(const model::NetworkSpec& spec) {
  for (int i = 0; i < int(spec.layers.size()); ++i) {
    if (spec.layers[std::size_t(i)].kind == model::LayerKind::kDropout) return i;
  }
  return -1;
}

// A training pass's arguments for either backend's layer (cuda::LayerForward, cpu::LayerForward:
// the same fields, of each backend's step type).
template <typename Forward, typename Step>
Forward training_forward(const float* input, float* output, uint64_t seed, Step step, int first_sample, int count) {
  Forward forward;
  forward.count = count;
  forward.input = input;
  forward.output = output;
  forward.training = true;
  forward.seed = seed;
  forward.step = step;
  forward.first_sample = first_sample;
  return forward;
}

// The mask the CUDA layer `layer` draws for `count` images that start at `first_sample` of the
// global batch, with `seed` and `step` (a value, or a device counter the layer reads).
inline std::vector<uint8_t> gpu_dropout_mask(const model::NetworkSpec& spec, int layer, uint64_t seed,
                                             math::PerStep<int64_t> step, int first_sample, int count) {
  const std::size_t size = std::size_t(count) * std::size_t(spec.layers[std::size_t(layer)].output.size());
  const Stream stream = make_stream();
  DropoutLayer dropout(spec, layer, count);
  const DeviceBuffer<float> input = upload(std::vector<float>(size, 1.0f));
  DeviceBuffer<float> output = poisoned(size);
  LayerForward forward = training_forward<LayerForward>(input.data(), output.data(), seed, step, first_sample, count);
  forward.stream = stream.get();
  dropout.forward(forward);
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  std::vector<uint8_t> mask(dropout.mask().size());
  CUDA_CHECK(cudaMemcpy(mask.data(), dropout.mask().data(), mask.size(), cudaMemcpyDeviceToHost));
  mask.resize(size);
  return mask;
}

// The CPU layer's mask for the same images at step `step`.
inline std::vector<uint8_t> cpu_dropout_mask(const model::NetworkSpec& spec, int layer, uint64_t seed, int64_t step,
                                             int first_sample, int count) {
  const std::size_t size = std::size_t(count) * std::size_t(spec.layers[std::size_t(layer)].output.size());
  cpu::DropoutLayer dropout(spec, layer, count);
  const std::vector<float> input(size, 1.0f);
  std::vector<float> output(size);
  dropout.forward(training_forward<cpu::LayerForward>(input.data(), output.data(), seed, step, first_sample, count));
  return std::vector<uint8_t>(dropout.mask().begin(), dropout.mask().begin() + std::ptrdiff_t(size));
}

}  // namespace train_gpu::cuda::testing

// The oneDNN engine and stream the CPU layers run their primitives on, and the small helpers
// every such layer needs. One engine and one stream per process: oneDNN's CPU engine is
// stateless, and its primitives run on the OpenMP pool cpu_threads.h sizes.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <unordered_map>

#include "host/common/error.h"
#include "host/model/network_spec.h"

namespace train_gpu::cpu::onednn {

dnnl::engine& engine();
dnnl::stream& stream();

// An activation of `count` images of `shape`, plain NCHW floats.
dnnl::memory::desc activation_desc(int count, const model::Shape& shape);
// A memory object over `data`, which the caller owns; nullptr is allowed for a desc that is zero-sized.
dnnl::memory wrap(const dnnl::memory::desc& desc, const float* data);

// Runs `primitive` with `args` and waits for it; a oneDNN failure becomes an Error naming `what`.
void execute(const char* what, dnnl::primitive& primitive, const std::unordered_map<int, dnnl::memory>& args);

// make() (creating a primitive descriptor or primitive), with a oneDNN refusal turned into an
// Error naming `what`, e.g. the layer.
template <typename Make>
auto create(const std::string& what, const Make& make) -> decltype(make()) {
  try {
    return make();
  } catch (const dnnl::error& error) {
    throw Error("oneDNN cannot set up " + what + ": " + error.what());
  }
}

}  // namespace train_gpu::cpu::onednn

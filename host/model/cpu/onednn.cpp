#include "host/model/cpu/onednn.h"

#include <string>

#include "host/common/error.h"

namespace train_gpu::cpu::onednn {

dnnl::engine& engine() {
  static dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

dnnl::stream& stream() {
  static dnnl::stream cpu(engine());
  return cpu;
}

dnnl::memory::desc activation_desc(int count, const model::Shape& shape) {
  return dnnl::memory::desc({count, shape.channels, shape.height, shape.width}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nchw);
}

dnnl::memory wrap(const dnnl::memory::desc& desc, const float* data) {
  // oneDNN takes a non-const handle for inputs and outputs alike; it writes only to outputs.
  return dnnl::memory(desc, engine(), const_cast<float*>(data));
}

void execute(const char* what, dnnl::primitive& primitive, const std::unordered_map<int, dnnl::memory>& args) {
  try {
    primitive.execute(stream(), args);
    stream().wait();
  } catch (const dnnl::error& error) {
    throw Error(std::string("oneDNN ") + what + " failed: " + error.what());
  }
}

}  // namespace train_gpu::cpu::onednn

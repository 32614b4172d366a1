#include "host/model/cpu/onednn_layout.h"

#include "host/model/cpu/onednn.h"

namespace train_gpu::cpu::onednn {

ChosenLayout::ChosenLayout(const std::string& what, const dnnl::memory::desc& plain, const dnnl::memory::desc& chosen)
    : what_(what), plain_(plain), chosen_(chosen), reorders_(plain != chosen) {
  if (!reorders_) return;
  dnnl::engine& cpu = engine();
  to_chosen_ = create(what, [&] { return dnnl::reorder(dnnl::reorder::primitive_desc(cpu, plain_, cpu, chosen_)); });
  to_plain_ = create(what, [&] { return dnnl::reorder(dnnl::reorder::primitive_desc(cpu, chosen_, cpu, plain_)); });
}

const dnnl::memory& ChosenLayout::buffer() {
  if (reorders_ && !buffer_) buffer_ = create(what_, [&] { return dnnl::memory(chosen_, engine()); });
  return buffer_;
}

dnnl::memory ChosenLayout::input(const float* plain) {
  if (!reorders_) {
    last_ = wrap(plain_, plain);
  } else {
    execute("reorder", to_chosen_, {{DNNL_ARG_FROM, wrap(plain_, plain)}, {DNNL_ARG_TO, buffer()}});
    last_ = buffer_;
  }
  return last_;
}

dnnl::memory ChosenLayout::output(float* plain) { return reorders_ ? buffer() : wrap(plain_, plain); }

void ChosenLayout::finish_output(float* plain) {
  if (reorders_) execute("reorder", to_plain_, {{DNNL_ARG_FROM, buffer()}, {DNNL_ARG_TO, wrap(plain_, plain)}});
}

}  // namespace train_gpu::cpu::onednn

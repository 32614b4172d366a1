// One argument of a oneDNN primitive that picks its own memory layout (format_tag::any: the
// blocked nChw16c / nChw8c activations and OIhw16i16o-style weights its JIT kernels run fastest
// on), for a caller that holds the array in the plain layout (NCHW activations, OIHW weights).
// When the primitive chose the plain layout there is nothing to do and the caller's array is
// passed as it is; otherwise the argument owns a buffer in the chosen layout and the reorders
// between the two. Built once with the primitive (per batch size); the buffer is allocated on its
// first use (an evaluation-only batch size never needs the backward's), so after the first step
// of a size, a step allocates nothing.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

namespace train_gpu::cpu::onednn {

class ChosenLayout {
 public:
  ChosenLayout() = default;
  // `what` names the layer and argument in errors.
  ChosenLayout(const std::string& what, const dnnl::memory::desc& plain, const dnnl::memory::desc& chosen);

  // True when the chosen layout is not the plain one (the argument reorders).
  bool reorders() const { return reorders_; }
  // True when `other` is the same layout: one reordered buffer may serve both.
  bool same_layout(const ChosenLayout& other) const { return chosen_ == other.chosen_; }

  // An input held in `plain`: the memory to pass, reordered into the own buffer first when the
  // layouts differ.
  dnnl::memory input(const float* plain);
  // The memory input() returned last (its buffer holds what it reordered then).
  const dnnl::memory& last() const { return last_; }
  // The own buffer in the chosen layout (empty when the argument does not reorder).
  const dnnl::memory& buffer();

  // An output the caller wants in `plain`: the memory to pass to the primitive, then
  // finish_output(plain) after it ran, which reorders the own buffer into `plain` when needed.
  dnnl::memory output(float* plain);
  void finish_output(float* plain);

 private:
  std::string what_;
  dnnl::memory::desc plain_, chosen_;
  bool reorders_ = false;
  dnnl::memory buffer_;  // in chosen_, when reorders_ and once used
  dnnl::memory last_;
  dnnl::reorder to_chosen_, to_plain_;
};

}  // namespace train_gpu::cpu::onednn

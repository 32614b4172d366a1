// Named ranges for Nsight Systems / Nsight Compute, in the NVTX domain "train_gpu":
//
//   { ScopedRange range("train_step"); ... }   // pushed here, popped at scope exit
//
// NVTX 3 is header-only: without a profiler attached, the first call finds no injection
// library and every later push/pop is a call through a null-checked function pointer, so the
// ranges cost nothing measurable and stay compiled in.
#pragma once

#include <nvtx3/nvToolsExt.h>

namespace train_gpu::cuda {

inline nvtxDomainHandle_t nvtx_domain() {
  static const nvtxDomainHandle_t domain = nvtxDomainCreateA("train_gpu");
  return domain;
}

class ScopedRange {
 public:
  explicit ScopedRange(const char* name) {
    nvtxEventAttributes_t attributes{};
    attributes.version = NVTX_VERSION;
    attributes.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    attributes.messageType = NVTX_MESSAGE_TYPE_ASCII;
    attributes.message.ascii = name;
    nvtxDomainRangePushEx(nvtx_domain(), &attributes);
  }
  ~ScopedRange() { nvtxDomainRangePop(nvtx_domain()); }

  ScopedRange(const ScopedRange&) = delete;
  ScopedRange& operator=(const ScopedRange&) = delete;
};

}  // namespace train_gpu::cuda

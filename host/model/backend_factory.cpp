#include "host/model/backend_factory.h"

#include <cctype>

#include "host/common/error.h"
#include "host/model/cpu_backend.h"
#include "host/model/nvidia_driver.h"

#ifdef TRAIN_GPU_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace train_gpu {

#ifdef TRAIN_GPU_HAVE_CUDA
namespace {

// The tutorial's network through its fused kernels; any other spec layer by layer. Both take
// --graph and several ranks. Decided here, not in cuda/: the CUDA library links without host/'s
// NetworkSpec code.
std::unique_ptr<Backend> make_gpu_backend(int device, const BackendOptions& options) {
  if (options.spec.is_tutorial()) return cuda::make_cuda_backend(device, options);
  return cuda::make_network_backend(device, options);
}

}  // namespace
#endif

bool built_with_cuda() {
#ifdef TRAIN_GPU_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

DeviceRequest parse_device(const std::string& text) {
  DeviceRequest request;
  if (text.empty() || text == "auto") return request;
  request.automatic = false;
  if (text == "cpu") {
    request.cpu = true;
    return request;
  }
  bool digits = text.size() <= 4;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits) throw Error("--device '" + text + "': expected 'cpu' or a GPU index such as 0");
  request.gpu_index = std::stoi(text);
  return request;
}

std::unique_ptr<Backend> make_backend(const DeviceRequest& request, const BackendOptions& options,
                                      std::ostream& notices, const std::string& work) {
  if (request.cpu) return make_cpu_backend(options);
#ifdef TRAIN_GPU_HAVE_CUDA
  cuda::DeviceProbe probe = cuda::probe_devices();
  if (probe.device_count == 0) probe.error = no_gpu_reason(probe.error, nvidia_driver_found());
  if (request.automatic) {
    if (probe.device_count > 0 && request.automatic_gpu >= probe.device_count) {
      throw Error("this rank's GPU would be the node's GPU " + std::to_string(request.automatic_gpu) +
                  " (its local rank), but the node has " + std::to_string(probe.device_count) +
                  ": launch at most one rank per GPU on each node, or give --device cpu");
    }
    if (probe.device_count > 0) return make_gpu_backend(request.automatic_gpu, options);
    notices << "note: no usable GPU (" << probe.error << "); " << work << " on the CPU\n";
    return make_cpu_backend(options);
  }
  const std::string flag = "--device " + std::to_string(request.gpu_index);
  if (probe.device_count == 0) {
    throw Error(flag + ": no usable GPU: " + probe.error + ". Use --device cpu to train on the CPU");
  }
  if (request.gpu_index >= probe.device_count) {
    throw Error(flag + ": no such GPU; this machine has " + std::to_string(probe.device_count) +
                " (indices 0.." + std::to_string(probe.device_count - 1) + "). Use --device cpu to train on the CPU");
  }
  return make_gpu_backend(request.gpu_index, options);
#else
  if (request.automatic) {
    notices << "note: CPU-only build; " << work << " on the CPU\n";
    return make_cpu_backend(options);
  }
  throw Error("--device " + std::to_string(request.gpu_index) +
              ": this is a CPU-only build (configured with TRAIN_GPU_CUDA=OFF or without nvcc/cuDNN). "
              "Use --device cpu, or rebuild with CUDA");
#endif
}

}  // namespace train_gpu

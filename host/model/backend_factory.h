// Turns --device into a backend. "cpu" is the CPU backend; "N" is GPU N and never falls back
// silently: a CPU-only build, a missing driver or a missing device N is an Error naming the cause
// and suggesting --device cpu. With no --device, GPU 0 when one answers, else the CPU with a
// one-line notice.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "host/model/backend.h"

namespace train_gpu {

struct DeviceRequest {
  bool automatic = true;  // no --device given
  bool cpu = false;       // --device cpu
  int gpu_index = 0;      // --device N
  int automatic_gpu = 0;  // the GPU no --device picks: the local rank's when launched as several ranks
};

// Parses "cpu", "auto", "" or a non-negative integer; anything else is an Error.
DeviceRequest parse_device(const std::string& text);

// `work` names what the command does on the CPU in the fallback note ("training", or "running"
// for commands that train nothing).
std::unique_ptr<Backend> make_backend(const DeviceRequest& request, const BackendOptions& options,
                                      std::ostream& notices, const std::string& work = "running");

// True when this binary has the CUDA backend compiled in.
bool built_with_cuda();

}  // namespace train_gpu

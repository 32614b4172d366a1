// NCCL_CHECK, in the shape of cuda/check.h's macros: a failed NCCL call throws train_gpu::Error
// with the call's text, file:line, ncclGetErrorString and, when a communicator is at hand,
// ncclGetLastError's detail (which peer, which transport).
#pragma once

#include <nccl.h>

#include <sstream>
#include <string>

#include "cuda/check.h"
#include "host/common/error.h"

namespace train_gpu::cuda {

[[noreturn]] inline void throw_nccl_error(ncclResult_t status, ncclComm_t comm, const char* call, const char* file,
                                          int line) {
  std::ostringstream out;
  out << "NCCL error at " << source_location_file(file) << ":" << line << " in " << call << ": "
      << ncclGetErrorString(status);
  const char* detail = ncclGetLastError(comm);
  if (detail != nullptr && detail[0] != '\0') out << " (" << detail << ")";
  throw Error(out.str());
}

}  // namespace train_gpu::cuda

// `comm` may be null (before the communicator exists).
#define NCCL_CHECK(call, comm)                                                                     \
  do {                                                                                             \
    const ncclResult_t tg_nccl_status_ = (call);                                                   \
    if (tg_nccl_status_ != ncclSuccess)                                                            \
      ::train_gpu::cuda::throw_nccl_error(tg_nccl_status_, (comm), #call, __FILE__, __LINE__);     \
  } while (0)

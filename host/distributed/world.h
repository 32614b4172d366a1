// Joining the job this process was launched into: null for a single process (no launcher, or a
// world of one), which then never touches MPI, so `train_gpu` alone needs no mpirun and runs no
// MPI code (libmpi is linked, but MPI_Init is never called); Collectives over MPI for a world of
// two or more, or an Error when this binary was built without MPI.
#pragma once

#include <memory>

#include "host/distributed/collectives.h"
#include "host/distributed/launch_environment.h"

namespace train_gpu::distributed {

// --dist-timeout's default: long enough for a slow rank's first epoch setup (data loading,
// cuDNN's algorithm search), short enough that a dead job frees its nodes the same hour.
constexpr double kDefaultTimeoutSeconds = 300.0;

std::unique_ptr<Collectives> join_world(const LaunchPlacement& placement, double timeout_seconds);

// True when this binary can join a world of several processes (CMake found MPI).
bool built_with_mpi();

}  // namespace train_gpu::distributed

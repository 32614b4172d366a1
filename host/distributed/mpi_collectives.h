// Collectives over MPI (built when CMake finds MPI): MPI_Init_thread and MPI_Finalize in one
// object's life, the job's MPI_COMM_WORLD duplicated, its errors returned (MPI_ERRORS_RETURN) so
// each becomes an Error naming the call, every collective bounded by the CollectiveWatchdog.
// This is where CPU ranks' gradients are all-reduced (sum_gradients: one MPI_Allreduce in
// place over the whole gradient arena per step).
#pragma once

#include <memory>

#include "host/distributed/collectives.h"
#include "host/distributed/launch_environment.h"

namespace train_gpu::distributed {

// Initializes MPI (it must not be yet) and checks that MPI's rank and size are the launcher's
// `placement`. Only for a world of two or more: a single process never initializes MPI.
std::unique_ptr<Collectives> make_mpi_collectives(const LaunchPlacement& placement, double timeout_seconds);

}  // namespace train_gpu::distributed

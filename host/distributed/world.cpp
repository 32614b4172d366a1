#include "host/distributed/world.h"

#include "host/common/error.h"

#ifdef TRAIN_GPU_HAVE_MPI
#include "host/distributed/mpi_collectives.h"
#endif

namespace train_gpu::distributed {

bool built_with_mpi() {
#ifdef TRAIN_GPU_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Collectives> join_world(const LaunchPlacement& placement, double timeout_seconds) {
  if (!placement.distributed()) return nullptr;
#ifdef TRAIN_GPU_HAVE_MPI
  return make_mpi_collectives(placement, timeout_seconds);
#else
  (void)timeout_seconds;
  throw Error(placement.launcher + " started this process as " + placement.rank_phrase() +
              ", but this train_gpu was built without MPI: install libopenmpi-dev (tools/install-deps.sh) and "
              "rebuild, or run one process");
#endif
}

}  // namespace train_gpu::distributed

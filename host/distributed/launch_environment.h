// Where this process sits in a job that a launcher started: rank, world size and the rank on its
// node, read from the variables mpirun (OpenMPI's OMPI_COMM_WORLD_*), MPICH's Hydra (PMI_*) and
// Slurm's srun (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID) set. Plain environment
// reading, no MPI call: a process that no launcher started, or one started as a world of one,
// never initializes MPI (host/distributed/world.h).
#pragma once

#include <functional>
#include <string>

namespace train_gpu::distributed {

struct LaunchPlacement {
  int rank = 0;
  int size = 1;
  int local_rank = 0;    // rank among the processes on this node: picks the GPU
  std::string launcher;  // "mpirun", "PMI", "srun"; empty when no launcher's variables are set

  bool distributed() const { return size > 1; }
  // "rank 0 of 2", for device and error lines.
  std::string rank_phrase() const { return "rank " + std::to_string(rank) + " of " + std::to_string(size); }
};

// `lookup` returns a variable's value or null (std::getenv's contract). Malformed values (not a
// whole number, a rank outside the world) are an Error naming the variable.
LaunchPlacement launch_placement_from(const std::function<const char*(const char*)>& lookup);

// From this process's environment.
LaunchPlacement launch_placement();

}  // namespace train_gpu::distributed

#include "host/distributed/launch_environment.h"

#include <cstdlib>
#include <limits>

#include "host/common/error.h"

namespace train_gpu::distributed {

namespace {

int whole_number(const std::function<const char*(const char*)>& lookup, const char* name, int minimum) {
  const char* text = lookup(name);
  if (text == nullptr) throw Error(std::string("launch environment: ") + name + " is not set");
  const std::string value(text);
  std::size_t used = 0;
  long long number = -1;
  try {
    number = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (value.empty() || used != value.size() || number < minimum || number > std::numeric_limits<int>::max()) {
    throw Error(std::string("launch environment: ") + name + "='" + value + "' is not a whole number >= " +
                std::to_string(minimum) + "; was this process started by mpirun or srun?");
  }
  return static_cast<int>(number);
}

// Each launcher's variables: the world size's, the rank's and the local rank's (may be null).
struct LauncherVariables {
  const char* launcher;
  const char* size;
  const char* rank;
  const char* local_rank;
};

// In order of precedence: mpirun's own variables are the most specific; Slurm's describe the
// allocation as well as the job step, so they count only inside a step (SLURM_STEP_ID set by srun).
constexpr LauncherVariables kLaunchers[] = {
    {"mpirun", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"PMI", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"},
    {"srun", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_LOCALID"},
};

}  // namespace

LaunchPlacement launch_placement_from(const std::function<const char*(const char*)>& lookup) {
  for (const LauncherVariables& variables : kLaunchers) {
    if (lookup(variables.size) == nullptr) continue;
    if (std::string(variables.launcher) == "srun" && lookup("SLURM_STEP_ID") == nullptr) continue;
    LaunchPlacement placement;
    placement.launcher = variables.launcher;
    placement.size = whole_number(lookup, variables.size, 1);
    placement.rank = whole_number(lookup, variables.rank, 0);
    placement.local_rank = lookup(variables.local_rank) != nullptr ? whole_number(lookup, variables.local_rank, 0) : 0;
    if (placement.rank >= placement.size) {
      throw Error(std::string("launch environment: ") + variables.rank + "=" + std::to_string(placement.rank) +
                  " is outside the world of " + variables.size + "=" + std::to_string(placement.size));
    }
    return placement;
  }
  return LaunchPlacement{};
}

LaunchPlacement launch_placement() {
  return launch_placement_from([](const char* name) { return static_cast<const char*>(std::getenv(name)); });
}

}  // namespace train_gpu::distributed

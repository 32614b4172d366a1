// host/distributed/launch_environment.h: rank, world size and local rank from the variables each
// launcher sets, and no world at all (a single process) when none set them.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "host/common/error.h"
#include "host/distributed/launch_environment.h"

namespace train_gpu::distributed {
namespace {

LaunchPlacement placement_of(const std::map<std::string, std::string>& environment) {
  return launch_placement_from([&](const char* name) -> const char* {
    const auto found = environment.find(name);
    return found == environment.end() ? nullptr : found->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& environment) {
  try {
    placement_of(environment);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(LaunchEnvironmentTest, NoLauncherMeansOneProcess) {
  const LaunchPlacement placement = placement_of({{"HOME", "/root"}});
  EXPECT_FALSE(placement.distributed());
  EXPECT_EQ(placement.size, 1);
  EXPECT_EQ(placement.rank, 0);
  EXPECT_EQ(placement.launcher, "");
}

TEST(LaunchEnvironmentTest, MpirunsVariablesGivePlacement) {
  const LaunchPlacement placement =
      placement_of({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}});
  EXPECT_TRUE(placement.distributed());
  EXPECT_EQ(placement.size, 4);
  EXPECT_EQ(placement.rank, 3);
  EXPECT_EQ(placement.local_rank, 1);
  EXPECT_EQ(placement.launcher, "mpirun");
  EXPECT_EQ(placement.rank_phrase(), "rank 3 of 4");
}

TEST(LaunchEnvironmentTest, AWorldOfOneUnderMpirunIsASingleProcess) {
  EXPECT_FALSE(placement_of({{"OMPI_COMM_WORLD_SIZE", "1"}, {"OMPI_COMM_WORLD_RANK", "0"}}).distributed());
}

TEST(LaunchEnvironmentTest, HydraAndSrunAreReadToo) {
  const LaunchPlacement hydra = placement_of({{"PMI_SIZE", "2"}, {"PMI_RANK", "1"}, {"MPI_LOCALRANKID", "1"}});
  EXPECT_EQ(hydra.launcher, "PMI");
  EXPECT_EQ(hydra.rank, 1);
  EXPECT_EQ(hydra.local_rank, 1);
  const LaunchPlacement srun = placement_of(
      {{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_PROCID", "5"}, {"SLURM_LOCALID", "1"}});
  EXPECT_EQ(srun.launcher, "srun");
  EXPECT_EQ(srun.size, 8);
  EXPECT_EQ(srun.rank, 5);
  EXPECT_EQ(srun.local_rank, 1);
}

// sbatch sets SLURM_* for the whole allocation; only srun's job step makes this process a rank.
TEST(LaunchEnvironmentTest, SlurmsAllocationOutsideAStepIsNoWorld) {
  EXPECT_FALSE(placement_of({{"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_PROCID", "0"}}).distributed());
}

TEST(LaunchEnvironmentTest, MpirunWinsOverSlurmInsideAnAllocation) {
  const LaunchPlacement placement = placement_of({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "1"},
                                                  {"SLURM_PROCID", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                                  {"OMPI_COMM_WORLD_RANK", "1"}});
  EXPECT_EQ(placement.launcher, "mpirun");
  EXPECT_EQ(placement.size, 2);
  EXPECT_EQ(placement.local_rank, 0) << "no local rank variable: 0";
}

TEST(LaunchEnvironmentTest, MalformedValuesNameTheVariable) {
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_SIZE", "two"}, {"OMPI_COMM_WORLD_RANK", "0"}}).find("OMPI_COMM_WORLD_SIZE='two'"),
            std::string::npos);
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_SIZE", "2"}}).find("OMPI_COMM_WORLD_RANK is not set"), std::string::npos);
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "2"}}).find("outside the world"),
            std::string::npos);
  EXPECT_NE(error_of({{"PMI_SIZE", "0"}, {"PMI_RANK", "0"}}).find("PMI_SIZE='0' is not a whole number >= 1"), std::string::npos);
  EXPECT_NE(error_of({{"PMI_SIZE", "2"}, {"PMI_RANK", "-1"}}).find("PMI_RANK='-1'"), std::string::npos);
}

}  // namespace
}  // namespace train_gpu::distributed

// Graceful stop on SIGINT/SIGTERM: the first signal asks the trainer to finish its current step,
// write a checkpoint and exit (130 / 143); a second one exits at once. `docker stop` sends
// SIGTERM, so a container stop keeps the run.
#pragma once

#include <string>

namespace train_gpu {

class StopSignal {
 public:
  // Installs the handlers; restores the previous ones when destroyed.
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // The signal number received (SIGINT, SIGTERM), or 0.
  static int received();
  // For tests: behave as if `signal_number` had arrived.
  static void raise_for_test(int signal_number);
  static void reset();
};

// TEST-ONLY: with the environment variable TRAIN_GPU_TEST_STOP_AT=NAME, the process stops itself
// (SIGSTOP) on reaching the point named NAME (e.g. "final-evaluation"), so that a test can queue
// a signal for exactly that moment and continue it (SIGCONT) with no timing race; a user has no
// reason to set it.
void test_stop_point(const std::string& name);

}  // namespace train_gpu

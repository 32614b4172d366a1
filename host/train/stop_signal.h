// Graceful stop on SIGINT/SIGTERM: the first signal asks the trainer to finish its current step,
// write a checkpoint and exit (130 / 143); a second one exits at once. `docker stop` sends
// SIGTERM, so a container stop keeps the run.
#pragma once

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

}  // namespace train_gpu

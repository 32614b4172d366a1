// Holds the signals that end a process (SIGINT, SIGTERM, SIGHUP) on the calling thread for the life
// of the object; one that arrives meanwhile stays pending and is delivered when the previous mask
// is restored. For work that must not be cut in the middle: oneDNN's JIT kernels keep data below
// the stack pointer, which a handler running on that stack overwrites (cpu::ComputeScope), and an
// atomic write killed between creating and renaming its temporary leaves megabytes behind
// (write_file_atomically). SIGKILL cannot be held: the temporaries' clean-up covers that case.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace train_gpu {

class TerminationSignalsHeld {
 public:
  TerminationSignalsHeld() {
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &held, &previous_);
  }
  ~TerminationSignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  TerminationSignalsHeld(const TerminationSignalsHeld&) = delete;
  TerminationSignalsHeld& operator=(const TerminationSignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace train_gpu

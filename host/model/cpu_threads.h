// Threads, floating-point mode and signal mask of the CPU backend's compute. One OpenMP pool
// runs both oneDNN's GEMMs (Debian's libdnnl is built on OpenMP, libgomp) and the per-image
// loops of cpu_conv_pool.cpp and the Adam update, so the two never oversubscribe the cores.
//
// How many: every CPU the affinity mask allows, but no more than the cgroup's CPU quota
// (cpu_quota.h) rounded up; OMP_NUM_THREADS, when set, wins over both.
//
// How they wait: libgomp's default lets a thread that reaches a barrier spin for 300,000 PAUSE
// instructions (milliseconds) before it sleeps. When a core is shared (other processes, a CPU
// quota, a hypervisor taking the vCPU away) the partner it waits for is not running, and the
// spinning takes the very core that partner needs: one epoch took 38 s with two threads where
// one thread took 9.8 s (issue 22). So, unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT,
// the process starts with kOpenMpSpinCount (cpu_threads.cpp says how: an exec of
// itself before any library runs, because libgomp reads it only then): long enough to cover the microseconds between one step's parallel
// regions, short enough that a wait for a descheduled partner costs a fraction of a
// millisecond of CPU before the thread sleeps.
//
// Denormals: the tutorial's gradients and Adam's second moments decay into the denormal range
// within the first epoch, and x86 cores take microcode assists on every denormal operand: with
// them, steady epochs ran about twice as long as with FTZ/DAZ set (issue 13's measurements).
// TensorFlow and PyTorch flush on their compute threads; so do we, on every thread that computes
// (the caller for the duration of a step, the pool threads whenever they run our work). A new
// thread inherits the mode of its creator and oneDNN's parallel regions run on the same pool
// threads as ours, so they compute flushed too.
#pragma once

#include <optional>
#include <string>

#include "host/common/held_signals.h"
#include "host/model/cpu_quota.h"

namespace train_gpu::cpu {

// PAUSE iterations a waiting pool thread spins before it sleeps, as the environment entry that
// tells libgomp.
inline constexpr char kOpenMpSpinCount[] = "GOMP_SPINCOUNT=10000";

// What "0 threads" means, and why: "affinity", "OMP_NUM_THREADS", or the quota's file, CPUs
// and rounding ("cpu.max 1.5 CPUs → 2").
struct DefaultThreads {
  int count = 1;
  std::string reason;
};
// From OpenMP's own default (OMP_NUM_THREADS when `omp_num_threads_set`, else the CPUs of the
// affinity mask) and the cgroup's quota: the quota rounded up, at least 1, caps the affinity
// count; it never overrides OMP_NUM_THREADS, which a user sets on purpose.
DefaultThreads choose_default_threads(int openmp_default, bool omp_num_threads_set, std::optional<CpuQuota> quota);
// This process's, decided once, on the first call.
const DefaultThreads& default_threads();

// Sets how many threads compute (0: default_threads()). Returns the count now in force (1 in a
// build without OpenMP).
int set_thread_count(int requested);
int thread_count();

// For the device line: "3 threads" when `requested` them, "1 thread", and with the reason when
// the count is the default (requested 0): "2 threads (affinity)".
std::string thread_count_phrase(int count, int requested);

// The calling thread's mode: true when denormal results flush to zero (FTZ) and denormal inputs
// read as zero (DAZ). Always false on CPUs without such a mode (non-x86 builds).
bool flushes_denormals();
void set_flush_denormals(bool flush);

// One CPU backend call (a step, an evaluation batch), from the calling thread's side:
// - the backend's thread count, set again each time: the pool's count is process-wide, and a
//   second backend with another count must not leave this one computing with it;
// - the backend's denormal mode, restored afterwards;
// - SIGINT, SIGTERM and SIGHUP held back until the call ends (pending ones arrive then). oneDNN's JIT
//   kernels keep data below the stack pointer, and a handler that runs on the interrupted
//   thread's stack overwrites it: a Ctrl-C during a GEMM corrupted the heap in about one run in
//   three. The pool's threads are created inside such a call, so they inherit the mask and
//   never take the signals at all. train_gpu's handlers only set a flag the trainer reads
//   between steps, so holding the signals for one step changes nothing it does.
class ComputeScope {
 public:
  ComputeScope(int threads, bool flush_denormals);
  ~ComputeScope();
  ComputeScope(const ComputeScope&) = delete;
  ComputeScope& operator=(const ComputeScope&) = delete;

 private:
  TerminationSignalsHeld held_signals_;  // first: held before anything else is set, restored last
  bool previous_flush_;
};

// body(i) for every i in [0, count), statically split over the pool; every pool thread first
// takes the caller's denormal mode. Which thread runs which i never changes what body(i)
// computes, so results do not depend on the thread count. body must not throw.
// Without OpenMP (a compiler without its runtime, e.g. clang without libomp in tools/fuzz.sh)
// the loop runs on the caller's thread, in the caller's mode.
template <typename Body>
void parallel_for(int count, const Body& body) {
#if defined(_OPENMP)
  const bool flush = flushes_denormals();
#pragma omp parallel
  {
    set_flush_denormals(flush);
#pragma omp for schedule(static)
    for (int i = 0; i < count; ++i) body(i);
  }
#else
  for (int i = 0; i < count; ++i) body(i);
#endif
}

}  // namespace train_gpu::cpu

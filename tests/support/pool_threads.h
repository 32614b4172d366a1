// The OpenMP pool's threads, set and read directly rather than through cpu::parallel_for (whose
// job, giving each pool thread the caller's denormal mode, is what the tests that use these check).
// Pool threads keep their mode from one parallel region to the next and inherit their creator's
// when they start, so a test that wants to see parallel_for set the mode first puts every pool
// thread in the opposite one itself: otherwise the result depends on which test ran first.
#pragma once

#include "host/model/cpu_threads.h"

namespace train_gpu::testing {

// Sets the denormal mode of the caller and the pool's first `threads` - 1 threads (creating them
// when needed), then gives the caller back its own mode. Without OpenMP, nothing to do.
inline void set_pool_threads_flush_denormals(int threads, bool flush) {
#if defined(_OPENMP)
  const bool caller = cpu::flushes_denormals();
#pragma omp parallel num_threads(threads)
  cpu::set_flush_denormals(flush);
  cpu::set_flush_denormals(caller);
#else
  (void)threads;
  (void)flush;
#endif
}

}  // namespace train_gpu::testing

#include "host/model/cpu_threads.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace train_gpu::cpu {

namespace {

#if defined(__SSE__)
constexpr unsigned kFlushToZero = 0x8000u;     // MXCSR.FTZ
constexpr unsigned kDenormalsAreZero = 0x0040u;  // MXCSR.DAZ
constexpr unsigned kFlushBits = kFlushToZero | kDenormalsAreZero;
#endif

#if defined(_OPENMP)
// The pool size OpenMP chose before we changed it: what "0 = default" means for every later call.
// Read on the first call of set_thread_count, whatever it asks for: read lazily on the first
// request for 0, it was the count an earlier explicit request had set (1, then 0, gave 1).
int default_thread_count() {
  static const int count = omp_get_max_threads();
  return count;
}
#endif

}  // namespace

int set_thread_count(int requested) {
#if defined(_OPENMP)
  const int default_count = default_thread_count();  // before omp_set_num_threads below changes it
  const int count = requested > 0 ? requested : default_count;
  omp_set_num_threads(count);
  return count;
#else
  (void)requested;
  return 1;
#endif
}

int thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

bool flushes_denormals() {
#if defined(__SSE__)
  return (_mm_getcsr() & kFlushBits) == kFlushBits;
#else
  return false;
#endif
}

void set_flush_denormals(bool flush) {
#if defined(__SSE__)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(flush ? (csr | kFlushBits) : (csr & ~kFlushBits));
#else
  (void)flush;
#endif
}

ComputeScope::ComputeScope(int threads, bool flush_denormals) : previous_flush_(flushes_denormals()) {
  set_thread_count(threads);
  set_flush_denormals(flush_denormals);
}

ComputeScope::~ComputeScope() {
  set_flush_denormals(previous_flush_);
}

}  // namespace train_gpu::cpu

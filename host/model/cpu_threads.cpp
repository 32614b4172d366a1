#include "host/model/cpu_threads.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "host/common/format.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__GLIBC__)
#include <unistd.h>
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

#if defined(_OPENMP) && defined(__GLIBC__) && !defined(__clang__)  // GCC: libgomp, whose variable this is
// libgomp reads GOMP_SPINCOUNT once, in its own constructor, which the dynamic loader runs
// before any constructor of the executable and long before main(), and it has no call that
// changes the spin count afterwards (its variable is not exported). Nor does a setenv() in the
// executable's .preinit_array (which does run before every library's constructor) reach it:
// libc's own initialization, which runs next, resets the environment to the array the kernel
// passed (tested: a variable set there is gone in main). What reaches libgomp is an environment
// the process starts with, so the first thing this process does, when neither variable is set,
// is to exec itself again with GOMP_SPINCOUNT added, before any library has run (milliseconds).
// This file is in every executable that runs the pool (parallel_for calls into it), the
// train_gpu binary and the tests alike.
constexpr const char kSetHereEntry[] = "TRAIN_GPU_SET_GOMP_SPINCOUNT=1";
constexpr std::size_t kMaxEnvironment = 4096;  // entries; a larger environment runs unbounded

bool starts_with(const char* text, const char* prefix) { return std::strncmp(text, prefix, std::strlen(prefix)) == 0; }

// Runs before libc is initialized: only system calls and functions without state. Not under
// valgrind (its preload library in LD_PRELOAD), which would not follow the exec, nor when the
// program was started through the dynamic loader (`ld-linux-x86-64.so.2 train_gpu ...`), whose
// /proc/self/exe is the loader: both run with libgomp's default.
void bound_openmp_spinning(int, char** argv, char** envp) {
  std::size_t count = 0;
  for (char** entry = envp; *entry != nullptr; ++entry, ++count) {
    if (starts_with(*entry, "OMP_WAIT_POLICY=") || starts_with(*entry, "GOMP_SPINCOUNT=")) return;
    if (starts_with(*entry, "LD_PRELOAD=") && std::strstr(*entry, "vgpreload") != nullptr) return;
  }
  if (count + 3 > kMaxEnvironment) return;
  static char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return;
  self[length] = '\0';
  const char* slash = std::strrchr(self, '/');
  if (starts_with(slash == nullptr ? self : slash + 1, "ld-")) return;
  static char* environment[kMaxEnvironment];
  for (std::size_t i = 0; i < count; ++i) environment[i] = envp[i];
  environment[count] = const_cast<char*>(kOpenMpSpinCount);
  environment[count + 1] = const_cast<char*>(kSetHereEntry);
  environment[count + 2] = nullptr;
  execve(self, argv, environment);  // returns only when it failed: then libgomp's default
}

__attribute__((section(".preinit_array"), used)) void (*const kBoundOpenMpSpinning)(int, char**, char**) =
    bound_openmp_spinning;

// libgomp has read it by now (its constructor ran before the executable's): out of the
// environment again, so that the processes train_gpu starts (Python for --plots) see the
// user's environment, not ours.
__attribute__((constructor)) void forget_openmp_spin_count() {
  if (std::getenv("TRAIN_GPU_SET_GOMP_SPINCOUNT") == nullptr) return;
  unsetenv("TRAIN_GPU_SET_GOMP_SPINCOUNT");
  unsetenv("GOMP_SPINCOUNT");
}
#endif

// 1.5 -> "1.5", 2 -> "2", 0.25 -> "0.25"
std::string cpu_amount(double cpus) {
  std::string text = fixed(cpus, 2);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

DefaultThreads choose_default_threads(int openmp_default, bool omp_num_threads_set, std::optional<CpuQuota> quota) {
  const int count = openmp_default > 0 ? openmp_default : 1;
  if (omp_num_threads_set) return {count, "OMP_NUM_THREADS"};
  if (quota && quota->cpus > 0.0) {
    // Rounded up: 1.5 CPUs of time keep two threads busy three quarters of the time, where one
    // thread would leave half a CPU unused.
    const double rounded = std::ceil(quota->cpus);
    const int capped = rounded < double(count) ? std::max(1, int(rounded)) : count;
    if (capped < count) {
      return {capped, quota->file + " " + cpu_amount(quota->cpus) + (quota->cpus == 1.0 ? " CPU" : " CPUs") + " → " +
                          std::to_string(capped)};
    }
  }
  return {count, "affinity"};
}

const DefaultThreads& default_threads() {
#if defined(_OPENMP)
  // Read once, before any omp_set_num_threads of ours: read later, omp_get_max_threads() would be
  // the count an earlier explicit request set (1, then 0, gave 1).
  static const DefaultThreads chosen =
      choose_default_threads(omp_get_max_threads(), std::getenv("OMP_NUM_THREADS") != nullptr, process_cpu_quota());
#else
  static const DefaultThreads chosen{1, "built without OpenMP"};
#endif
  return chosen;
}

int set_thread_count(int requested) {
#if defined(_OPENMP)
  const int default_count = default_threads().count;  // before omp_set_num_threads below changes it
  const int count = requested > 0 ? requested : default_count;
  omp_set_num_threads(count);
  return count;
#else
  (void)requested;
  return 1;
#endif
}

std::string thread_count_phrase(int count, int requested) {
  std::string phrase = std::to_string(count) + (count == 1 ? " thread" : " threads");
  if (requested == 0) phrase += " (" + default_threads().reason + ")";
  return phrase;
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

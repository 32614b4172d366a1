#include "host/distributed/mpi_collectives.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "host/common/error.h"
#include "host/distributed/collective_watchdog.h"

namespace train_gpu::distributed {

namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, std::size_t(length));
}

void check(int code, const char* call, const char* what) {
  if (code != MPI_SUCCESS) throw Error(std::string(call) + " (" + what + ") failed: " + mpi_error_text(code));
}

int checked_count(std::size_t count, const char* what) {
  if (count > std::size_t(2147483647)) throw Error(std::string(what) + ": " + std::to_string(count) + " values exceed one MPI call's int count");
  return static_cast<int>(count);
}

// MPI_Init_thread .. MPI_Finalize. Constructed before, destroyed after, the communicator it owns.
class MpiSession {
 public:
  MpiSession() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) throw Error("internal: MPI initialized twice");
    // FUNNELED: only the main thread calls MPI (the watchdog's thread never does; the compute
    // threads of the CPU backend neither).
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread", "joining the job");
  }
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

class MpiCollectives final : public Collectives {
 public:
  MpiCollectives(const LaunchPlacement& placement, double timeout_seconds)
      : local_rank_(placement.local_rank),
        timeout_seconds_(timeout_seconds),
        watchdog_(timeout_seconds, placement.rank_phrase()) {
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup", "joining the job");
    // Errors come back as codes, each an Error naming its call, instead of MPI's default of
    // aborting with a stack of its own.
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", "joining the job");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank", "joining the job");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size", "joining the job");
    if (rank_ != placement.rank || size_ != placement.size) {
      throw Error("MPI says rank " + std::to_string(rank_) + " of " + std::to_string(size_) + " but " +
                  placement.launcher + "'s environment says " + placement.rank_phrase() +
                  ": is this train_gpu linked against another MPI than the one that launched it?");
    }
  }
  ~MpiCollectives() override { MPI_Comm_free(&comm_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  double timeout_seconds() const override { return timeout_seconds_; }

  void sum_gradients(float* gradients, std::size_t count) override {
    const ArmedWatchdog armed(watchdog_, "the gradient all-reduce");
    check(MPI_Allreduce(MPI_IN_PLACE, gradients, checked_count(count, "gradients"), MPI_FLOAT, MPI_SUM, comm_),
          "MPI_Allreduce", "the gradient all-reduce");
  }

  void sum(double* values, std::size_t count, const char* what) override {
    const ArmedWatchdog armed(watchdog_, what);
    check(MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count, what), MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce", what);
  }

  void sum(int64_t* values, std::size_t count, const char* what) override {
    const ArmedWatchdog armed(watchdog_, what);
    check(MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count, what), MPI_INT64_T, MPI_SUM, comm_), "MPI_Allreduce", what);
  }

  void min(int64_t* values, std::size_t count, const char* what) override {
    const ArmedWatchdog armed(watchdog_, what);
    check(MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count, what), MPI_INT64_T, MPI_MIN, comm_), "MPI_Allreduce", what);
  }

  void broadcast(void* data, std::size_t bytes, const char* what) override {
    const ArmedWatchdog armed(watchdog_, what);
    check(MPI_Bcast(data, checked_count(bytes, what), MPI_BYTE, 0, comm_), "MPI_Bcast", what);
  }

  std::vector<uint64_t> gather(uint64_t value, const char* what) override {
    const ArmedWatchdog armed(watchdog_, what);
    std::vector<uint64_t> values(std::size_t(size_), 0);
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, comm_), "MPI_Allgather", what);
    return values;
  }

  [[noreturn]] void abort_job(const std::string& line) override {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
    MPI_Abort(comm_, 1);
    std::_Exit(1);  // MPI_Abort does not return; in case an implementation does
  }

 private:
  MpiSession session_;  // first member: initialized before, finalized after, everything below
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_;
  double timeout_seconds_;
  CollectiveWatchdog watchdog_;
};

}  // namespace

std::unique_ptr<Collectives> make_mpi_collectives(const LaunchPlacement& placement, double timeout_seconds) {
  return std::make_unique<MpiCollectives>(placement, timeout_seconds);
}

}  // namespace train_gpu::distributed

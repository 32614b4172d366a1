// A train_gpu process started by a test, for tests that signal it or watch it from outside:
// started with posix_spawn (no shell between the test and the pid it signals), stdout and stderr
// in files, and killed and reaped by its destructor, so a failed assertion never leaves a
// training running.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

extern char** environ;

namespace train_gpu::testing {

using Clock = std::chrono::steady_clock;

// Far above what any step of a test takes (a few seconds at most, even on two busy cores), so it only
// ever fires on a real hang.
constexpr std::chrono::seconds kDeadline{120};
// How often the waits look at the child and its run directory. This paces polling; what the tests
// synchronize on is a file appearing or the child exiting, never the passing of time.
constexpr std::chrono::milliseconds kPollInterval{2};

inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "status " + std::to_string(status);
}

// One train_gpu process with stdout and stderr in files. The destructor kills (SIGKILL) and reaps
// it unless it has already been reaped, so no test path leaks a running training or a zombie.
class Child {
 public:
  // `extra_environment` ("NAME=value" entries) is added to this process's environment. `program`
  // (an absolute path) runs instead of train_gpu for a launcher such as mpirun.
  Child(const std::vector<std::string>& arguments, const std::filesystem::path& output_prefix,
        std::vector<std::string> extra_environment = {}, const std::string& program = TRAIN_GPU_BINARY)
      : out_file_(output_prefix.string() + ".stdout"), err_file_(output_prefix.string() + ".stderr") {
    std::vector<std::string> argv_strings{program};
    argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& argument : argv_strings) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char*> environment;
    for (char** entry = environ; *entry != nullptr; ++entry) environment.push_back(*entry);
    for (std::string& entry : extra_environment) environment.push_back(entry.data());
    environment.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // The child must see SIGINT and SIGTERM as a shell would deliver them, whatever this test
    // process inherited (ctest or a background job may run us with SIGINT ignored or blocked).
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setsigmask(&attributes, &empty);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    const int error = posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environment.data());
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      pid_ = -1;
      throw std::runtime_error("posix_spawn of " + program + " failed: " + std::strerror(error));
    }
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      reap(0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  void send(int signal_number) const {
    ASSERT_FALSE(status_.has_value()) << "signal " << signal_number << " for a child already reaped";
    ASSERT_EQ(::kill(pid_, signal_number), 0) << std::strerror(errno);
  }

  bool running() {
    if (!status_) reap(WNOHANG);
    return !status_;
  }

  // The wait status once the child has exited; nullopt when it is still running at `deadline`,
  // in which case it is killed and reaped here.
  std::optional<int> wait_until(Clock::time_point deadline) {
    while (running()) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        reap(0);
        return std::nullopt;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    return status_;
  }

  // True once the child has stopped itself (SIGSTOP, as at a TRAIN_GPU_TEST_STOP_AT point);
  // false when it exited first (its status is kept) or is still running at `deadline`.
  bool wait_until_stopped(Clock::time_point deadline) {
    while (!status_ && Clock::now() <= deadline) {
      int status = 0;
      const pid_t result = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
      if (result == pid_ && WIFSTOPPED(status)) return true;
      if (result == pid_) status_ = status;
      if (result == 0) std::this_thread::sleep_for(kPollInterval);
    }
    return false;
  }

  std::string out() const { return read_if_present(out_file_); }
  std::string err() const { return read_if_present(err_file_); }
  std::string output() const { return "--- stdout:\n" + out() + "--- stderr:\n" + err(); }

 private:
  static std::string read_if_present(const std::filesystem::path& file) { return std::filesystem::exists(file) ? read_text(file) : std::string(); }

  void reap(int options) {
    int status = 0;
    pid_t result;
    do {
      result = ::waitpid(pid_, &status, options);
    } while (result < 0 && errno == EINTR);
    if (result == pid_) status_ = status;
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path out_file_;
  std::filesystem::path err_file_;
};

}  // namespace train_gpu::testing

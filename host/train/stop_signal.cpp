#include "host/train/stop_signal.h"

#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace train_gpu {

namespace {

volatile std::sig_atomic_t g_received = 0;
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void on_stop_signal(int signal_number) {
  if (g_received != 0) {
    // Second signal: the user insists. Only async-signal-safe calls here.
    const char message[] = "\ntrain_gpu: second signal, exiting now without a checkpoint\n";
    (void)!write(STDERR_FILENO, message, sizeof message - 1);
    _exit(128 + signal_number);
  }
  g_received = signal_number;
}

}  // namespace

StopSignal::StopSignal() {
  g_received = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocking read should return so the loop can notice
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignal::~StopSignal() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int StopSignal::received() { return g_received; }
void StopSignal::raise_for_test(int signal_number) { g_received = signal_number; }
void StopSignal::reset() { g_received = 0; }

void test_stop_point(const std::string& name) {
  const char* setting = std::getenv("TRAIN_GPU_TEST_STOP_AT");
  if (setting != nullptr && name == setting) ::raise(SIGSTOP);
}

}  // namespace train_gpu

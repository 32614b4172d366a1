// A live progress line for a terminal: step, loss, accuracy, samples/s, ETA, redrawn in place
// with '\r' at most a few times a second. Disabled (prints nothing) when stdout is not a tty, so
// logs and pipes get only the per-epoch lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace train_gpu {

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, bool enabled, std::string label, int64_t total_steps);
  // True when enough time has passed since the last draw that a redraw is worth a device sync.
  bool due() const;
  void draw(int64_t step, double loss, double accuracy, double samples_per_second);
  // Erases the line so the epoch summary replaces it.
  void clear();

  static bool stdout_is_terminal();

 private:
  std::ostream& out_;
  bool enabled_;
  std::string label_;
  int64_t total_steps_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace train_gpu

#include "host/train/progress_bar.h"

#include <unistd.h>

#include <cstdio>

#include "host/common/format.h"

namespace train_gpu {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(250);
constexpr int kBarWidth = 24;
}  // namespace

ProgressBar::ProgressBar(std::ostream& out, bool enabled, std::string label, int64_t total_steps)
    : out_(out),
      enabled_(enabled),
      label_(std::move(label)),
      total_steps_(total_steps),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

bool ProgressBar::due() const {
  return enabled_ && std::chrono::steady_clock::now() - last_draw_ >= kRedrawInterval;
}

void ProgressBar::draw(int64_t step, double loss, double accuracy, double samples_per_second) {
  if (!enabled_ || total_steps_ <= 0) return;
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double fraction = double(step) / double(total_steps_);
  const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  out_ << "\r" << label_ << " [" << bar << "] " << step << "/" << total_steps_ << "  loss " << fixed(loss, 4)
       << "  acc " << fixed(100.0 * accuracy, 2) << "%  " << with_thousands(static_cast<int64_t>(samples_per_second))
       << " samples/s  ETA " << human_duration(eta) << "   " << std::flush;
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  out_ << "\r" << std::string(110, ' ') << "\r" << std::flush;
  drawn_ = false;
}

bool ProgressBar::stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

}  // namespace train_gpu

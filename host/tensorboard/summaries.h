// Summary values of the kinds TensorBoard's dashboards show, built the way TensorFlow's own
// writers build them: scalars as simple_value (Scalars), weights as HistogramProto (Histograms),
// pictures as PNG in Summary.Image (Images), Markdown as a string tensor for the "text" plugin
// (Text), hyperparameters as the HParams plugin's session start and end (HParams), as its own
// Python API (tensorboard.plugins.hparams.api) writes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "host/eval/png_image.h"
#include "host/tensorboard/event_file.h"

namespace train_gpu::tensorboard {

// `description` (Markdown, may be empty) is what the chart's info tooltip shows.
Summary::Value scalar_value(const std::string& tag, double value, const std::string& description = "");

// `buckets` equal-width buckets from the smallest value to the largest (the largest value falls in
// the last bucket); one bucket when all values are equal. Non-finite values are left out of
// everything, num included (a diverged run stops before its weights are logged anyway).
// `count` must be positive.
HistogramProto histogram_of(const float* values, std::size_t count, int buckets = 30);
Summary::Value histogram_value(const std::string& tag, const float* values, std::size_t count);

// An 8-bit grayscale or RGB image, PNG-encoded.
Summary::Value image_value(const std::string& tag, const eval::Image& image);

// Markdown text for the Text dashboard: a rank-0 DT_STRING tensor with plugin_name "text".
Summary::Value text_value(const std::string& tag, const std::string& markdown);

// One hyperparameter of a run, as the HParams dashboard shows it: a number (its columns filter by
// range) or a text (filtered by value).
struct HParam {
  std::string name;
  std::variant<double, std::string> value;
};

// "_hparams_/session_start_info": the run's hyperparameters, started at `start_time_secs` (Unix
// seconds). The dashboard pairs them with the last value of each scalar tag of the run's
// sub-directories (train/epoch_loss, validation/epoch_accuracy, ...), its metrics.
Summary::Value hparams_start_value(const std::vector<HParam>& hparams, double start_time_secs);

// "_hparams_/session_end_info": the run finished (its status column reads "Success").
Summary::Value hparams_end_value(double end_time_secs);

// An Event at `step` carrying `values`, stamped with the current wall time.
Event summary_event(int64_t step, std::vector<Summary::Value> values);

}  // namespace train_gpu::tensorboard

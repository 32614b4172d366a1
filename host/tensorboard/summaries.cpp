#include "host/tensorboard/summaries.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "host/common/error.h"
#include "host/tensorboard/event_file.h"
#include "host/tensorboard/proto/hparams.pb.h"

namespace train_gpu::tensorboard {

Summary::Value scalar_value(const std::string& tag, double value, const std::string& description) {
  Summary::Value result;
  result.set_tag(tag);
  if (!description.empty()) result.mutable_metadata()->set_summary_description(description);
  result.set_simple_value(static_cast<float>(value));
  return result;
}

HistogramProto histogram_of(const float* values, std::size_t count, int buckets) {
  if (count == 0 || buckets < 1) throw Error("histogram: need at least one value and one bucket");
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  double sum = 0, sum_squares = 0, finite = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double value = values[i];
    if (!std::isfinite(value)) continue;
    low = std::min(low, value);
    high = std::max(high, value);
    sum += value;
    sum_squares += value * value;
    finite += 1;
  }
  HistogramProto histogram;
  histogram.set_num(finite);
  if (finite == 0) return histogram;  // no buckets: TensorBoard shows an empty histogram
  histogram.set_min(low);
  histogram.set_max(high);
  histogram.set_sum(sum);
  histogram.set_sum_squares(sum_squares);

  const int used = high > low ? buckets : 1;
  const double width = (high - low) / used;
  std::vector<double> counts(static_cast<std::size_t>(used), 0.0);
  for (std::size_t i = 0; i < count; ++i) {
    const double value = values[i];
    if (!std::isfinite(value)) continue;
    const int bucket = width > 0 ? static_cast<int>((value - low) / width) : 0;
    counts[static_cast<std::size_t>(std::clamp(bucket, 0, used - 1))] += 1;
  }
  // bucket_limit(i) is bucket i's right edge; the last is the maximum itself, as TensorBoard's
  // conversion (data_compat.py) replaces the last limit with max anyway.
  for (int b = 0; b < used; ++b) {
    histogram.add_bucket_limit(b + 1 == used ? high : low + width * (b + 1));
    histogram.add_bucket(counts[static_cast<std::size_t>(b)]);
  }
  return histogram;
}

Summary::Value histogram_value(const std::string& tag, const float* values, std::size_t count) {
  Summary::Value result;
  result.set_tag(tag);
  *result.mutable_histo() = histogram_of(values, count);
  return result;
}

Summary::Value image_value(const std::string& tag, const eval::Image& image) {
  Summary::Value result;
  result.set_tag(tag);
  Summary::Image* picture = result.mutable_image();
  picture->set_height(image.height);
  picture->set_width(image.width);
  picture->set_colorspace(image.channels);  // 1 grayscale, 3 RGB: the channel count itself
  picture->set_encoded_image_string(eval::encode_png(image));
  return result;
}

Summary::Value text_value(const std::string& tag, const std::string& markdown) {
  Summary::Value result;
  result.set_tag(tag);
  ::tensorboard::SummaryMetadata* metadata = result.mutable_metadata();
  metadata->mutable_plugin_data()->set_plugin_name("text");
  metadata->set_data_class(::tensorboard::DATA_CLASS_TENSOR);
  ::tensorboard::TensorProto* tensor = result.mutable_tensor();
  tensor->set_dtype(::tensorboard::DT_STRING);
  tensor->mutable_tensor_shape();  // no dims: a scalar string
  tensor->add_string_val(markdown);
  return result;
}

namespace {

// What the HParams plugin reads: plugin_data "hparams" with the serialized HParamsPluginData, and
// the empty float tensor its Python API attaches (metadata.NULL_TENSOR), as a tensor-class value.
Summary::Value hparams_value(const std::string& tag, const ::tensorboard::hparams::HParamsPluginData& data) {
  Summary::Value result;
  result.set_tag(tag);
  ::tensorboard::SummaryMetadata* metadata = result.mutable_metadata();
  metadata->mutable_plugin_data()->set_plugin_name("hparams");
  metadata->mutable_plugin_data()->set_content(data.SerializeAsString());
  metadata->set_data_class(::tensorboard::DATA_CLASS_TENSOR);
  ::tensorboard::TensorProto* tensor = result.mutable_tensor();
  tensor->set_dtype(::tensorboard::DT_FLOAT);
  tensor->mutable_tensor_shape()->add_dim()->set_size(0);
  return result;
}

}  // namespace

Summary::Value hparams_start_value(const std::vector<HParam>& hparams, double start_time_secs) {
  ::tensorboard::hparams::HParamsPluginData data;
  data.set_version(0);
  ::tensorboard::hparams::SessionStartInfo* start = data.mutable_session_start_info();
  start->set_start_time_secs(start_time_secs);
  for (const HParam& hparam : hparams) {
    google::protobuf::Value& value = (*start->mutable_hparams())[hparam.name];
    if (const double* number = std::get_if<double>(&hparam.value)) {
      value.set_number_value(*number);
    } else {
      value.set_string_value(std::get<std::string>(hparam.value));
    }
  }
  return hparams_value("_hparams_/session_start_info", data);
}

Summary::Value hparams_end_value(double end_time_secs) {
  ::tensorboard::hparams::HParamsPluginData data;
  data.set_version(0);
  ::tensorboard::hparams::SessionEndInfo* end = data.mutable_session_end_info();
  end->set_status(::tensorboard::hparams::STATUS_SUCCESS);
  end->set_end_time_secs(end_time_secs);
  return hparams_value("_hparams_/session_end_info", data);
}

Event summary_event(int64_t step, std::vector<Summary::Value> values) {
  Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  Summary* summary = event.mutable_summary();
  for (Summary::Value& value : values) *summary->add_value() = std::move(value);
  return event;
}

}  // namespace train_gpu::tensorboard

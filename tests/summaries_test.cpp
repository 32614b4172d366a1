// Summary values as TensorBoard expects them: histogram buckets against a hand count, images
// that decode back to their pixels, the text plugin's string tensor.
#include "host/tensorboard/summaries.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "support/test_support.h"

namespace train_gpu::tensorboard {
namespace {

namespace t = train_gpu::testing;

TEST(Histogram, BucketsByHandCount) {
  // 0..9, 0.5 and 8.5 in 5 buckets of width 1.8 from 0 to 9:
  // [0,1.8): 0 0.5 1   [1.8,3.6): 2 3   [3.6,5.4): 4 5   [5.4,7.2): 6 7   [7.2,9]: 8 8.5 9
  std::vector<float> values{9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0.5f, 8.5f};
  const HistogramProto h = histogram_of(values.data(), values.size(), 5);
  EXPECT_EQ(h.num(), 12);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 9);
  EXPECT_EQ(h.sum(), 54);
  EXPECT_EQ(h.sum_squares(), 357.5);
  ASSERT_EQ(h.bucket_size(), 5);
  const double expected_counts[] = {3, 2, 2, 2, 3};
  const double expected_limits[] = {1.8, 3.6, 5.4, 7.2, 9};
  for (int b = 0; b < 5; ++b) {
    EXPECT_EQ(h.bucket(b), expected_counts[b]) << "bucket " << b;
    EXPECT_NEAR(h.bucket_limit(b), expected_limits[b], 1e-12) << "bucket " << b;
  }
}

TEST(Histogram, EveryValueLandsInABucketWithinItsLimits) {
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> values(10007);
  for (float& v : values) v = normal(random);
  const HistogramProto h = histogram_of(values.data(), values.size());
  ASSERT_EQ(h.bucket_size(), 30);
  EXPECT_EQ(std::accumulate(h.bucket().begin(), h.bucket().end(), 0.0), 10007.0);
  EXPECT_EQ(h.bucket_limit(29), h.max());
  // Recount against the limits: bucket b holds [limit(b-1), limit(b)), the last one up to max.
  std::vector<double> recount(30, 0.0);
  for (float v : values) {
    int b = 0;
    while (b < 29 && v >= h.bucket_limit(b)) ++b;
    recount[static_cast<size_t>(b)] += 1;
  }
  for (int b = 0; b < 30; ++b) {
    // A value exactly on a computed limit may fall either side of it by rounding: allow one.
    EXPECT_NEAR(h.bucket(b), recount[static_cast<size_t>(b)], 1.0) << "bucket " << b;
  }
}

TEST(Histogram, ConstantValuesMakeOneBucketAndNonFiniteOnesAreLeftOut) {
  const std::vector<float> zeros(32, 0.0f);
  HistogramProto h = histogram_of(zeros.data(), zeros.size());
  ASSERT_EQ(h.bucket_size(), 1);
  EXPECT_EQ(h.bucket(0), 32);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);

  const std::vector<float> mixed{1.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f, std::numeric_limits<float>::infinity()};
  h = histogram_of(mixed.data(), mixed.size(), 2);
  EXPECT_EQ(h.num(), 2);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 3);
  EXPECT_EQ(h.bucket(0) + h.bucket(1), 2);
  EXPECT_THROW(histogram_of(mixed.data(), 0), Error);
}

TEST(ImageValue, CarriesAPngOfThePixels) {
  eval::Image image(5, 3, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 17);
  const Summary::Value value = image_value("evaluation/mistakes", image);
  EXPECT_EQ(value.tag(), "evaluation/mistakes");
  EXPECT_EQ(value.image().width(), 5);
  EXPECT_EQ(value.image().height(), 3);
  EXPECT_EQ(value.image().colorspace(), 3);  // RGB
  t::TempDir dir;
  const std::string& png = value.image().encoded_image_string();
  t::write_file(dir / "decoded.png", t::Bytes(png.begin(), png.end()));
  EXPECT_EQ(eval::read_png(dir / "decoded.png").pixels, image.pixels);

  EXPECT_EQ(image_value("gray", eval::Image(2, 2, 1)).image().colorspace(), 1);
}

TEST(TextValue, IsAScalarStringTensorForTheTextPlugin) {
  const Summary::Value value = text_value("config", "# title\n\nbody");
  EXPECT_EQ(value.metadata().plugin_data().plugin_name(), "text");
  EXPECT_EQ(value.metadata().data_class(), ::tensorboard::DATA_CLASS_TENSOR);
  EXPECT_EQ(value.tensor().dtype(), ::tensorboard::DT_STRING);
  EXPECT_EQ(value.tensor().tensor_shape().dim_size(), 0);
  ASSERT_EQ(value.tensor().string_val_size(), 1);
  EXPECT_EQ(value.tensor().string_val(0), "# title\n\nbody");
}

TEST(SummaryEvent, StampsStepAndWallTime) {
  const Event event = summary_event(12, {scalar_value("a", 1.5), scalar_value("b", -2)});
  EXPECT_EQ(event.step(), 12);
  EXPECT_GT(event.wall_time(), 1.6e9);
  ASSERT_EQ(event.summary().value_size(), 2);
  EXPECT_EQ(event.summary().value(1).simple_value(), -2.0f);
}

}  // namespace
}  // namespace train_gpu::tensorboard

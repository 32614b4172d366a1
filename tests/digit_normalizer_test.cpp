// MNIST-style normalization of a picture (host/predict/digit_normalizer.h): area resampling and
// centre of mass on small integer images with hand-worked answers, then each step of
// normalize_digit on synthetic pictures -- polarity both ways, transparency over white and over
// black, level stretching, the 20-pixel box, the centring -- and the 28x28 pass-through.
#include "host/predict/digit_normalizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "support/test_support.h"

namespace train_gpu::predict {
namespace {

namespace t = train_gpu::testing;

// A grayscale picture (as the PNG reader returns it: RGBA, opaque) of `width` x `height`
// filled with `background`, with a `value` rectangle at (x, y) of size w x h.
RgbaPicture picture(int width, int height, uint8_t background, int x, int y, int w, int h, uint8_t value) {
  RgbaPicture p;
  p.width = width;
  p.height = height;
  p.pixels.assign(static_cast<size_t>(width) * height * 4, 255);
  for (int py = 0; py < height; ++py) {
    for (int px = 0; px < width; ++px) {
      const bool inside = px >= x && px < x + w && py >= y && py < y + h;
      uint8_t* pixel = p.pixels.data() + (static_cast<size_t>(py) * width + px) * 4;
      pixel[0] = pixel[1] = pixel[2] = inside ? value : background;
    }
  }
  return p;
}

bool mentions(const NormalizedDigit& digit, const std::string& words) {
  return std::any_of(digit.steps.begin(), digit.steps.end(),
                     [&](const std::string& step) { return step.find(words) != std::string::npos; });
}

std::string all_steps(const NormalizedDigit& digit) {
  std::string text;
  for (const std::string& step : digit.steps) text += step + "; ";
  return text;
}

TEST(ResampleArea, ShrinkingAveragesAndEnlargingRepeats) {
  // 4x2 -> 2x1: each output is the mean of a 2x2 block.
  const std::vector<float> image = {0, 4, 8, 12, 2, 6, 10, 14};
  EXPECT_EQ(resample_area(image, 4, 0, 0, 4, 2, 2, 1), (std::vector<float>{3, 11}));
  // 3 -> 2 columns: outputs cover 1.5 inputs each, the middle one split in half.
  EXPECT_EQ(resample_area({0, 3, 6}, 3, 0, 0, 3, 1, 2, 1), (std::vector<float>{1, 5}));
  // A region inside a larger image (stride 4, at x=1, y=1): only the region is read.
  EXPECT_EQ(resample_area(image, 4, 1, 1, 2, 1, 1, 1), (std::vector<float>{8}));
  // 2 -> 4: each input covers two outputs.
  EXPECT_EQ(resample_area({1, 5}, 2, 0, 0, 2, 1, 4, 1), (std::vector<float>{1, 1, 5, 5}));
  // Area averaging keeps the total intensity per unit area: the mean is preserved.
  std::vector<float> noise(37 * 23);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = float((i * 7919) % 256);
  const std::vector<float> small = resample_area(noise, 37, 0, 0, 37, 23, 13, 20);
  double mean_in = 0, mean_out = 0;
  for (const float v : noise) mean_in += v / double(noise.size());
  for (const float v : small) mean_out += v / double(small.size());
  EXPECT_NEAR(mean_out, mean_in, 1e-3 * mean_in);
  EXPECT_THROW(resample_area(noise, 37, 0, 0, 0, 23, 13, 20), Error);
}

TEST(CentreOfMass, IsTheIntensityWeightedMean) {
  // Mass 1 at (0,0) and 3 at (2,1): centre (1.5, 0.75).
  const Point centre = centre_of_mass({1, 0, 0, 0, 0, 3}, 3, 2);
  EXPECT_DOUBLE_EQ(centre.x, 1.5);
  EXPECT_DOUBLE_EQ(centre.y, 0.75);
  EXPECT_THROW(centre_of_mass({0, 0, 0, 0}, 2, 2), Error);
}

TEST(NormalizeDigit, DarkBarOnWhiteBecomesALightBar20PixelsTallCentred) {
  // A 10x40 black bar on white in 100x100: inverted, box 10x40 -> 5x20, centred.
  const NormalizedDigit digit = normalize_digit(picture(100, 100, 255, 12, 50, 10, 40, 0));
  ASSERT_EQ(digit.pixels.size(), 784u);
  EXPECT_TRUE(mentions(digit, "dark on light (border median 255) -> inverted")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "bounding box 10x40 at (12,50) scaled to 5x20")) << all_steps(digit);
  EXPECT_FALSE(mentions(digit, "levels stretched")) << "0 and 255 already: " << all_steps(digit);
  // The 5x20 bar's centre of mass (2, 9.5) goes to MNIST's (14, 14): offset (12, 4.5 rounded to 5).
  int left = 28, right = -1, top = 28, bottom = -1, lit = 0;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      if (digit.pixels[static_cast<size_t>(y * 28 + x)] == 0) continue;
      EXPECT_EQ(digit.pixels[static_cast<size_t>(y * 28 + x)], 255) << x << "," << y;
      left = std::min(left, x), right = std::max(right, x), top = std::min(top, y), bottom = std::max(bottom, y);
      ++lit;
    }
  }
  EXPECT_EQ(lit, 5 * 20);
  EXPECT_EQ(right - left + 1, 5);
  EXPECT_EQ(bottom - top + 1, 20);
  EXPECT_EQ(top, 5);
  EXPECT_EQ(left, 12);
}

TEST(NormalizeDigit, ShadedPaperIsSubtractedSoTheBoxIsTheStrokesAlone) {
  // Issue 24's page: paper shaded from 230 (top) to 170 (bottom), a grey (90) 10x40 bar at
  // (45,30). Without the paper model, the darker lower half passes the stroke threshold once
  // inverted and stretched, and the box grows to the picture's bottom edge.
  RgbaPicture shaded = picture(100, 100, 0, 45, 30, 10, 40, 90);
  for (int y = 0; y < 100; ++y) {
    for (int x = 0; x < 100; ++x) {
      uint8_t* pixel = shaded.pixels.data() + (static_cast<size_t>(y) * 100 + x) * 4;
      if (pixel[0] == 0) pixel[0] = pixel[1] = pixel[2] = static_cast<uint8_t>(std::lround(230.0 - 60.0 * y / 99.0));
    }
  }
  const NormalizedDigit digit = normalize_digit(shaded);
  EXPECT_TRUE(mentions(digit, "uneven or grainy paper (levels vary by 60 across it, grain sd 0)")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "bounding box 10x40 at (45,30) scaled to 5x20")) << all_steps(digit);
  int lit = 0;
  for (const uint8_t value : digit.pixels) lit += value > 0 ? 1 : 0;
  EXPECT_EQ(lit, 5 * 20) << "only the bar: " << all_steps(digit);
}

TEST(NormalizeDigit, GrainIsNotInkAndGrainAloneIsNoDigit) {
  // Seeded normal grain of sd 10 on even paper of 200, with and without a 12x40 bar of 60. On
  // the old path the grain's peaks pass the stroke threshold (10% of the stretched range, about
  // 2.5 sds) all over the picture and the box is the whole picture.
  std::mt19937 random(5);
  std::normal_distribution<float> grain(0.0f, 10.0f);
  RgbaPicture page = picture(80, 80, 200, 30, 20, 12, 40, 60), blank = picture(80, 80, 200, 0, 0, 0, 0, 0);
  for (RgbaPicture* p : {&page, &blank}) {
    for (size_t i = 0; i < p->pixels.size(); i += 4) {
      const float value = std::clamp(p->pixels[i] + grain(random), 0.0f, 255.0f);
      p->pixels[i] = p->pixels[i + 1] = p->pixels[i + 2] = static_cast<uint8_t>(std::lround(value));
    }
  }
  const NormalizedDigit digit = normalize_digit(page);
  EXPECT_TRUE(mentions(digit, "grain sd 10)")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "bounding box 12x40 at (30,20)")) << all_steps(digit);
  t::expect_contains(t::error_of([&] { normalize_digit(blank); }), "no digit found: nothing stands out of the paper (its grain sd 10");
}

TEST(NormalizeDigit, EvenCleanPaperSkipsThePaperModel) {
  // Uniform paper of any level is the old path, step for step (clean drawings predict as before).
  const NormalizedDigit digit = normalize_digit(picture(80, 80, 200, 30, 20, 12, 40, 60));
  for (const std::string& step : digit.steps) EXPECT_EQ(step.find("paper"), std::string::npos) << step;
}

TEST(NormalizeDigit, LightOnDarkIsKeptAndGrayLevelsAreStretched) {
  // Light gray (200) strokes on dark gray (40): kept as is, levels 40..200 -> 0..255.
  const NormalizedDigit digit = normalize_digit(picture(60, 60, 40, 20, 10, 20, 40, 200));
  EXPECT_TRUE(mentions(digit, "light on dark (border median 40)")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "levels stretched: background 40 -> 0, brightest stroke 200 -> 255")) << all_steps(digit);
  EXPECT_EQ(*std::max_element(digit.pixels.begin(), digit.pixels.end()), 255);
  EXPECT_EQ(digit.pixels[0], 0);
  EXPECT_TRUE(mentions(digit, "bounding box 20x40 at (20,10) scaled to 10x20")) << all_steps(digit);
}

TEST(NormalizeDigit, TransparencyIsCompositedAgainstTheInk) {
  // Black ink, opaque only on the strokes: over white, then inverted.
  RgbaPicture dark = picture(50, 50, 0, 10, 10, 8, 30, 0);
  for (size_t i = 0; i < dark.pixels.size() / 4; ++i) {
    const int x = int(i % 50), y = int(i / 50);
    dark.pixels[4 * i + 3] = (x >= 10 && x < 18 && y >= 10 && y < 40) ? 255 : 0;
  }
  dark.alpha = true;
  NormalizedDigit digit = normalize_digit(dark);
  EXPECT_TRUE(mentions(digit, "composited over white")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "inverted")) << all_steps(digit);
  EXPECT_EQ(*std::max_element(digit.pixels.begin(), digit.pixels.end()), 255);

  // White ink on a transparent sheet: over black, kept.
  RgbaPicture light = dark;
  for (size_t i = 0; i < light.pixels.size() / 4; ++i) light.pixels[4 * i] = light.pixels[4 * i + 1] = light.pixels[4 * i + 2] = 255;
  digit = normalize_digit(light);
  EXPECT_TRUE(mentions(digit, "composited over black")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "light on dark")) << all_steps(digit);
  EXPECT_EQ(*std::max_element(digit.pixels.begin(), digit.pixels.end()), 255);

  RgbaPicture empty = dark;
  for (size_t i = 0; i < empty.pixels.size() / 4; ++i) empty.pixels[4 * i + 3] = 0;
  t::expect_contains(t::error_of([&] { normalize_digit(empty); }), "fully transparent");
}

TEST(NormalizeDigit, ColourIsGrayedByLuma) {
  // Pure blue ink (luma 0.114 * 255 = 29) on pure yellow paper (luma 226): dark on light.
  RgbaPicture p = picture(40, 40, 0, 15, 5, 10, 30, 0);
  for (size_t i = 0; i < p.pixels.size() / 4; ++i) {
    const bool ink = p.pixels[4 * i] == 0 && (int(i % 40) >= 15 && int(i % 40) < 25 && int(i / 40) >= 5 && int(i / 40) < 35);
    uint8_t* pixel = p.pixels.data() + 4 * i;
    pixel[0] = ink ? 0 : 255, pixel[1] = ink ? 0 : 255, pixel[2] = ink ? 255 : 0;
  }
  p.colour = true;
  const NormalizedDigit digit = normalize_digit(p);
  EXPECT_TRUE(mentions(digit, "40x40 colour -> gray by luma")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "dark on light (border median 226)")) << all_steps(digit);
  EXPECT_TRUE(mentions(digit, "levels stretched: background 29 -> 0")) << all_steps(digit);
}

TEST(NormalizeDigit, A28x28PictureIsOnlyLevelled) {
  RgbaPicture p = picture(28, 28, 0, 3, 2, 5, 9, 255);  // off-centre on purpose
  const NormalizedDigit digit = normalize_digit(p);
  EXPECT_TRUE(mentions(digit, "already 28x28: not resized or re-centred")) << all_steps(digit);
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      EXPECT_EQ(digit.pixels[static_cast<size_t>(y * 28 + x)], p.pixels[static_cast<size_t>(y * 28 + x) * 4]) << x << "," << y;
    }
  }
}

TEST(NormalizeDigit, UniformPicturesHaveNoDigit) {
  t::expect_contains(t::error_of([] { normalize_digit(picture(30, 30, 255, 0, 0, 0, 0, 0)); }),
                     "no digit found: the picture is nearly uniform");
  // Faint marks (20 levels) are noise, not a digit.
  t::expect_contains(t::error_of([] { normalize_digit(picture(30, 30, 200, 5, 5, 10, 10, 180)); }), "nearly uniform");
}

}  // namespace
}  // namespace train_gpu::predict

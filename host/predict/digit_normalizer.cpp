#include "host/predict/digit_normalizer.h"

#include <algorithm>
#include <cmath>

#include "host/common/error.h"
#include "host/model/model_spec.h"
#include "host/predict/ink_mask.h"
#include "host/predict/paper_background.h"

namespace train_gpu::predict {

namespace {

constexpr int kSide = model::kImageSide;  // 28
constexpr int kBox = 20;                  // MNIST's size-normalization box
// Where MNIST's digits have their centre of mass, in pixel-index coordinates: (14.00, 13.99),
// sd 0.29, over the first 2,000 test images -- not the field's geometric middle (13.5).
constexpr double kFieldCentre = 14.0;
// What counts as a stroke for the bounding box: low, since MNIST's box is that of every nonzero
// pixel, yet above the grain of a photographed page once levels are stretched.
constexpr float kStrokeThreshold = 0.10f * 255.0f;
constexpr float kMinimumContrast = 32.0f;           // below this between background and ink: no digit
// Paper this even and this clean is levelled as it is: what a drawing program writes (and MNIST
// digits saved as PNG) has paper of one level, sd 0. Beyond these the 10% stroke threshold
// would start to catch paper: 8 levels is 10% of a faint ink's 80-level contrast, and paper
// grain of sd 2 reaches 10 levels at 5 sds.
constexpr float kEvenPaperSpread = 8.0f;
constexpr float kQuietPaperNoise = 2.0f;
// Ink lies at least this many paper-grain sds above the paper (a normal tail beyond 4 sds is
// 3 pixels in 100,000): grain is never ink even where Otsu would split the grain itself.
constexpr float kInkNoiseSds = 4.0f;
// And the ink's median at least this many (see remove_paper).
constexpr float kInkContrastSds = 6.0f;

std::string size_text(int width, int height) { return std::to_string(width) + "x" + std::to_string(height); }

// Step 1: gray levels 0..255, alpha composited.
std::vector<float> to_gray(const RgbaPicture& picture, std::vector<std::string>& steps) {
  const size_t count = static_cast<size_t>(picture.width) * static_cast<size_t>(picture.height);
  std::vector<float> luma(count), alpha(count);
  double opaque_sum = 0;
  size_t opaque = 0;
  bool transparent = false;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = picture.pixels.data() + 4 * i;
    luma[i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    alpha[i] = p[3] / 255.0f;
    transparent = transparent || p[3] < 255;
    if (p[3] >= 128) {
      opaque_sum += luma[i];
      ++opaque;
    }
  }
  std::string description = size_text(picture.width, picture.height) + (picture.colour ? " colour" : " grayscale") +
                             (picture.alpha ? " with alpha" : "") + (picture.bits == 16 ? ", 16-bit read as 8" : "");
  if (picture.colour) description += " -> gray by luma (0.299 R + 0.587 G + 0.114 B)";
  if (!picture.turned.empty()) steps.push_back(picture.turned);
  steps.push_back(description);
  if (transparent) {
    if (opaque == 0) throw Error("no digit found: the picture is fully transparent");
    // Ink drawn on a transparent sheet is usually dark; light ink gets the dark background.
    const bool dark_ink = opaque_sum / double(opaque) < 128.0;
    const float background = dark_ink ? 255.0f : 0.0f;
    for (size_t i = 0; i < count; ++i) luma[i] = luma[i] * alpha[i] + background * (1.0f - alpha[i]);
    steps.push_back(std::string("transparency composited over ") + (dark_ink ? "white (the opaque pixels are dark)"
                                                                            : "black (the opaque pixels are light)"));
  }
  return luma;
}

float border_median(const std::vector<float>& gray, int width, int height) {
  std::vector<float> border;
  for (int x = 0; x < width; ++x) {
    border.push_back(gray[static_cast<size_t>(x)]);
    if (height > 1) border.push_back(gray[static_cast<size_t>(height - 1) * width + x]);
  }
  for (int y = 1; y + 1 < height; ++y) {
    border.push_back(gray[static_cast<size_t>(y) * width]);
    if (width > 1) border.push_back(gray[static_cast<size_t>(y) * width + width - 1]);
  }
  std::nth_element(border.begin(), border.begin() + static_cast<std::ptrdiff_t>(border.size() / 2), border.end());
  return border[border.size() / 2];
}

// Step 2: light digit on a dark background. Returns the background level (the border's median).
float to_light_on_dark(std::vector<float>& gray, int width, int height, std::vector<std::string>& steps) {
  float background = border_median(gray, width, height);
  const int shown_background = static_cast<int>(std::lround(background));
  if (background > 127.5f) {
    for (float& value : gray) value = 255.0f - value;
    background = 255.0f - background;
    steps.push_back("dark on light (border median " + std::to_string(shown_background) +
                    ") -> inverted to light on dark, as MNIST digits are");
  } else {
    steps.push_back("light on dark (border median " + std::to_string(shown_background) + "), as MNIST digits are");
  }
  return background;
}

// Step 3 for uneven or grainy paper (paper_background.h, ink_mask.h): the fitted paper is
// subtracted, what is not ink above it set to 0, specks removed. Returns the new background, 0;
// or `background` unchanged when the paper is even and clean, which leaves a clean drawing
// exactly as it was before this step existed.
float remove_paper(std::vector<float>& gray, int width, int height, float background, std::vector<std::string>& steps) {
  const PaperBackground paper = fit_paper_background(gray, width, height);
  if (paper.spread < kEvenPaperSpread && paper.noise < kQuietPaperNoise) return background;
  std::vector<float> flat(gray.size());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y) * width + x;
      flat[i] = std::max(0.0f, gray[i] - paper.at(x, y));
    }
  }
  const int threshold = std::max(otsu_threshold(flat), static_cast<int>(std::ceil(kInkNoiseSds * paper.noise)));
  std::vector<uint8_t> mask(flat.size());
  for (size_t i = 0; i < flat.size(); ++i) mask[i] = flat[i] >= static_cast<float>(threshold) ? 1 : 0;
  int specks = 0;
  const std::vector<uint8_t> ink = without_specks(mask, width, height, specks);
  std::vector<float> ink_levels;
  for (size_t i = 0; i < flat.size(); ++i) {
    if (ink[i]) ink_levels.push_back(flat[i]);
  }
  // The ink's level is its median above the paper, not its brightest pixel, which grain lifts
  // by 3 sds or more: MNIST's strokes are saturated (36% of the lit pixels of its first 2,000
  // test digits are 250 or more), so the median goes to 255 and the brighter half clips there.
  float level = 0;
  if (!ink_levels.empty()) {
    const auto middle = ink_levels.begin() + static_cast<std::ptrdiff_t>(ink_levels.size() / 2);
    std::nth_element(ink_levels.begin(), middle, ink_levels.end());
    level = *middle;
  }
  // Grain alone has "ink" too, the few pixels past the threshold, at about 4.3 sds: a digit
  // stands further out than that.
  const float least_contrast = std::max(kMinimumContrast, kInkContrastSds * paper.noise);
  if (level < least_contrast) {
    throw Error("no digit found: nothing stands out of the paper (its grain sd " + std::to_string(std::lround(paper.noise)) +
                ", the ink's median " + std::to_string(std::lround(level)) + " above it; at least " +
                std::to_string(std::lround(least_contrast)) + " needed)");
  }
  for (size_t i = 0; i < flat.size(); ++i) gray[i] = ink[i] ? std::min(255.0f, flat[i] * 255.0f / level) : 0.0f;
  steps.push_back("uneven or grainy paper (levels vary by " + std::to_string(std::lround(paper.spread)) +
                  " across it, grain sd " + std::to_string(std::lround(paper.noise)) +
                  ") -> paper fitted by a smooth surface and subtracted; ink is what lies " + std::to_string(threshold) +
                  " or more above it (Otsu), the rest set to 0" +
                  (specks > 0 ? ", " + std::to_string(specks) + " speck" + (specks == 1 ? "" : "s") + " removed" : "") +
                  "; the ink's median level " + std::to_string(std::lround(level)) + " -> 255");
  return 0.0f;
}

// Step 4: levels stretched to the full range, background 0.
void stretch_levels(std::vector<float>& gray, float background, std::vector<std::string>& steps) {
  const float ink = *std::max_element(gray.begin(), gray.end());
  if (ink - background < kMinimumContrast) {
    throw Error("no digit found: the picture is nearly uniform (background " + std::to_string(std::lround(background)) +
                ", brightest stroke " + std::to_string(std::lround(ink)) + " of 255)");
  }
  if (background > 0.5f || ink < 254.5f) {
    const float scale = 255.0f / (ink - background);
    for (float& value : gray) value = std::clamp((value - background) * scale, 0.0f, 255.0f);
    steps.push_back("levels stretched: background " + std::to_string(std::lround(background)) + " -> 0, brightest stroke " +
                    std::to_string(std::lround(ink)) + " -> 255");
  }
}

struct Box {
  int x = 0, y = 0, width = 0, height = 0;
};

Box stroke_box(const std::vector<float>& gray, int width, int height) {
  int left = width, right = -1, top = height, bottom = -1;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      if (gray[static_cast<size_t>(y) * width + x] >= kStrokeThreshold) {
        left = std::min(left, x);
        right = std::max(right, x);
        top = std::min(top, y);
        bottom = std::max(bottom, y);
      }
    }
  }
  // normalize_levels guarantees a pixel at 255, which passes the threshold.
  return {left, top, right - left + 1, bottom - top + 1};
}

std::vector<uint8_t> to_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size());
  for (size_t i = 0; i < values.size(); ++i) bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(values[i], 0.0f, 255.0f)));
  return bytes;
}

// Per output index, the input indices it covers and the covered fraction of each.
struct Tap {
  int index;
  float weight;
};
std::vector<std::vector<Tap>> area_taps(int first, int length, int out_length) {
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(out_length));
  const double step = double(length) / out_length;
  for (int o = 0; o < out_length; ++o) {
    const double begin = o * step, end = (o + 1) * step;
    for (int i = static_cast<int>(std::floor(begin)); i < static_cast<int>(std::ceil(end)) && i < length; ++i) {
      const double covered = std::min<double>(end, i + 1) - std::max<double>(begin, i);
      if (covered > 0) taps[static_cast<size_t>(o)].push_back({first + i, static_cast<float>(covered / step)});
    }
  }
  return taps;
}

}  // namespace

std::vector<float> resample_area(const std::vector<float>& gray, int stride, int x0, int y0, int width, int height,
                                 int out_width, int out_height) {
  if (width < 1 || height < 1 || out_width < 1 || out_height < 1) {
    throw Error("resample_area: empty region " + size_text(width, height) + " -> " + size_text(out_width, out_height));
  }
  const std::vector<std::vector<Tap>> columns = area_taps(x0, width, out_width);
  const std::vector<std::vector<Tap>> rows = area_taps(y0, height, out_height);
  // Separable: the area weights are products of a row weight and a column weight.
  std::vector<float> horizontal(static_cast<size_t>(height) * out_width, 0.0f);
  for (int y = 0; y < height; ++y) {
    const float* row = gray.data() + static_cast<size_t>(y0 + y) * stride;
    for (int ox = 0; ox < out_width; ++ox) {
      float sum = 0;
      for (const Tap& tap : columns[static_cast<size_t>(ox)]) sum += tap.weight * row[tap.index];
      horizontal[static_cast<size_t>(y) * out_width + ox] = sum;
    }
  }
  std::vector<float> out(static_cast<size_t>(out_height) * out_width, 0.0f);
  for (int oy = 0; oy < out_height; ++oy) {
    for (const Tap& tap : rows[static_cast<size_t>(oy)]) {
      const float* row = horizontal.data() + static_cast<size_t>(tap.index - y0) * out_width;
      for (int ox = 0; ox < out_width; ++ox) out[static_cast<size_t>(oy) * out_width + ox] += tap.weight * row[ox];
    }
  }
  return out;
}

Point centre_of_mass(const std::vector<float>& image, int width, int height) {
  double total = 0, sum_x = 0, sum_y = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double value = image[static_cast<size_t>(y) * width + x];
      total += value;
      sum_x += value * x;
      sum_y += value * y;
    }
  }
  if (!(total > 0)) throw Error("centre of mass of an empty image");
  return {sum_x / total, sum_y / total};
}

NormalizedDigit normalize_digit(const RgbaPicture& picture) {
  NormalizedDigit digit;
  std::vector<float> gray = to_gray(picture, digit.steps);
  const int width = picture.width, height = picture.height;
  float background = to_light_on_dark(gray, width, height, digit.steps);
  background = remove_paper(gray, width, height, background, digit.steps);
  stretch_levels(gray, background, digit.steps);
  if (width == kSide && height == kSide) {
    digit.steps.push_back("already 28x28: not resized or re-centred");
    digit.pixels = to_bytes(gray);
    return digit;
  }

  const Box box = stroke_box(gray, width, height);
  const double scale = double(kBox) / std::max(box.width, box.height);
  const int out_width = std::clamp(static_cast<int>(std::lround(box.width * scale)), 1, kBox);
  const int out_height = std::clamp(static_cast<int>(std::lround(box.height * scale)), 1, kBox);
  const std::vector<float> scaled = resample_area(gray, width, box.x, box.y, box.width, box.height, out_width, out_height);
  digit.steps.push_back("digit's bounding box " + size_text(box.width, box.height) + " at (" + std::to_string(box.x) + "," +
                        std::to_string(box.y) + ") scaled to " + size_text(out_width, out_height) +
                        " (longer side 20, area average)");

  const Point centre = centre_of_mass(scaled, out_width, out_height);
  const int left = static_cast<int>(std::lround(kFieldCentre - centre.x));
  const int top = static_cast<int>(std::lround(kFieldCentre - centre.y));
  std::vector<float> field(static_cast<size_t>(kSide) * kSide, 0.0f);
  for (int y = 0; y < out_height; ++y) {
    for (int x = 0; x < out_width; ++x) {
      const int fx = left + x, fy = top + y;
      if (fx >= 0 && fx < kSide && fy >= 0 && fy < kSide) {
        field[static_cast<size_t>(fy) * kSide + fx] = scaled[static_cast<size_t>(y) * out_width + x];
      }
    }
  }
  digit.steps.push_back("placed in 28x28 with its centre of mass at (14,14) as in MNIST, offset (" +
                        std::to_string(left) + "," + std::to_string(top) + ")");
  digit.pixels = to_bytes(field);
  return digit;
}

}  // namespace train_gpu::predict

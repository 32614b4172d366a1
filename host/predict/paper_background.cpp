#include "host/predict/paper_background.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace train_gpu::predict {

namespace {

constexpr int kTerms = 6;
constexpr int kRounds = 5;
// At most about this many pixels enter the fit: a smooth surface is fixed by far fewer, and an
// 8,192-pixel-square photo would otherwise cost seconds per round.
constexpr size_t kMaxSamples = 250000;
constexpr double kMadToSd = 1.4826;  // sd of a normal distribution per median absolute deviation
// A pixel this many robust sds above the paper is not paper. One gray level more, so that a
// noiseless picture (MAD 0) keeps all of its paper despite float rounding.
constexpr double kPaperSds = 3.0;
constexpr double kPaperSlack = 1.0;

double to_unit(int i, int n) { return n > 1 ? 2.0 * i / (n - 1) - 1.0 : 0.0; }

std::array<double, kTerms> terms(double u, double v) { return {1.0, u, v, u * u, u * v, v * v}; }

double evaluate(const std::array<double, kTerms>& c, double u, double v) {
  const std::array<double, kTerms> t = terms(u, v);
  double sum = 0;
  for (int k = 0; k < kTerms; ++k) sum += c[static_cast<size_t>(k)] * t[static_cast<size_t>(k)];
  return sum;
}

struct Sample {
  double u, v, value;
};

// Least squares over the samples with `use` set; false when they do not fix a quadratic (too
// few, or all on a line), by Gaussian elimination with partial pivoting on the normal equations.
bool fit_quadratic(const std::vector<Sample>& samples, const std::vector<char>& use, std::array<double, kTerms>& c) {
  double a[kTerms][kTerms + 1] = {};
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!use[i]) continue;
    const std::array<double, kTerms> t = terms(samples[i].u, samples[i].v);
    for (int r = 0; r < kTerms; ++r) {
      for (int k = 0; k < kTerms; ++k) a[r][k] += t[static_cast<size_t>(r)] * t[static_cast<size_t>(k)];
      a[r][kTerms] += t[static_cast<size_t>(r)] * samples[i].value;
    }
  }
  for (int col = 0; col < kTerms; ++col) {
    int pivot = col;
    for (int r = col + 1; r < kTerms; ++r) {
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) pivot = r;
    }
    if (std::fabs(a[pivot][col]) < 1e-9 * (1.0 + std::fabs(a[0][0]))) return false;
    for (int k = 0; k <= kTerms; ++k) std::swap(a[col][k], a[pivot][k]);
    for (int r = 0; r < kTerms; ++r) {
      if (r == col) continue;
      const double factor = a[r][col] / a[col][col];
      for (int k = col; k <= kTerms; ++k) a[r][k] -= factor * a[col][k];
    }
  }
  for (int r = 0; r < kTerms; ++r) c[static_cast<size_t>(r)] = a[r][kTerms] / a[r][r];
  return true;
}

double median_of(std::vector<double> values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

}  // namespace

float PaperBackground::at(int x, int y) const {
  return static_cast<float>(evaluate(coefficients, to_unit(x, width), to_unit(y, height)));
}

PaperBackground fit_paper_background(const std::vector<float>& gray, int width, int height) {
  PaperBackground paper;
  paper.width = width;
  paper.height = height;
  const size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  const int step = std::max(1, static_cast<int>(std::ceil(std::sqrt(double(pixels) / double(kMaxSamples)))));
  std::vector<Sample> samples;
  for (int y = 0; y < height; y += step) {
    for (int x = 0; x < width; x += step) {
      samples.push_back({to_unit(x, width), to_unit(y, height), gray[static_cast<size_t>(y) * width + x]});
    }
  }

  // The first fit is to the darker half of the pixels, which is paper when ink is the minority:
  // a fit to all of them bends towards a large stroke, and the residuals of that bent surface
  // are too wide for the rounds that follow to single the stroke out.
  std::vector<double> values;
  for (const Sample& s : samples) values.push_back(s.value);
  const double median_value = median_of(values);
  std::vector<char> use(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) use[i] = samples[i].value <= median_value;
  std::vector<double> residuals(samples.size());
  double centre = 0, sd = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::array<double, kTerms> c{};
    if (!fit_quadratic(samples, use, c)) {
      // Too few paper pixels to fix a surface (a tiny picture): flat paper at the median.
      c = {median_value, 0, 0, 0, 0, 0};
    }
    paper.coefficients = c;
    for (size_t i = 0; i < samples.size(); ++i) residuals[i] = samples[i].value - evaluate(c, samples[i].u, samples[i].v);
    // The paper's statistics over the pixels taken for paper so far (all, in the first round):
    // ink left in would inflate the deviation by a third when it covers a fifth of the picture.
    std::vector<double> paper_residuals;
    for (size_t i = 0; i < samples.size(); ++i) {
      if (use[i]) paper_residuals.push_back(residuals[i]);
    }
    centre = median_of(paper_residuals);
    for (double& r : paper_residuals) r = std::fabs(r - centre);
    sd = kMadToSd * median_of(paper_residuals);
    for (size_t i = 0; i < samples.size(); ++i) use[i] = residuals[i] <= centre + kPaperSds * sd + kPaperSlack;
  }
  paper.noise = static_cast<float>(sd);

  // Over the sampled grid and the far corners: a smooth surface moves little within a step.
  float low = paper.at(width - 1, height - 1), high = low;
  for (const float value : {paper.at(width - 1, 0), paper.at(0, height - 1)}) {
    low = std::min(low, value);
    high = std::max(high, value);
  }
  for (const Sample& s : samples) {
    const float value = static_cast<float>(evaluate(paper.coefficients, s.u, s.v));
    low = std::min(low, value);
    high = std::max(high, value);
  }
  paper.spread = high - low;
  return paper;
}

}  // namespace train_gpu::predict

// Which pixels of a flattened picture (paper taken away: paper near 0, ink light; see
// paper_background.h) are ink: a threshold between the two, then specks removed.
//
// The threshold is Otsu's (the gray level that best splits the histogram into two classes, by
// between-class variance), but never below the paper's own grain: `noise_floor`, which the
// caller sets a few noise sds above the paper, so that grain on a page of faint ink is not ink.
// Specks are 8-connected groups of ink pixels smaller than 1/20 of the largest group: dust and
// grain that would stretch the digit's bounding box, while a digit's own pieces (a 5's flag, a
// broken stroke) are far larger than that.
#pragma once

#include <cstdint>
#include <vector>

namespace train_gpu::predict {

// Otsu's threshold of `values` (levels 0..255, clamped): the smallest level t maximizing the
// between-class variance of {v < t} and {v >= t}. 0 when all values fall in one level.
int otsu_threshold(const std::vector<float>& values);

// For each pixel of the (height, width) `mask` (nonzero = ink), whether it survives: false for
// the pixels of 8-connected groups smaller than `largest / kSpeckFraction`. Returns how many
// groups were removed in `removed`.
constexpr int kSpeckFraction = 20;
std::vector<uint8_t> without_specks(const std::vector<uint8_t>& mask, int width, int height, int& removed);

}  // namespace train_gpu::predict

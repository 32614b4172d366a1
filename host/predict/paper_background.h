// The paper behind a photographed digit: lit unevenly (a gradient across the page, a darker
// corner), and grainy. Read as it is, the darker half of a shaded page looks like ink once the
// levels are stretched, and the digit's bounding box swallows it. So the paper is modelled and
// taken away before levelling.
//
// The model is a smooth surface, a quadratic in x and y (a linear gradient and the fall-off of
// a lamp or a lens vignette are both quadratics or close), fitted by least squares to the
// pixels that are paper. Which pixels are paper is found robustly: fit to the darker half (ink
// is light here and the minority of a digit picture), then keep the pixels whose residual is
// within 3 robust standard deviations (1.4826 x the median absolute deviation) of the paper's
// median residual, and refit -- a few rounds. Why not a large-window filter (a morphological closing, a blur): a window must
// be wider than the thickest stroke or it takes the stroke for paper, and a picture of any size
// gives no stroke width to size it by; a surface fitted to the majority has no window.
//
// The input is light ink on dark paper (after the polarity step of digit_normalizer.h).
#pragma once

#include <array>
#include <vector>

namespace train_gpu::predict {

struct PaperBackground {
  // background(x, y) = c0 + c1 u + c2 v + c3 u^2 + c4 u v + c5 v^2, with u, v the pixel centre
  // mapped to [-1, 1] across the picture (so the normal equations stay well conditioned).
  std::array<double, 6> coefficients{};
  int width = 0;
  int height = 0;
  float spread = 0;  // highest minus lowest background over the picture, in gray levels
  float noise = 0;   // robust standard deviation of the paper around the surface, gray levels

  float at(int x, int y) const;
};

// The paper of `gray` (height, width; light ink on dark paper, levels 0..255).
PaperBackground fit_paper_background(const std::vector<float>& gray, int width, int height);

}  // namespace train_gpu::predict

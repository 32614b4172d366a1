// A picture of a handwritten digit made to look like an MNIST digit, the only kind of input the
// model has seen. MNIST's recipe (LeCun, Cortes, Burges): the digit's bounding box is scaled to
// fit a 20x20 box, aspect ratio kept, with anti-aliasing (grey levels), then placed in a 28x28
// field so that its centre of mass is at the field's centre; digits are light on a black
// background. A photo or a drawing is usually the opposite (dark ink on light paper, any size,
// colour, maybe transparent), so, in order:
//
//   1. colour -> gray by luma (0.299 R + 0.587 G + 0.114 B, Rec. 601); transparent pixels are
//      composited over white when the opaque ones are dark (ink on a transparent sheet), else over
//      black;
//   2. polarity from the border (the median of the outermost pixels is the background): a light
//      background is inverted so the digit is light on dark;
//   3. uneven or grainy paper (a shaded page, a photo's grain) is fitted by a smooth surface
//      and subtracted, ink told from paper by Otsu's threshold, specks removed
//      (paper_background.h, ink_mask.h); even, clean paper skips this step;
//   4. levels stretched so the background is 0 and the brightest stroke 255;
//   5. the bounding box of the strokes (pixels >= 10% of full scale after step 4) scaled so its
//      longer side is 20 pixels, by area averaging (each output pixel the mean of the input area
//      it covers, which is the anti-aliasing);
//   6. placed in 28x28 with its intensity-weighted centre of mass where MNIST's are, at (14, 14)
//      in pixel-index coordinates (measured on the test set), shifted by whole pixels.
//
// Measured: the first 1,000 MNIST test digits redrawn as 100x100 colour pictures (dark ink on
// cream, 3x, at random offsets) and put through these steps are classified 97.5% right by a
// one-epoch model that scores 97.6% on the originals; 99.9% of the predictions agree. The first
// 1,000 photographed as tests/predict_command_test.cpp does (4x in 140x140, grey ink on paper
// shaded 230 -> 170, blurred; then grain of sd 8 and JPEG quality 85): 96.8% shaded, 97.2% grainy
// JPEG, against 97.5% on the originals with the model used; 36.6% and 37.6% without step 3.
//
// A picture that is already 28x28 skips steps 5 and 6: it is taken to be framed as MNIST frames
// digits (an MNIST image saved as PNG comes back unchanged). Each step taken is recorded in words.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/predict/png_input.h"

namespace train_gpu::predict {

struct NormalizedDigit {
  std::vector<uint8_t> pixels;     // (28, 28), light digit on black, as the model was trained
  std::vector<std::string> steps;  // what was done, in order, for the user
};

// An Error when there is no digit to find (a uniform or fully transparent picture).
NormalizedDigit normalize_digit(const RgbaPicture& picture);

// The building blocks, exposed for their tests.

// Area-average resampling of the (width, height) region at (x0, y0) of `gray` (row-major,
// `stride` pixels per row) to out_width x out_height: each output pixel is the mean of the input
// area it covers, partial pixels weighted by their covered fraction. Works both ways (shrinking
// averages, enlarging repeats).
std::vector<float> resample_area(const std::vector<float>& gray, int stride, int x0, int y0, int width, int height,
                                 int out_width, int out_height);

struct Point {
  double x = 0;
  double y = 0;
};

// Intensity-weighted centre of mass of a (height, width) image, in pixel-index coordinates (the
// first pixel's centre is (0, 0)). An all-zero image has no centre: an Error.
Point centre_of_mass(const std::vector<float>& image, int width, int height);

}  // namespace train_gpu::predict

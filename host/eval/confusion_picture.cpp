#include "host/eval/confusion_picture.h"

#include <string>

namespace train_gpu::eval {

namespace {

constexpr int kCell = 36;
constexpr int kTextScale = 2;    // 10-pixel-high digits; four of them span 30 pixels
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kDarkBlue{8, 48, 107};  // the dark end of matplotlib's "Blues", as tools/plot.py draws it

uint8_t mix(uint8_t from, uint8_t to, double fraction) {
  return static_cast<uint8_t>(from + (to - from) * fraction + 0.5);
}

void fill_cell(Image& image, int column, int row, Rgb color) {
  for (int y = row * kCell; y < (row + 1) * kCell; ++y) {
    for (int x = column * kCell; x < (column + 1) * kCell; ++x) {
      uint8_t* pixel = image.at(x, y);
      pixel[0] = color.r;
      pixel[1] = color.g;
      pixel[2] = color.b;
    }
  }
}

// Centred in the cell; a count too wide for the usual size is drawn at half of it.
void label_cell(Image& image, int column, int row, const std::string& text, Rgb color) {
  const int scale = text_width(text, kTextScale) <= kCell - 4 ? kTextScale : 1;
  draw_text(image, column * kCell + (kCell - text_width(text, scale)) / 2, row * kCell + (kCell - text_height(scale)) / 2,
            text, scale, color);
}

}  // namespace

Image confusion_picture(const ConfusionMatrix& confusion, const std::string& caption) {
  const int classes = confusion.classes();
  Image image((classes + 1) * kCell, (classes + 1) * kCell, 3, 255);
  const Rgb label_color{60, 60, 60};
  label_cell(image, 0, 0, "T>P", label_color);
  for (int c = 0; c < classes; ++c) {
    label_cell(image, c + 1, 0, std::to_string(c), label_color);
    label_cell(image, 0, c + 1, std::to_string(c), label_color);
  }
  for (int t = 0; t < classes; ++t) {
    const int64_t support = confusion.class_metrics(t).support;
    for (int p = 0; p < classes; ++p) {
      const int64_t count = confusion.count(t, p);
      const double share = support > 0 ? double(count) / double(support) : 0.0;
      const Rgb shade{mix(kWhite.r, kDarkBlue.r, share), mix(kWhite.g, kDarkBlue.g, share), mix(kWhite.b, kDarkBlue.b, share)};
      fill_cell(image, p + 1, t + 1, shade);
      // Dark digits on light cells, white ones on dark cells.
      label_cell(image, p + 1, t + 1, std::to_string(count), share > 0.5 ? kWhite : Rgb{20, 20, 20});
    }
  }
  return with_caption(image, caption, label_color, 255);
}

}  // namespace train_gpu::eval

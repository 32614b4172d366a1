// Reader for the IDX files MNIST and Fashion-MNIST ship as (http://yann.lecun.com/exdb/mnist/):
// a big-endian header (magic 0x000008DD: unsigned bytes, DD dimensions; then one uint32 size per
// dimension) followed by the payload. Files are read raw or, when the name ends in ".gz", gunzipped
// with zlib. Nothing in a header is trusted before it is checked against what the file can hold:
// a raw file's payload must be exactly the file's size less the header, and a gzipped one cannot
// decode to more than 1032 times its size (deflate's limit), so a 1 MB gzip bomb that claims
// 2^32-1 images is refused before anything is inflated or allocated. The buffer for a plausible
// claim is allocated once, at its size, so reading peaks at the payload, not at 3x it.
// The files are opened with open_regular_file (host/common/regular_file.h): a FIFO is refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu {

struct IdxImages {
  int64_t count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows, cols), row-major
  std::string sha256;           // of the file as stored (compressed when .gz)
};

struct IdxLabels {
  std::vector<uint8_t> labels;  // (count), each in 0..num_classes-1
  std::string sha256;           // of the file as stored
};

// An IDX images file (magic 0x00000803). Any rows x cols is accepted here; the dataset decides
// which sizes the model can use. Errors name the file and what is wrong, in one line.
IdxImages read_idx_images(const std::filesystem::path& file);

// An IDX labels file (magic 0x00000801) whose every label is in 0..num_classes-1.
IdxLabels read_idx_labels(const std::filesystem::path& file, int num_classes);

// The names an IDX file goes by, in the order they are looked for: for ("train-images", 3)
// train-images-idx3-ubyte.gz, train-images-idx3-ubyte, train-images.idx3-ubyte.gz,
// train-images.idx3-ubyte.
std::vector<std::string> idx_file_names(const std::string& stem, int dimensions);

// The first of idx_file_names() present in `directory` (a directory of that name counts, so that
// reading it reports "is a directory"). None present: an Error naming `what` ("train images") and
// listing every name tried.
std::filesystem::path find_idx_file(const std::filesystem::path& directory, const std::string& stem, int dimensions,
                                    const std::string& what);

}  // namespace train_gpu

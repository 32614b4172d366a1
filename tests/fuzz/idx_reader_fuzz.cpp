// libFuzzer target for the IDX reader (host/data/idx_reader.h): any file must either load into a
// consistent IdxImages/IdxLabels or be rejected with train_gpu::Error. A crash, a sanitizer
// report, another exception type, or a loaded result that contradicts itself is a finding.
//
// Input: one mode byte, then the file.
//   mode bit 0      0: read as images (magic 0x803), 1: read as labels (magic 0x801, 10 classes)
//   mode bits 1-2   0: raw file; 1: ".gz" file holding the bytes as given (fuzzes the gzip
//                   handling: magic, truncation, corrupt streams, trailers); 2 or 3: ".gz" file the
//                   harness compresses, so the IDX checks are reached through the gzip path too.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>

#include "host/common/error.h"
#include "host/data/idx_reader.h"
#include "tests/fuzz/fuzz_scratch.h"

namespace {

constexpr int kNumClasses = 10;

void write_raw(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) std::abort();
}

void write_gzipped(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (!file) std::abort();
  if (size > 0 && gzwrite(file, data, static_cast<unsigned>(size)) != static_cast<int>(size)) std::abort();
  if (gzclose(file) != Z_OK) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const bool labels = (mode & 1) != 0;
  const int storage = (mode >> 1) & 3;
  const std::filesystem::path path = train_gpu::fuzz::scratch_dir() / (storage == 0 ? "input.idx" : "input.idx.gz");
  if (storage == 0 || storage == 1) {
    write_raw(path, data + 1, size - 1);
  } else {
    write_gzipped(path, data + 1, size - 1);
  }

  try {
    if (labels) {
      const train_gpu::IdxLabels result = train_gpu::read_idx_labels(path, kNumClasses);
      for (const uint8_t label : result.labels) {
        if (label >= kNumClasses) __builtin_trap();  // a label outside the classes got through
      }
      if (result.sha256.size() != 64) __builtin_trap();
    } else {
      const train_gpu::IdxImages result = train_gpu::read_idx_images(path);
      if (result.count < 0 || result.rows <= 0 || result.cols <= 0) __builtin_trap();
      const auto expected = static_cast<uint64_t>(result.count) * static_cast<uint64_t>(result.rows) *
                            static_cast<uint64_t>(result.cols);
      if (result.pixels.size() != expected) __builtin_trap();  // header and payload disagree
      if (result.sha256.size() != 64) __builtin_trap();
    }
  } catch (const train_gpu::Error&) {
    // Rejected with a user-facing message: the expected outcome for most inputs.
  }
  return 0;
}

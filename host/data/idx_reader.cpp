#include "host/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include "host/common/error.h"
#include "host/common/regular_file.h"
#include "host/data/sha256.h"

namespace train_gpu {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
// Deflate's maximum expansion, 1032:1 (see GzipSource::remaining_bound).
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint32_t kMaxImageSide = 65535;

[[noreturn]] void fail(const fs::path& file, const std::string& what) { throw Error(file.string() + ": " + what); }

std::string hex32(uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", value);
  return buffer;
}

uint32_t big_endian_u32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}

bool has_gz_suffix(const fs::path& file) { return file.extension() == ".gz"; }

// The stored file, opened without blocking (a FIFO or a device is refused before any read).
RegularFile open_stored_file(const fs::path& file) { return open_regular_file(file, "an IDX file"); }

void check_not_empty(const fs::path& file, const RegularFile& stored) {
  if (stored.size == 0) fail(file, "empty file (0 bytes)");
}

// The decoded bytes of an IDX file (raw, or gunzipped), read front to back. The stored file's
// sha256 comes along because hashing while reading avoids a second pass over 47 MB.
class IdxSource {
 public:
  virtual ~IdxSource() = default;
  // Fills up to `size` bytes; fewer only where the data ends.
  virtual size_t read(uint8_t* destination, size_t size) = 0;
  // How many decoded bytes follow the current position (consumes them).
  virtual uint64_t count_remaining() = 0;
  // An upper bound on count_remaining() that costs nothing, for sizing allocations.
  virtual uint64_t remaining_bound() const = 0;
  // True when remaining_bound() is exact (raw files: the file size says it).
  virtual bool bound_is_exact() const = 0;
  // sha256 of the stored file; call after the payload has been read.
  virtual std::string stored_sha256() = 0;
};

// A raw IDX file, streamed from disk and hashed as it goes.
class RawSource final : public IdxSource {
 public:
  explicit RawSource(const fs::path& file) : file_(file), stored_(open_stored_file(file)), remaining_(stored_.size) {
    check_not_empty(file, stored_);
  }

  size_t read(uint8_t* destination, size_t size) override {
    const size_t wanted = static_cast<size_t>(std::min<uint64_t>(size, remaining_));
    const size_t got = read_up_to(stored_.descriptor.get(), destination, wanted, file_);
    if (got != wanted) fail(file_, "read error after " + std::to_string(consumed_ + got) + " bytes (file changed while reading?)");
    hasher_.update(destination, got);
    remaining_ -= got;
    consumed_ += got;
    return got;
  }
  uint64_t count_remaining() override {
    const uint64_t count = remaining_;
    std::vector<uint8_t> scratch(1 << 16);
    while (remaining_ > 0) read(scratch.data(), scratch.size());
    return count;
  }
  uint64_t remaining_bound() const override { return remaining_; }
  bool bound_is_exact() const override { return true; }
  std::string stored_sha256() override {
    count_remaining();  // the hash covers the whole file
    return hasher_.hex_digest();
  }

 private:
  fs::path file_;
  RegularFile stored_;
  Sha256 hasher_;
  uint64_t remaining_;
  uint64_t consumed_ = 0;
};

// A gzipped IDX file: the compressed bytes (at most the file's size) are read and hashed at once,
// then inflated on demand, so the decoded size never has to be trusted before it is produced.
class GzipSource final : public IdxSource {
 public:
  explicit GzipSource(const fs::path& file) : file_(file) {
    const RegularFile stored = open_stored_file(file);
    check_not_empty(file, stored);
    compressed_.resize(static_cast<size_t>(stored.size));
    if (read_up_to(stored.descriptor.get(), compressed_.data(), compressed_.size(), file) != stored.size) {
      fail(file, "read error (file changed while reading?)");
    }
    if (compressed_.size() < 2 || compressed_[0] != 0x1f || compressed_[1] != 0x8b) {
      fail(file, "not a gzip file (it does not start with the gzip magic 1f 8b); if it is a raw IDX file, drop the .gz");
    }
    sha256_ = sha256_hex(compressed_.data(), compressed_.size());
    stream_.zalloc = Z_NULL;
    stream_.zfree = Z_NULL;
    stream_.opaque = Z_NULL;
    stream_.next_in = compressed_.data();
    stream_.avail_in = 0;
    // 16 + MAX_WBITS: expect a gzip wrapper, and let zlib check its CRC-32 and length trailer.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) fail(file, "zlib inflateInit2 failed (out of memory?)");
    initialized_ = true;
    input_left_ = compressed_.size();
  }
  ~GzipSource() override {
    if (initialized_) inflateEnd(&stream_);
  }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(uint8_t* destination, size_t size) override {
    size_t produced = 0;
    while (produced < size && !finished_) {
      refill_input();
      const size_t chunk = std::min<size_t>(size - produced, std::numeric_limits<uInt>::max());
      stream_.next_out = destination + produced;
      stream_.avail_out = static_cast<uInt>(chunk);
      const int status = inflate(&stream_, Z_NO_FLUSH);
      produced += chunk - stream_.avail_out;
      if (status == Z_STREAM_END) {
        on_member_end();
      } else if (status == Z_DATA_ERROR) {
        fail(file_, std::string("corrupt gzip stream: ") + (stream_.msg ? stream_.msg : "invalid deflate data"));
      } else if (status == Z_MEM_ERROR) {
        fail(file_, "out of memory while decompressing");
      } else if (status == Z_BUF_ERROR || (status == Z_OK && stream_.avail_in == 0 && input_left_ == 0 &&
                                             stream_.avail_out > 0)) {
        // No progress possible: the compressed data ran out before the gzip stream said it ended.
        fail(file_, "truncated gzip stream: the compressed data ends after " + std::to_string(total_out_ + produced) +
                        " decompressed bytes, before the gzip trailer");
      } else if (status != Z_OK) {
        fail(file_, "zlib inflate failed with status " + std::to_string(status));
      }
    }
    total_out_ += produced;
    return produced;
  }

  uint64_t count_remaining() override {
    std::vector<uint8_t> scratch(1 << 16);
    uint64_t count = 0;
    for (;;) {
      const size_t got = read(scratch.data(), scratch.size());
      count += got;
      if (got < scratch.size()) return count;
    }
  }

  uint64_t remaining_bound() const override {
    // Deflate cannot expand data by more than 1032:1: a length/distance pair of at least 2 bits
    // yields at most 258 bytes (https://zlib.net/zlib_tech.html, "Maximum Compression Factor").
    // gzip's header and trailer only add compressed bytes, so n stored bytes hold at most 1032 n
    // decoded ones, across all members. (The trailer's ISIZE is no bound: it is mod 2^32 and
    // covers one member.)
    const uint64_t deflate_bound = kMaxDeflateRatio * compressed_.size();
    return deflate_bound > total_out_ ? deflate_bound - total_out_ : 0;
  }
  bool bound_is_exact() const override { return false; }
  std::string stored_sha256() override { return sha256_; }

 private:
  void refill_input() {
    if (stream_.avail_in > 0 || input_left_ == 0) return;
    const size_t chunk = std::min<size_t>(input_left_, std::numeric_limits<uInt>::max());
    stream_.avail_in = static_cast<uInt>(chunk);
    input_left_ -= chunk;
  }

  // gzip allows several members back to back (`cat a.gz b.gz`); anything else after a member is
  // garbage that gzip itself would warn about, and here it is an error.
  void on_member_end() {
    refill_input();
    if (stream_.avail_in == 0) {
      finished_ = true;
      return;
    }
    const size_t garbage = stream_.avail_in + input_left_;
    if (stream_.avail_in < 2 || stream_.next_in[0] != 0x1f || stream_.next_in[1] != 0x8b) {
      fail(file_, "corrupt gzip stream: " + std::to_string(garbage) + " bytes of garbage after the compressed data");
    }
    if (inflateReset(&stream_) != Z_OK) fail(file_, "zlib inflateReset failed");
  }

  fs::path file_;
  std::vector<uint8_t> compressed_;
  std::string sha256_;
  z_stream stream_{};
  bool initialized_ = false;
  bool finished_ = false;
  size_t input_left_ = 0;  // compressed bytes not yet handed to zlib
  uint64_t total_out_ = 0;
};

std::unique_ptr<IdxSource> open_source(const fs::path& file) {
  if (has_gz_suffix(file)) return std::make_unique<GzipSource>(file);
  return std::make_unique<RawSource>(file);
}

struct IdxHeader {
  std::vector<uint32_t> sizes;
  uint64_t header_bytes = 0;
};

IdxHeader read_header(const fs::path& file, IdxSource& source, uint32_t expected_magic, const char* kind) {
  const int dimensions = static_cast<int>(expected_magic & 0xff);
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(dimensions);
  std::array<uint8_t, 16> header{};
  const size_t magic_got = source.read(header.data(), 4);
  if (magic_got == 0) fail(file, "empty: the gzip stream decompresses to 0 bytes");
  if (magic_got < 4) {
    fail(file, "truncated header: " + std::to_string(magic_got) + " bytes, an IDX " + kind + " header is " +
                   std::to_string(header_bytes));
  }
  const uint32_t magic = big_endian_u32(header.data());
  if (magic != expected_magic) {
    std::string what = std::string("not an IDX ") + kind + " file: magic number " + hex32(magic) + ", expected " +
                       hex32(expected_magic) + " (unsigned bytes, " + std::to_string(dimensions) + " dimension" +
                       (dimensions == 1 ? "" : "s") + ")";
    if (magic == (expected_magic == kImagesMagic ? kLabelsMagic : kImagesMagic)) {
      what += "; that is the magic of an IDX " + std::string(expected_magic == kImagesMagic ? "labels" : "images") +
              " file: are the image and label files swapped?";
    } else if (header[0] == 0x1f && header[1] == 0x8b) {
      what += "; the file looks gzip-compressed: name it with a .gz suffix";
    }
    fail(file, what);
  }
  const size_t sizes_got = source.read(header.data() + 4, header_bytes - 4);
  if (sizes_got < header_bytes - 4) {
    fail(file, "truncated header: " + std::to_string(4 + sizes_got) + " bytes, an IDX " + kind + " header is " +
                   std::to_string(header_bytes));
  }
  IdxHeader parsed;
  parsed.header_bytes = header_bytes;
  for (int d = 0; d < dimensions; ++d) parsed.sizes.push_back(big_endian_u32(header.data() + 4 + 4 * d));
  return parsed;
}

// Reads exactly `claimed` payload bytes, checked against what the source can hold before any
// allocation; `describe` says what the header claims, for the messages.
std::vector<uint8_t> read_payload(const fs::path& file, IdxSource& source, uint64_t claimed,
                                  const std::string& describe) {
  const std::string claim = "header claims " + describe + " (" + std::to_string(claimed) + " bytes)";
  const auto truncated = [&](uint64_t actual) {
    fail(file, "truncated: " + claim + " but the payload has " + std::to_string(actual) + " bytes");
  };
  const auto trailing = [&](uint64_t extra) {
    fail(file, "trailing data: " + claim + " but the payload has " + std::to_string(claimed + extra) + " bytes (" +
                   std::to_string(extra) + " extra)");
  };
  const uint64_t available = source.remaining_bound();
  if (source.bound_is_exact()) {
    if (available < claimed) truncated(available);
    if (available > claimed) trailing(available - claimed);
  } else if (available < claimed) {
    // A gzip bomb's header (2^32-1 images in 1 MB) is refused here, before inflating a byte of it.
    fail(file, "truncated or corrupt: " + claim + ", but its compressed bytes can hold at most " +
                   std::to_string(available) + " bytes after the header (deflate expands data at most 1032:1)");
  }
  // The claim is now possible, so the buffer is sized from it once: growing by doubling instead
  // would hold the old and the new copy at once, up to 3x the payload at the peak. Pages are only
  // touched as the data arrives, chunk by chunk, so a stream that ends early costs what it held.
  std::vector<uint8_t> payload;
  try {
    payload.reserve(static_cast<size_t>(claimed));
  } catch (const std::bad_alloc&) {
    fail(file, claim + ", more memory than can be allocated here");
  }
  constexpr uint64_t kChunk = uint64_t{16} << 20;
  while (payload.size() < claimed) {
    const uint64_t have = payload.size();
    const uint64_t chunk = std::min(claimed - have, kChunk);
    payload.resize(static_cast<size_t>(have + chunk));
    const size_t got = source.read(payload.data() + have, static_cast<size_t>(chunk));
    payload.resize(static_cast<size_t>(have + got));
    if (got < chunk) break;
  }
  if (payload.size() < claimed) truncated(payload.size());
  const uint64_t extra = source.count_remaining();
  if (extra > 0) trailing(extra);
  return payload;
}

}  // namespace

IdxImages read_idx_images(const fs::path& file) {
  std::unique_ptr<IdxSource> source = open_source(file);
  const IdxHeader header = read_header(file, *source, kImagesMagic, "images");
  const uint32_t count = header.sizes[0];
  const uint32_t rows = header.sizes[1];
  const uint32_t cols = header.sizes[2];
  if (count == 0) fail(file, "no images: the header claims 0 images");
  if (rows == 0 || cols == 0 || rows > kMaxImageSide || cols > kMaxImageSide) {
    fail(file, "implausible image size " + std::to_string(rows) + "x" + std::to_string(cols) + " in the header");
  }
  // count < 2^32 and rows*cols < 2^32, so the product fits in 64 bits.
  const uint64_t claimed = uint64_t{count} * rows * cols;
  const std::string describe =
      std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols);
  IdxImages images;
  images.pixels = read_payload(file, *source, claimed, describe);
  images.count = count;
  images.rows = static_cast<int>(rows);
  images.cols = static_cast<int>(cols);
  images.sha256 = source->stored_sha256();
  return images;
}

IdxLabels read_idx_labels(const fs::path& file, int num_classes) {
  std::unique_ptr<IdxSource> source = open_source(file);
  const IdxHeader header = read_header(file, *source, kLabelsMagic, "labels");
  const uint32_t count = header.sizes[0];
  if (count == 0) fail(file, "no labels: the header claims 0 labels");
  IdxLabels labels;
  labels.labels = read_payload(file, *source, count, std::to_string(count) + " labels");
  const auto bad = std::find_if(labels.labels.begin(), labels.labels.end(),
                                [num_classes](uint8_t label) { return label >= num_classes; });
  if (bad != labels.labels.end()) {
    fail(file, "label " + std::to_string(*bad) + " at index " + std::to_string(bad - labels.labels.begin()) +
                   " is outside 0.." + std::to_string(num_classes - 1));
  }
  labels.sha256 = source->stored_sha256();
  return labels;
}

std::vector<std::string> idx_file_names(const std::string& stem, int dimensions) {
  const std::string suffix = "idx" + std::to_string(dimensions) + "-ubyte";
  return {stem + "-" + suffix + ".gz", stem + "-" + suffix, stem + "." + suffix + ".gz", stem + "." + suffix};
}

fs::path find_idx_file(const fs::path& directory, const std::string& stem, int dimensions, const std::string& what) {
  const std::vector<std::string> names = idx_file_names(stem, dimensions);
  std::string tried;
  for (const std::string& name : names) {
    std::error_code error;
    const fs::path candidate = directory / name;
    if (fs::exists(fs::symlink_status(candidate, error))) return candidate;
    tried += (tried.empty() ? "" : ", ") + name;
  }
  throw Error(directory.string() + ": no " + what + " file (tried " + tried + ")");
}

}  // namespace train_gpu

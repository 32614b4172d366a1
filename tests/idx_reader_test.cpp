// The IDX reader on the real MNIST / Fashion-MNIST files and on broken files built here, one
// field broken at a time; every failure must be an Error whose one line names the file and what
// is wrong.
#include "host/data/idx_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include "host/common/error.h"
#include "support/fifo_unblocker.h"
#include "support/idx_files.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h, support/idx_files.h)

const fs::path kMnist = TRAIN_GPU_MNIST_DIR;
const fs::path kFashion = TRAIN_GPU_FASHION_DIR;

// Pixel values below were read with /usr/bin/python3's gzip + numpy from the same files.
TEST(IdxReaderRealData, MnistTrainImagesAndLabels) {
  const IdxImages images = read_idx_images(kMnist / "train-images-idx3-ubyte.gz");
  EXPECT_EQ(images.count, 60000);
  EXPECT_EQ(images.rows, 28);
  EXPECT_EQ(images.cols, 28);
  ASSERT_EQ(images.pixels.size(), 60000u * 28 * 28);
  // Image 0 (a 5), row 14, columns 13..17.
  const uint8_t* row14 = images.pixels.data() + 14 * 28;
  EXPECT_EQ(std::vector<int>(row14 + 13, row14 + 18), (std::vector<int>{81, 240, 253, 253, 119}));
  // Last image, row 10, columns 10..15.
  const uint8_t* last = images.pixels.data() + (59999 * 28 + 10) * 28;
  EXPECT_EQ(std::vector<int>(last + 10, last + 16), (std::vector<int>{25, 217, 242, 92, 4, 0}));
  int64_t sum0 = 0;
  for (int i = 0; i < 784; ++i) sum0 += images.pixels[static_cast<size_t>(i)];
  EXPECT_EQ(sum0, 27525);
  EXPECT_EQ(images.sha256, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609");

  const IdxLabels labels = read_idx_labels(kMnist / "train-labels-idx1-ubyte.gz", 10);
  ASSERT_EQ(labels.labels.size(), 60000u);
  EXPECT_EQ(std::vector<int>(labels.labels.begin(), labels.labels.begin() + 10),
            (std::vector<int>{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}));
  EXPECT_EQ(labels.sha256, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c");
}

TEST(IdxReaderRealData, MnistTestSetAndItsRawForm) {
  const fs::path gz = kMnist / "t10k-images-idx3-ubyte.gz";
  const IdxImages images = read_idx_images(gz);
  EXPECT_EQ(images.count, 10000);
  const uint8_t* row14 = images.pixels.data() + 14 * 28;
  EXPECT_EQ(std::vector<int>(row14 + 16, row14 + 20), (std::vector<int>{59, 249, 254, 62}));
  const IdxLabels labels = read_idx_labels(kMnist / "t10k-labels-idx1-ubyte.gz", 10);
  EXPECT_EQ(std::vector<int>(labels.labels.begin(), labels.labels.begin() + 10),
            (std::vector<int>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}));

  // The same file decompressed, under the dotted name form, reads to the same pixels and hashes
  // to the raw file's published sum.
  t::TempDir dir;
  const fs::path raw = dir / "t10k-images.idx3-ubyte";
  t::write_file(raw, t::gunzip(t::read_file(gz)));
  const IdxImages raw_images = read_idx_images(raw);
  EXPECT_EQ(raw_images.pixels, images.pixels);
  EXPECT_EQ(raw_images.sha256, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7");
}

TEST(IdxReaderRealData, FashionMnist) {
  if (!fs::is_directory(kFashion)) GTEST_SKIP() << "no Fashion-MNIST at " << kFashion << " (Debian package dataset-fashion-mnist)";
  const IdxImages images = read_idx_images(kFashion / "train-images-idx3-ubyte.gz");
  EXPECT_EQ(images.count, 60000);
  const uint8_t* row14 = images.pixels.data() + 14 * 28;
  EXPECT_EQ(std::vector<int>(row14 + 12, row14 + 17), (std::vector<int>{237, 226, 217, 223, 222}));
  const IdxLabels labels = read_idx_labels(kFashion / "t10k-labels-idx1-ubyte.gz", 10);
  ASSERT_EQ(labels.labels.size(), 10000u);
  EXPECT_EQ(std::vector<int>(labels.labels.begin(), labels.labels.begin() + 8), (std::vector<int>{9, 2, 1, 1, 6, 1, 4, 6}));
}

// ---- well-formed synthetic files --------------------------------------------------------------

TEST(IdxReader, AcceptsAnyImageSizeRawAndGzipped) {
  t::TempDir dir;
  const t::Bytes bytes = t::idx_images(3, 5, 7);
  t::write_file(dir / "x-idx3-ubyte", bytes);
  t::write_file(dir / "x-idx3-ubyte.gz", t::gzip(bytes));
  for (const char* name : {"x-idx3-ubyte", "x-idx3-ubyte.gz"}) {
    const IdxImages images = read_idx_images(dir / name);
    EXPECT_EQ(images.count, 3) << name;
    EXPECT_EQ(images.rows, 5) << name;
    EXPECT_EQ(images.cols, 7) << name;
    EXPECT_EQ(images.pixels, t::Bytes(bytes.begin() + 16, bytes.end())) << name;
  }
}

TEST(IdxReader, AcceptsConcatenatedGzipMembers) {
  // `cat a.gz b.gz` is a valid gzip file holding a then b; gzip and zlib users expect it to work.
  t::TempDir dir;
  const t::Bytes bytes = t::idx_labels(t::cycling_labels(100));
  const t::Bytes head(bytes.begin(), bytes.begin() + 30);
  const t::Bytes tail(bytes.begin() + 30, bytes.end());
  t::Bytes joined = t::gzip(head);
  const t::Bytes second = t::gzip(tail);
  joined.insert(joined.end(), second.begin(), second.end());
  t::write_file(dir / "l-idx1-ubyte.gz", joined);
  EXPECT_EQ(read_idx_labels(dir / "l-idx1-ubyte.gz", 10).labels, t::cycling_labels(100));
}

// ---- broken files ------------------------------------------------------------------------------

class BrokenIdx : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const t::Bytes& bytes) {
    const fs::path file = dir_ / name;
    t::write_file(file, bytes);
    return file;
  }
  t::TempDir dir_;
};

TEST_F(BrokenIdx, WrongMagic) {
  t::Bytes bytes = t::idx_images(2, 28, 28);
  bytes[3] = 0x04;
  const fs::path file = write("train-images-idx3-ubyte", bytes);
  EXPECT_THAT(t::error_of([&] { read_idx_images(file); }),
              AllOf(HasSubstr(file.string() + ": not an IDX images file: magic number 0x00000804, expected 0x00000803")));
}

TEST_F(BrokenIdx, SwappedImagesAndLabelsAreNamed) {
  const fs::path labels = write("labels-idx1-ubyte", t::idx_labels({1, 2, 3}));
  EXPECT_THAT(t::error_of([&] { read_idx_images(labels); }), HasSubstr("are the image and label files swapped?"));
  const fs::path images = write("images-idx3-ubyte", t::idx_images(1, 2, 2));
  EXPECT_THAT(t::error_of([&] { read_idx_labels(images, 10); }),
              AllOf(HasSubstr("not an IDX labels file: magic number 0x00000803, expected 0x00000801"),
                    HasSubstr("swapped")));
}

TEST_F(BrokenIdx, RawFileThatIsReallyGzipGetsAHint) {
  const fs::path file = write("train-images-idx3-ubyte", t::gzip(t::idx_images(1, 28, 28)));
  EXPECT_THAT(t::error_of([&] { read_idx_images(file); }),
              HasSubstr("looks gzip-compressed: name it with a .gz suffix"));
}

TEST_F(BrokenIdx, TruncatedHeader) {
  const t::Bytes full = t::idx_images(1, 28, 28);
  const fs::path raw = write("a-idx3-ubyte", t::Bytes(full.begin(), full.begin() + 10));
  EXPECT_THAT(t::error_of([&] { read_idx_images(raw); }),
              HasSubstr(raw.string() + ": truncated header: 10 bytes, an IDX images header is 16"));
  const fs::path gz = write("a-idx3-ubyte.gz", t::gzip(t::Bytes(full.begin(), full.begin() + 2)));
  EXPECT_THAT(t::error_of([&] { read_idx_images(gz); }), HasSubstr("truncated header: 2 bytes"));
}

TEST_F(BrokenIdx, TruncatedPayloadRawAndGzipped) {
  t::Bytes bytes = t::idx_images(3, 28, 28);
  bytes.resize(16 + 1000);
  const char* expected = "truncated: header claims 3 images of 28x28 (2352 bytes) but the payload has 1000 bytes";
  const fs::path raw = write("train-images-idx3-ubyte", bytes);
  EXPECT_THAT(t::error_of([&] { read_idx_images(raw); }), HasSubstr(raw.string() + ": " + expected));
  const fs::path gz = write("train-images-idx3-ubyte.gz", t::gzip(bytes));
  EXPECT_THAT(t::error_of([&] { read_idx_images(gz); }), HasSubstr(gz.string() + ": " + expected));
}

TEST_F(BrokenIdx, TrailingGarbageRawAndGzipped) {
  t::Bytes bytes = t::idx_labels(t::cycling_labels(20));
  bytes.insert(bytes.end(), {1, 2, 3, 4, 5});
  const char* expected = "trailing data: header claims 20 labels (20 bytes) but the payload has 25 bytes (5 extra)";
  const fs::path raw = write("l-idx1-ubyte", bytes);
  EXPECT_THAT(t::error_of([&] { read_idx_labels(raw, 10); }), HasSubstr(raw.string() + ": " + expected));
  const fs::path gz = write("l-idx1-ubyte.gz", t::gzip(bytes));
  EXPECT_THAT(t::error_of([&] { read_idx_labels(gz, 10); }), HasSubstr(gz.string() + ": " + expected));
}

TEST_F(BrokenIdx, LabelOutOfRange) {
  t::Bytes labels = t::cycling_labels(12);
  labels[7] = 10;
  const fs::path file = write("l-idx1-ubyte.gz", t::gzip(t::idx_labels(labels)));
  EXPECT_THAT(t::error_of([&] { read_idx_labels(file, 10); }),
              HasSubstr(file.string() + ": label 10 at index 7 is outside 0..9"));
}

TEST_F(BrokenIdx, ZeroImagesAndZeroLabels) {
  const fs::path images = write("i-idx3-ubyte", t::idx_header(0x803, {0, 28, 28}));
  EXPECT_THAT(t::error_of([&] { read_idx_images(images); }),
              HasSubstr(images.string() + ": no images: the header claims 0 images"));
  const fs::path labels = write("l-idx1-ubyte", t::idx_header(0x801, {0}));
  EXPECT_THAT(t::error_of([&] { read_idx_labels(labels, 10); }), HasSubstr("no labels"));
}

TEST_F(BrokenIdx, ZeroOrAbsurdImageSize) {
  const fs::path zero = write("i-idx3-ubyte", t::idx_header(0x803, {1, 0, 28}));
  EXPECT_THAT(t::error_of([&] { read_idx_images(zero); }), HasSubstr("implausible image size 0x28"));
  const fs::path huge = write("j-idx3-ubyte", t::idx_header(0x803, {1, 70000, 28}));
  EXPECT_THAT(t::error_of([&] { read_idx_images(huge); }), HasSubstr("implausible image size 70000x28"));
}

// A ~1 KB file claiming 2^31 images of 28x28 (1.7 TB) must be refused from what the file can
// hold: had the reader trusted the header, the allocation would throw std::bad_alloc, not Error.
TEST_F(BrokenIdx, HugeClaimedCountIsRejectedBeforeAllocating) {
  t::Bytes bytes = t::idx_header(0x803, {0x80000000u, 28, 28});
  bytes.resize(bytes.size() + 1000, 7);
  const char* expected =
      "truncated: header claims 2147483648 images of 28x28 (1683627180032 bytes) but the payload has 1000 bytes";
  const fs::path raw = write("train-images-idx3-ubyte", bytes);
  EXPECT_THAT(t::error_of([&] { read_idx_images(raw); }), HasSubstr(expected));
  // Gzipped, the claim is measured against what deflate can expand the file's bytes to.
  const fs::path gz = write("train-images-idx3-ubyte.gz", t::gzip(bytes));
  EXPECT_THAT(t::error_of([&] { read_idx_images(gz); }),
              HasSubstr("truncated or corrupt: header claims 2147483648 images of 28x28 (1683627180032 bytes), but its "
                        "compressed bytes can hold at most "));
  const fs::path labels = write("l-idx1-ubyte.gz", t::gzip(t::idx_header(0x801, {0xffffffffu})));
  EXPECT_THAT(t::error_of([&] { read_idx_labels(labels, 10); }),
              HasSubstr("header claims 4294967295 labels (4294967295 bytes), but its compressed bytes can hold at most"));
}

// How far `action`, run in a child process, raises the peak resident memory above what the child
// starts with, in MiB. fork() starts the child's high-water mark at its resident size, so the
// test's own data does not count; the child's exit status carries nothing, a pipe the figure.
double peak_growth_mib(const std::function<void()>& action) {
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    try {
      action();
    } catch (...) {
    }
    ::getrusage(RUSAGE_SELF, &after);
    const long growth_kib = after.ru_maxrss - before.ru_maxrss;
    const ssize_t written = ::write(pipe_ends[1], &growth_kib, sizeof growth_kib);
    ::_exit(written == sizeof growth_kib ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  long growth_kib = -1;
  const ssize_t got = ::read(pipe_ends[0], &growth_kib, sizeof growth_kib);
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (got != sizeof growth_kib) throw std::runtime_error("the child reported nothing");
  return static_cast<double>(growth_kib) / 1024.0;
}

// The probe: a gzip file whose header claims 2^32-1 images cost predict 30 s and 3.3 GB
// before "truncated". 32 MiB of zeros compress to ~32 KB, which deflate cannot expand past 1032x
// (~34 MB) -- far short of the 3.4 TB claimed -- so the file is refused before inflating anything.
// The unfixed reader inflated all 32 MiB into buffers grown by doubling (peak >= 32 MiB, up to
// 3x); refused at the header, the child's peak grows by the compressed bytes alone, under 8 MiB.
TEST_F(BrokenIdx, GzipBombIsRefusedBeforeInflating) {
  t::Bytes bytes = t::idx_header(0x803, {0xffffffffu, 28, 28});
  bytes.resize(bytes.size() + (size_t{32} << 20), 0);
  const fs::path bomb = write("bomb-idx3-ubyte.gz", t::gzip(bytes));
  bytes = t::Bytes();
  const uint64_t bound = 1032 * fs::file_size(bomb) - 16;
  EXPECT_THAT(t::error_of([&] { read_idx_images(bomb); }),
              HasSubstr(bomb.string() + ": truncated or corrupt: header claims 4294967295 images of 28x28 (3367254359280 "
                        "bytes), but its compressed bytes can hold at most " + std::to_string(bound) +
                        " bytes after the header (deflate expands data at most 1032:1)"));
  const double growth_mib = peak_growth_mib([&] { read_idx_images(bomb); });
  RecordProperty("peak_growth_kib", static_cast<int>(growth_mib * 1024));
  EXPECT_LT(growth_mib, 8.0);
}

// A legitimate read peaks at its payload. Two gzip members, the second holding only the last
// image, so the trailer's ISIZE (the unfixed reader's size hint) says 784 bytes; the payload is
// 86,000 images = 64.3 MiB, just past 64 MiB, where growing by doubling held the 64 MiB buffer
// and its 128 MiB successor at once: a peak of 2x. Sized from the header once the claim is
// plausible, the peak is the payload plus the small compressed file and zlib's state; 1.25x
// leaves 16 MiB of room for those and for allocator rounding.
TEST(IdxReader, GzipReadPeaksAtThePayloadNotAtAMultipleOfIt) {
  t::TempDir dir;
  constexpr uint32_t kCount = 86000;
  const fs::path file = dir / "big-idx3-ubyte.gz";
  {
    const t::Bytes bytes = t::idx_images(kCount, 28, 28);
    const size_t split = bytes.size() - 784;
    t::Bytes joined = t::gzip(t::Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(split)));
    const t::Bytes last = t::gzip(t::Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(split), bytes.end()));
    joined.insert(joined.end(), last.begin(), last.end());
    t::write_file(file, joined);
  }
  const double payload_mib = kCount * 784.0 / (1 << 20);
  const double growth_mib = peak_growth_mib([&] {
    const IdxImages images = read_idx_images(file);
    if (images.count != kCount || images.pixels[12345678] != 12345678 % 251) ::_exit(3);
  });
  RecordProperty("peak_growth_kib", static_cast<int>(growth_mib * 1024));
  EXPECT_GT(growth_mib, payload_mib * 0.9) << "the payload itself must show: is the measurement working?";
  EXPECT_LT(growth_mib, payload_mib * 1.25) << "payload " << payload_mib << " MiB";
}

TEST_F(BrokenIdx, FifoIsRefusedWithoutBlocking) {
  const fs::path fifo = dir_ / "t10k-images-idx3-ubyte";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  t::FifoUnblocker unblocker(fifo, std::chrono::seconds(20));
  EXPECT_EQ(t::error_of([&] { read_idx_images(fifo); }), fifo.string() + ": is a FIFO (named pipe), expected an IDX file");
  EXPECT_FALSE(unblocker.fired());
}

TEST_F(BrokenIdx, CorruptGzipStream) {
  t::Bytes gz = t::gzip(t::idx_images(4, 28, 28));
  // Overwrite deflate data past the 10-byte gzip header: the block structure breaks or the CRC-32
  // in the trailer no longer matches; either way zlib reports a data error.
  for (size_t i = 20; i < 60 && i < gz.size() - 8; ++i) gz[i] = static_cast<uint8_t>(0xA5 ^ gz[i]);
  const fs::path file = write("i-idx3-ubyte.gz", gz);
  EXPECT_THAT(t::error_of([&] { read_idx_images(file); }), HasSubstr(file.string() + ": corrupt gzip stream"));
}

TEST_F(BrokenIdx, BadCrcIsCorrupt) {
  t::Bytes gz = t::gzip(t::idx_labels(t::cycling_labels(50)));
  gz[gz.size() - 8] ^= 0xff;  // the CRC-32 field of the trailer
  const fs::path file = write("l-idx1-ubyte.gz", gz);
  EXPECT_THAT(t::error_of([&] { read_idx_labels(file, 10); }), HasSubstr("corrupt gzip stream: incorrect data check"));
}

TEST_F(BrokenIdx, TruncatedGzipStream) {
  t::Bytes gz = t::gzip(t::idx_images(40, 28, 28));
  gz.resize(gz.size() / 2);
  const fs::path file = write("i-idx3-ubyte.gz", gz);
  EXPECT_THAT(t::error_of([&] { read_idx_images(file); }), HasSubstr(file.string() + ": truncated gzip stream"));
}

TEST_F(BrokenIdx, GarbageAfterGzipMember) {
  t::Bytes gz = t::gzip(t::idx_labels(t::cycling_labels(5)));
  gz.insert(gz.end(), {'j', 'u', 'n', 'k'});
  const fs::path file = write("l-idx1-ubyte.gz", gz);
  EXPECT_THAT(t::error_of([&] { read_idx_labels(file, 10); }),
              HasSubstr("corrupt gzip stream: 4 bytes of garbage after the compressed data"));
}

TEST_F(BrokenIdx, GzNameButNotGzip) {
  const fs::path file = write("l-idx1-ubyte.gz", t::idx_labels({1}));
  EXPECT_THAT(t::error_of([&] { read_idx_labels(file, 10); }), HasSubstr("not a gzip file"));
}

TEST_F(BrokenIdx, EmptyFileAndEmptyGzip) {
  const fs::path empty = write("i-idx3-ubyte", {});
  EXPECT_THAT(t::error_of([&] { read_idx_images(empty); }), HasSubstr(empty.string() + ": empty file (0 bytes)"));
  const fs::path empty_gz = write("i-idx3-ubyte.gz", t::gzip({}));
  EXPECT_THAT(t::error_of([&] { read_idx_images(empty_gz); }), HasSubstr("the gzip stream decompresses to 0 bytes"));
}

TEST_F(BrokenIdx, MissingFileAndDirectory) {
  const fs::path missing = dir_ / "nothing-idx3-ubyte";
  EXPECT_THAT(t::error_of([&] { read_idx_images(missing); }), HasSubstr(missing.string() + ": cannot open: No such file or directory"));
  const fs::path directory = dir_ / "train-images-idx3-ubyte";
  fs::create_directory(directory);
  EXPECT_THAT(t::error_of([&] { read_idx_images(directory); }),
              HasSubstr(directory.string() + ": is a directory, expected an IDX file"));
}

TEST_F(BrokenIdx, MessagesAreOneLine) {
  const fs::path file = write("i-idx3-ubyte", t::idx_header(0x803, {5, 28, 28}));
  EXPECT_THAT(t::error_of([&] { read_idx_images(file); }), Not(HasSubstr("\n")));
}

// ---- finding files -----------------------------------------------------------------------------

TEST(FindIdxFile, TriesBothNameFormsGzipFirst) {
  EXPECT_EQ(idx_file_names("train-images", 3),
            (std::vector<std::string>{"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                                      "train-images.idx3-ubyte.gz", "train-images.idx3-ubyte"}));
  t::TempDir dir;
  t::write_file(dir / "t10k-labels.idx1-ubyte", t::idx_labels({1}));
  EXPECT_EQ(find_idx_file(dir.path(), "t10k-labels", 1, "test labels"), dir / "t10k-labels.idx1-ubyte");
  t::write_file(dir / "t10k-labels-idx1-ubyte.gz", t::gzip(t::idx_labels({1})));
  EXPECT_EQ(find_idx_file(dir.path(), "t10k-labels", 1, "test labels"), dir / "t10k-labels-idx1-ubyte.gz");
}

TEST(FindIdxFile, MissingListsEveryNameTried) {
  t::TempDir dir;
  EXPECT_THAT(t::error_of([&] { find_idx_file(dir.path(), "train-images", 3, "train images"); }),
              HasSubstr(dir.path().string() +
                        ": no train images file (tried train-images-idx3-ubyte.gz, train-images-idx3-ubyte, "
                        "train-images.idx3-ubyte.gz, train-images.idx3-ubyte)"));
}

}  // namespace
}  // namespace train_gpu

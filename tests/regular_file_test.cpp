// open_regular_file and every reader of user-given files built on it: a FIFO, a directory or a
// device named where a file belongs is refused at once, with one line naming the file and what
// it is, instead of blocking in open() or read(). FIFOs are made with mkfifo(); a FifoUnblocker
// turns a regression (a reader that blocks) into a failed assertion instead of a hung suite.
#include "host/common/regular_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "host/data/idx_reader.h"
#include "host/data/sha256.h"
#include "host/eval/npy_reader.h"
#include "host/predict/png_input.h"
#include "host/predict/predict_inputs.h"
#include "host/train/checkpoint.h"
#include "support/fifo_unblocker.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

fs::path make_fifo(const fs::path& file) {
  if (::mkfifo(file.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + file.string() + ": " + std::strerror(errno));
  return file;
}

TEST(RegularFile, ReadsARegularFileWholeWithBlockingReads) {
  t::TempDir dir;
  t::write_file(dir / "data.bin", t::Bytes{1, 2, 3, 250});
  const RegularFile opened = open_regular_file(dir / "data.bin");
  EXPECT_EQ(opened.size, 4u);
  EXPECT_EQ(::fcntl(opened.descriptor.get(), F_GETFL) & O_NONBLOCK, 0) << "O_NONBLOCK must be cleared after the check";
  EXPECT_EQ(::fcntl(opened.descriptor.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(read_regular_file(dir / "data.bin"), (std::vector<uint8_t>{1, 2, 3, 250}));
  t::write_file(dir / "empty", {});
  EXPECT_TRUE(read_regular_file(dir / "empty").empty());
}

TEST(RegularFile, EachKindOfNonRegularFileIsNamed) {
  t::TempDir dir;
  const fs::path fifo = make_fifo(dir / "pipe");
  t::FifoUnblocker unblocker(fifo, std::chrono::seconds(20));
  EXPECT_EQ(t::error_of([&] { open_regular_file(fifo, "an image"); }),
            fifo.string() + ": is a FIFO (named pipe), expected an image");
  EXPECT_EQ(t::error_of([&] { read_regular_file(dir.path()); }), dir.path().string() + ": is a directory, expected a regular file");
  EXPECT_EQ(t::error_of([&] { read_regular_file("/dev/null"); }), "/dev/null: is a character device, expected a regular file");
  EXPECT_EQ(t::error_of([&] { read_regular_file(dir / "missing"); }), (dir / "missing").string() + ": cannot open: No such file or directory");
  fs::create_symlink("pipe", dir / "link-to-pipe");  // links are followed to what they name
  t::expect_contains(t::error_of([&] { read_regular_file(dir / "link-to-pipe"); }), "link-to-pipe: is a FIFO (named pipe)");
  EXPECT_FALSE(unblocker.fired()) << "a FIFO was opened for a blocking read";
}

// Every reader that takes a path from the user, on a FIFO: one clear Error, no blocking.
TEST(RegularFile, EveryReaderOfUserFilesRefusesAFifoAtOnce) {
  t::TempDir dir;
  struct Case {
    const char* name;
    std::function<void(const fs::path&)> read;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"images-idx3-ubyte", [](const fs::path& f) { read_idx_images(f); }, "expected an IDX file"},
      {"labels-idx1-ubyte.gz", [](const fs::path& f) { read_idx_labels(f, 10); }, "expected an IDX file"},
      {"array.npy", [](const fs::path& f) { eval::read_npy(f); }, "expected a .npy array"},
      {"digit.png", [](const fs::path& f) { predict::read_png_rgba(f); }, "expected a PNG picture"},
      {"hashed.gz", [](const fs::path& f) { sha256_file(f); }, "expected a regular file"},
      {"model.safetensors", [](const fs::path& f) { load_model_weights(f); }, "expected a .safetensors checkpoint"},
      {"input.png",
       [](const fs::path& f) {
         const std::vector<predict::PredictInput> inputs = predict::load_predict_inputs(f, {});
         if (inputs.size() == 1 && !inputs[0].error.empty()) throw Error(inputs[0].error);
       },
       "expected a PNG or JPEG picture, a .npy array or an IDX images file"},
  };
  for (const Case& c : cases) {
    const fs::path fifo = make_fifo(dir / c.name);
    t::FifoUnblocker unblocker(fifo, std::chrono::seconds(20));
    const std::string message = t::error_of([&] { c.read(fifo); });
    t::expect_contains(message, fifo.string() + ": is a FIFO (named pipe), " + c.expected);
    EXPECT_FALSE(unblocker.fired()) << c.name << ": the reader blocked on the FIFO";
  }
}

}  // namespace
}  // namespace train_gpu

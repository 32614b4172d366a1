// libFuzzer target for the command line (host/cli/commands.h run()): any argument vector must end
// in an exit code, never a crash, a sanitizer report or an escaped exception. Input: the
// arguments after the program name, one per line. The process works in an empty scratch
// directory, so the relative defaults (data/mnist, runs/<time>) find no data and nothing trains;
// the CLI's own output goes nowhere (run with -close_fd_mask=3, as tools/fuzz.sh does).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "host/cli/commands.h"
#include "tests/fuzz/fuzz_scratch.h"

namespace {

// Bounds what one input can ask for; CLI11's cost grows with the argument count.
constexpr std::size_t kMaxArguments = 64;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (chdir(train_gpu::fuzz::scratch_dir().c_str()) != 0) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> arguments{"train_gpu"};
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\n') {
      arguments.push_back(current);
      current.clear();
      if (arguments.size() > kMaxArguments) return 0;
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) arguments.push_back(current);

  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const int exit_code = train_gpu::cli::run(static_cast<int>(arguments.size()), argv.data());
  if (exit_code < 0 || exit_code > 255) __builtin_trap();  // not an exit status a shell can see
  return 0;
}

#include "host/cli/plots.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace train_gpu::cli {

namespace fs = std::filesystem;

namespace {

fs::path executable_directory() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : self.parent_path();
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

fs::path find_tool(const std::string& name) {
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("TRAIN_GPU_TOOLS_DIR")) candidates.emplace_back(fs::path(dir) / name);
  const fs::path exe_dir = executable_directory();
  if (!exe_dir.empty()) {
    candidates.push_back(exe_dir / "tools" / name);
    candidates.push_back(exe_dir / ".." / "share" / "train_gpu" / "tools" / name);
  }
  candidates.push_back(fs::path(TRAIN_GPU_SOURCE_TOOLS_DIR) / name);
  std::error_code error;
  for (const fs::path& candidate : candidates) {
    if (fs::is_regular_file(candidate, error)) return candidate;
  }
  return {};
}

std::string python_for_plots() {
  // An active virtual environment is where the user installed matplotlib (pip install -r
  // tools/requirements-plots.txt); without one, Debian's python3-matplotlib lives under
  // /usr/bin/python3, preferred over another python3 on PATH.
  const char* virtual_env = std::getenv("VIRTUAL_ENV");
  if (virtual_env != nullptr && *virtual_env != '\0') {
    const fs::path python = fs::path(virtual_env) / "bin" / "python";
    if (access(python.c_str(), X_OK) == 0) return python.string();
  }
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

bool run_plot_script(const fs::path& run_dir, std::ostream& out) {
  const fs::path script = find_tool("plot.py");
  if (script.empty()) {
    out << "plots: tools/plot.py not found (set TRAIN_GPU_TOOLS_DIR to the tools/ directory of train_gpu)\n";
    return false;
  }
  const std::string interpreter = python_for_plots();
  const std::string python = quoted(interpreter);
  const std::string probe = python + " -c 'import matplotlib' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    out << "plots: skipped, Python with matplotlib is not available. Install it with "
           "`apt-get install python3-matplotlib` or `pip install -r tools/requirements-plots.txt`, then run: "
        << interpreter << " " << script.string() << " " << run_dir.string() << "\n";
    return false;
  }
  out << std::flush;
  const std::string command = python + " " + quoted(script.string()) + " " + quoted(run_dir.string());
  const int status = std::system(command.c_str());
  const bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok) out << "plots: " << script.filename().string() << " failed; the run itself is complete\n";
  return ok;
}

}  // namespace train_gpu::cli

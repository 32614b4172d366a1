// `--plots`: runs tools/plot.py on a finished run directory when Python with matplotlib is
// there, and says how to get them when not. Plotting is a convenience: its failure never fails
// the training that preceded it.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

namespace train_gpu::cli {

// Where tools/plot.py is: $TRAIN_GPU_TOOLS_DIR, next to the binary (tools/ or
// ../share/train_gpu/tools/), or the source tree the binary was built from. Empty when none.
std::filesystem::path find_tool(const std::string& name);

// The Python that runs plot.py: $VIRTUAL_ENV/bin/python in an active virtual environment, else
// /usr/bin/python3 (Debian's matplotlib), else python3 on PATH.
std::string python_for_plots();

// Returns true when the plots were written.
bool run_plot_script(const std::filesystem::path& run_dir, std::ostream& out);

}  // namespace train_gpu::cli

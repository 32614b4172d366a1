#include <algorithm>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "build_info.h"
#include "host/cli/command_line.h"
#include "host/cli/commands.h"
#include "host/cli/unknown_command.h"
#include "host/common/error.h"
#include "host/model/backend_factory.h"

#ifdef TRAIN_GPU_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace train_gpu::cli {

namespace {

std::string version_text() {
  std::string text = std::string("train_gpu ") + TRAIN_GPU_VERSION + " (commit " + TRAIN_GPU_GIT_COMMIT + ", " +
                     TRAIN_GPU_BUILD_TYPE + ")\n";
#ifdef TRAIN_GPU_HAVE_CUDA
  text += "built against " + cuda::built_library_versions() + "\n";
  text += "loaded: " + cuda::loaded_library_versions();
#else
  text += "CPU-only build";
#endif
  text += "\n";  // CLI11 prints the version text as is, without a final newline
  return text;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(command->get_name());
  }
  return names;
}

bool is_command(const CLI::App& app, const char* word) {
  const std::vector<std::string> names = command_names(app);
  return std::find(names.begin(), names.end(), word) != names.end();
}

}  // namespace

int run(int argc, char** argv) {
  remember_command_line(argc, argv);
  CLI::App app{"train_gpu: trains the TensorFlow 2 MNIST tutorial's CNN natively, on a GPU or the CPU.\n"
               "The default command is train: `train_gpu --device 0` trains on GPU 0.",
               "train_gpu"};
  // A callback, so the loaded libraries are queried only when --version is asked for.
  app.set_version_flag("--version", std::function<std::string()>(version_text),
                       "Print the version, git commit and the CUDA/cuDNN/cuBLAS versions built against and loaded");
  app.require_subcommand(0, 1);
  add_train_command(app);
  add_inspect_command(app);
  add_summary_command(app);
  add_evaluate_command(app);
  add_features_command(app);
  add_bench_command(app);
  add_export_command(app);
  add_predict_command(app);

  // `train` is implied when the first word is not a command or a top-level flag.
  std::vector<const char*> args(argv, argv + argc);
  const bool top_level_flag = argc > 1 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
                                           !std::strcmp(argv[1], "--version"));
  if (!top_level_flag && (argc == 1 || !is_command(app, argv[1]))) {
    // Only flags may follow the implied train: a first word that is no command is a mistyped one.
    if (argc > 1 && argv[1][0] != '-') {
      std::cerr << "train_gpu: error: " << unknown_command_message(argv[1], command_names(app)) << "\n";
      return static_cast<int>(CLI::ExitCodes::ExtrasError);  // what CLI11 answers an unknown flag with
    }
    args.insert(args.begin() + 1, "train");
  }

  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    // Top-level --help also lists train's flags, since train is what a bare `train_gpu` runs;
    // `train_gpu evaluate --help` shows evaluate's alone (app.help() delegates to the command).
    std::cout << app.help();
    if (top_level_flag) {
      std::cout << "\nOptions of the default command, train:\n"
                << app.get_subcommand("train")->help("", CLI::AppFormatMode::Sub);
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const Error& e) {
    std::cerr << "train_gpu: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "train_gpu: error: out of host memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "train_gpu: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace train_gpu::cli

// `train_gpu bench`: training throughput per batch size on the chosen device, next to the
// arithmetic floor, so the gap between what the engine does and what the hardware could do is
// visible. Each batch size and launch mode (eager kernel launches, or replayed CUDA graphs) gets a
// fresh backend with the tutorial's initial weights; warm-up steps (allocation, algorithm choice,
// caches, graph capture) are excluded; the timed epochs end with the take_totals() that
// synchronizes, so the time covers all the work queued, not just its launch. Beside the time: the
// kernels one step launches (a captured step's kernel nodes), the floor, and the loss reached.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "host/cli/bench_report.h"
#include "host/cli/commands.h"
#include "host/cli/model_options.h"
#include "host/cli/options.h"
#include "host/cli/validators.h"
#include "host/common/error.h"
#include "host/common/format.h"
#include "host/data/permutation.h"
#include "host/model/backend_factory.h"
#include "host/model/image_set_check.h"
#include "host/model/initializer.h"
#include "host/model/model_cost.h"

namespace train_gpu::cli {

namespace {

struct BenchOptions {
  DataOptions data;
  DeviceOptions device;
  ModelOptions model;
  std::vector<int> batch_sizes{64, 128, 256, 1024};
  std::vector<std::string> launches{"eager", "graph"};
  int epochs = 2;
  int warmup_steps = 10;
  double peak_tflops = 0;  // 0: unknown, no floor column
  uint64_t seed = 42;
  std::string csv;
};

using Clock = std::chrono::steady_clock;

// One row: a fresh backend for (batch, launch). Returns false, timing nothing, for a graph row on
// a backend without graphs (the CPU), which would only repeat the eager row.
bool bench_batch_size(const BenchOptions& options, const Dataset& dataset, const model::NetworkSpec& spec, int batch,
                      const std::string& launch, std::string& device, BenchRow& row) {
  BackendOptions backend_options = backend_options_from(options.device, batch);
  backend_options.spec = spec;
  backend_options.graph = launch == "graph";
  const std::unique_ptr<Backend> backend = make_backend(parse_device(options.device.device), backend_options, std::cerr, "benchmarking");
  if (backend_options.graph && !backend->execution_report(batch).launches_kernels()) return false;
  device = backend->description();
  backend->attach_data(dataset.train, dataset.test);
  backend->set_state(initial_model_state(backend->network(), options.seed));
  const auto count = static_cast<int32_t>(dataset.train.count);
  const int64_t steps = (count + batch - 1) / batch;

  auto run_epoch = [&](int64_t epoch, int64_t max_steps) {
    backend->set_order(Split::kTrain, epoch_permutation(options.seed, epoch, count));
    for (int64_t step = 0; step < std::min(steps, max_steps); ++step) {
      const int64_t first = step * batch;
      backend->train_step(first, static_cast<int>(std::min<int64_t>(batch, count - first)));
    }
    return backend->take_totals(PassKind::kTraining);  // synchronizes
  };

  // Graph launches warm up on two whole epochs: every step shape (full groups, single steps, the
  // last partial batch) runs eagerly once and is captured the second time, both untimed.
  int64_t epoch = 0;
  if (backend_options.graph) {
    run_epoch(epoch++, steps);
    run_epoch(epoch++, steps);
  } else {
    run_epoch(epoch++, options.warmup_steps);
  }
  const Clock::time_point start = Clock::now();
  PassTotals last;
  for (int timed = 0; timed < options.epochs; ++timed) last = run_epoch(epoch++, steps);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / options.epochs;

  const ExecutionReport report = backend->execution_report(batch);
  row.batch = batch;
  row.launch = report.launch;
  row.kernel_set = report.kernels;
  row.pooling = report.pooling;
  row.kernels_per_step = report.kernels_per_step;
  row.steps_per_epoch = steps;
  row.ms_per_epoch = 1e3 * seconds;
  row.samples_per_second = double(count) / seconds;
  const double flops = double(model::training_flops_per_sample(spec)) * double(count);
  row.achieved_tflops = flops / seconds / 1e12;
  if (options.peak_tflops > 0) row.floor_ms = 1e3 * flops / (options.peak_tflops * 1e12);
  row.final_train_loss = last.mean_batch_loss();
  if (!report.details.empty()) std::cout << "  " << report.details << "\n";
  return true;
}

void write_csv(const std::string& file, const std::vector<BenchRow>& rows, const std::string& device) {
  std::ofstream out(file);
  out << bench_csv(rows, device);
  out.flush();
  if (!out) throw Error("cannot write " + file);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench",
      "Time training epochs per batch size and launch mode on the device: kernels per step, ms/epoch,\n"
      "samples/s, achieved TFLOP/s and, with --peak-tflops, the floor (the matmul FLOPs of an epoch at that\n"
      "rate). Warm-up steps (graph launches: two whole epochs, capturing every step shape) are not timed");
  add_data_options(*command, options->data);
  add_device_options(*command, options->device, DeviceFlags::kBench);
  add_model_option(*command, options->model);
  command->add_option("--launch", options->launches,
                      "GPU: how steps are launched, one row each: eager (one kernel launch at a time) and/or graph "
                      "(captured CUDA graphs, needs --loader device); the CPU has one row per batch size")
      ->delimiter(',')
      ->check(CLI::IsMember({"eager", "graph"}))
      ->capture_default_str();
  command->add_option("--graph-steps", options->device.graph_steps, "GPU: training steps per graph replay")
      ->check(whole_number_in(1, 64))
      ->capture_default_str();
  command->add_option("--batch-sizes", options->batch_sizes, "Batch sizes to time")
      ->delimiter(',')
      ->check(whole_number_in(1, 65536))
      ->capture_default_str();
  command->add_option("--epochs", options->epochs, "Timed epochs per batch size (their mean is reported)")
      ->check(whole_number_in(1, std::numeric_limits<int>::max()))
      ->capture_default_str();
  command->add_option("--warmup-steps", options->warmup_steps, "Untimed steps before the timed epochs")
      ->check(whole_number_in(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  command->add_option("--peak-tflops", options->peak_tflops,
                      "The device's fp32 peak in TFLOP/s, for the floor column (e.g. 67 for an H100/H200 SXM)")
      ->check(positive_finite());
  command->add_option("--seed", options->seed, "Seed of the initial weights and the shuffles")
      ->check(unsigned_64bit_number())
      ->capture_default_str();
  command->add_option("--csv", options->csv, "Also write the table as CSV to this file");

  command->callback([options] {
    const Dataset dataset = load_dataset_from_options(options->data, std::cout);
    const model::Shape data_shape{dataset.test.channels, dataset.test.rows, dataset.test.cols};
    const model::NetworkSpec spec = network_from_options(options->model, &data_shape, std::cout);
    check_data_fits_model(dataset.test, dataset_description(dataset), model_input_of(spec));
    if (!spec.is_tutorial()) std::cout << "model: " << spec.description() << "\n";
    std::vector<BenchRow> rows;
    std::string device;
    for (const int batch : options->batch_sizes) {
      for (const std::string& launch : options->launches) {
        std::cout << "timing batch " << batch << ", " << launch << " launches ..." << std::endl;
        BenchRow row;
        if (bench_batch_size(*options, dataset, spec, batch, launch, device, row)) rows.push_back(row);
      }
    }
    if (rows.empty()) throw Error("bench: nothing was timed (the CPU has no graph launches; add --launch eager)");
    std::cout << "device: " << device << "\n"
              << with_thousands(dataset.train.count) << " training images per epoch, "
              << with_thousands(model::training_flops_per_sample(spec)) << " matmul FLOPs per sample (forward + backward)\n";
    print_bench_table(rows, options->peak_tflops > 0, std::cout);
    if (!options->csv.empty()) {
      write_csv(options->csv, rows, device);
      std::cout << "wrote " << options->csv << "\n";
    }
  });
}

}  // namespace train_gpu::cli

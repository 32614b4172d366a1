// `train_gpu bench`: training throughput per batch size on the chosen device, next to the
// arithmetic floor, so the gap between what the engine does and what the hardware could do is
// visible. Each batch size gets a fresh backend with the tutorial's initial weights; a few warm-up
// steps (allocation, algorithm choice, caches) are excluded; the timed epochs end with the
// take_totals() that synchronizes, so the time covers all the work queued, not just its launch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "host/cli/commands.h"
#include "host/cli/options.h"
#include "host/cli/validators.h"
#include "host/common/csv_field.h"
#include "host/common/error.h"
#include "host/common/format.h"
#include "host/data/permutation.h"
#include "host/model/backend_factory.h"
#include "host/model/initializer.h"
#include "host/model/model_cost.h"

namespace train_gpu::cli {

namespace {

struct BenchOptions {
  DataOptions data;
  DeviceOptions device;
  std::vector<int> batch_sizes{64, 128, 256, 1024};
  int epochs = 2;
  int warmup_steps = 10;
  double peak_tflops = 0;  // 0: unknown, no floor column
  uint64_t seed = 42;
  std::string csv;
};

struct BenchRow {
  int batch = 0;
  int64_t steps_per_epoch = 0;
  double ms_per_epoch = 0;
  double samples_per_second = 0;
  double achieved_tflops = 0;
  double floor_ms = 0;          // matmul FLOPs at the peak rate; 0 when the peak is unknown
  double final_train_loss = 0;  // of the last timed epoch: a sanity check that it trained
};

using Clock = std::chrono::steady_clock;

BenchRow bench_batch_size(const BenchOptions& options, const Dataset& dataset, int batch, std::string& device) {
  BackendOptions backend_options = backend_options_from(options.device, batch);
  const std::unique_ptr<Backend> backend = make_backend(parse_device(options.device.device), backend_options, std::cerr);
  device = backend->description();
  backend->attach_data(dataset.train, dataset.test);
  backend->set_state(initial_model_state(options.seed));
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

  run_epoch(0, options.warmup_steps);
  const Clock::time_point start = Clock::now();
  PassTotals last;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) last = run_epoch(epoch, steps);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / options.epochs;

  BenchRow row;
  row.batch = batch;
  row.steps_per_epoch = steps;
  row.ms_per_epoch = 1e3 * seconds;
  row.samples_per_second = double(count) / seconds;
  const double flops = double(model::kTrainingFlopsPerSample) * double(count);
  row.achieved_tflops = flops / seconds / 1e12;
  if (options.peak_tflops > 0) row.floor_ms = 1e3 * flops / (options.peak_tflops * 1e12);
  row.final_train_loss = last.mean_batch_loss();
  return row;
}

void print_table(const std::vector<BenchRow>& rows, bool with_floor, std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line, "%6s %7s %12s %14s %10s %10s %11s\n", "batch", "steps", "ms/epoch", "samples/s",
                "TFLOP/s", "floor ms", "train loss");
  out << line;
  for (const BenchRow& row : rows) {
    const std::string floor = with_floor ? fixed(row.floor_ms, 2) : std::string("n/a");
    std::snprintf(line, sizeof line, "%6d %7lld %12.2f %14s %10.3f %10s %11.4f\n", row.batch,
                  static_cast<long long>(row.steps_per_epoch), row.ms_per_epoch,
                  with_thousands(static_cast<int64_t>(row.samples_per_second)).c_str(), row.achieved_tflops,
                  floor.c_str(), row.final_train_loss);
    out << line;
  }
}

void write_csv(const std::string& file, const std::vector<BenchRow>& rows, const std::string& device) {
  std::ofstream out(file);
  out << "device,batch,steps_per_epoch,ms_per_epoch,samples_per_second,achieved_tflops,floor_ms,train_loss\n";
  for (const BenchRow& row : rows) {
    char line[256];
    std::snprintf(line, sizeof line, ",%d,%lld,%.3f,%.1f,%.4f,%.3f,%.6f\n", row.batch,
                  static_cast<long long>(row.steps_per_epoch), row.ms_per_epoch, row.samples_per_second,
                  row.achieved_tflops, row.floor_ms, row.final_train_loss);
    out << csv_field(device) << line;  // the device name holds commas
  }
  out.flush();
  if (!out) throw Error("cannot write " + file);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench",
      "Time training epochs per batch size on the device: ms/epoch, samples/s, achieved TFLOP/s and, with\n"
      "--peak-tflops, the floor (the matmul FLOPs of an epoch at that rate). Warm-up steps are not timed");
  add_data_options(*command, options->data);
  add_device_options(*command, options->device);
  command->add_option("--batch-sizes", options->batch_sizes, "Batch sizes to time")
      ->delimiter(',')
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  command->add_option("--epochs", options->epochs, "Timed epochs per batch size (their mean is reported)")
      ->check(whole_number_at_least(1))
      ->capture_default_str();
  command->add_option("--warmup-steps", options->warmup_steps, "Untimed steps before the timed epochs")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  command->add_option("--peak-tflops", options->peak_tflops,
                      "The device's fp32 peak in TFLOP/s, for the floor column (e.g. 67 for an H100/H200 SXM)")
      ->check(positive_finite());
  command->add_option("--seed", options->seed, "Seed of the initial weights and the shuffles")->capture_default_str();
  command->add_option("--csv", options->csv, "Also write the table as CSV to this file");

  command->callback([options] {
    const Dataset dataset = load_dataset_from_options(options->data, std::cout);
    std::vector<BenchRow> rows;
    std::string device;
    for (const int batch : options->batch_sizes) {
      std::cout << "timing batch " << batch << " ..." << std::endl;
      rows.push_back(bench_batch_size(*options, dataset, batch, device));
    }
    std::cout << "device: " << device << "\n"
              << with_thousands(dataset.train.count) << " training images per epoch, "
              << with_thousands(model::kTrainingFlopsPerSample) << " matmul FLOPs per sample (forward + backward)\n";
    print_table(rows, options->peak_tflops > 0, std::cout);
    if (!options->csv.empty()) {
      write_csv(options->csv, rows, device);
      std::cout << "wrote " << options->csv << "\n";
    }
  });
}

}  // namespace train_gpu::cli

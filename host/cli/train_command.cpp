// `train_gpu [train]`: the tutorial's training run. The default command.
#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include "host/cli/command_line.h"
#include "host/cli/commands.h"
#include "host/cli/options.h"
#include "host/cli/plots.h"
#include "host/cli/resume_settings.h"
#include "host/cli/train_options.h"
#include "host/cli/training_controls.h"
#include "host/cli/validators.h"
#include "host/data/dataset_stats.h"
#include "host/distributed/options_agreement.h"
#include "host/distributed/rank_zero_output.h"
#include "host/distributed/world.h"
#include "host/eval/report_files.h"
#include "host/common/error.h"
#include "host/model/backend_factory.h"
#include "host/model/image_set_check.h"
#include "host/model/keras_json.h"
#include "host/model/spec_line.h"
#include "host/tensorboard/run_hparams.h"
#include "host/tensorboard/tensorboard_log.h"
#include "host/train/algorithm_record.h"
#include "host/train/checkpoint.h"
#include "host/train/progress_bar.h"
#include "host/train/run_config.h"
#include "host/train/run_directory.h"
#include "host/train/run_lock.h"
#include "host/train/stop_signal.h"
#include "host/train/trainer.h"

namespace train_gpu::cli {

namespace {


// label_distribution.csv: the tutorial's train-vs-test label table, for tools/plot.py.
void write_label_distribution(const std::filesystem::path& run_dir, const Dataset& dataset) {
  eval::write_text_file(run_dir / "label_distribution.csv",
                        label_distribution_csv(dataset.train, dataset.test, dataset.train.classes));
}

// A stop signal after the last epoch: the training is complete and checkpointed, but the user
// asked to stop, so the rest of the run's work is skipped and the exit status says so (130/143).
[[noreturn]] void report_stop_after_training(const TrainResult& result, const std::string& when,
                                             const std::string& what_is_left) {
  const int signal_number = StopSignal::received();
  std::cout << "stopped by " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << " " << when
            << ": training is complete (checkpoint " << result.last_checkpoint.string() << ")" << what_is_left << "\n";
  throw CLI::RuntimeError(128 + signal_number);
}

// What every rank of a job must agree on (distributed/options_agreement.h): the resolved
// training as config.json records it (the same build too), the model and the training controls,
// but not where each node keeps the data files (their digests must agree) or its device.
std::string options_every_rank_shares(const TrainOptions& options, const TrainConfig& config, const Dataset& dataset,
                                      const model::NetworkSpec& spec, const DeviceRequest& device) {
  nlohmann::json shared = run_config_json(config, dataset, "", ConvolutionAlgorithms{}, nlohmann::json::object());
  for (nlohmann::json& file : shared["dataset"]["files"]) file.erase("path");
  shared["model"] = model::spec_line(spec);
  shared["run_dir"] = options.run_dir;
  shared["cpu"] = device.cpu;
  add_training_controls_json(options, shared["training"]);
  return shared.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `options` is a copy: a resume fills in what the command line left out from the run's config.json.
// `world`: null for a single process; otherwise this process is one rank of a data-parallel job.
void train_in_world(TrainOptions options, const CLI::App& command, distributed::Collectives* world) {
  // Several ranks: the handlers are in place before the ranks first agree (on their options), so
  // a job that mpirun signals after that stops gracefully on every rank, never by the default action.
  std::optional<StopSignal> stop_signal;
  if (world != nullptr) stop_signal.emplace();
  std::filesystem::path resume_from;
  if (!options.resume.empty()) {
    resume_from = resolve_resume_source(options.resume);
    const std::filesystem::path config_file = run_config_of_checkpoint(resume_from);
    if (!config_file.empty()) apply_run_settings(read_run_config(config_file), config_file, command, options, std::cout);
  }
  resolve_training_controls(command, options);
  TrainConfig config = options.config;
  config.resume_from = resume_from;
  if (!options.run_dir.empty()) {
    config.run_dir = options.run_dir;
  } else if (!config.resume_from.empty() && config.resume_from.parent_path().filename() == "checkpoints") {
    config.run_dir = config.resume_from.parent_path().parent_path();  // continue in the same run directory
  } else {
    config.run_dir = default_run_directory();
  }
  // The ranks' clocks may name different default directories: rank 0's is the job's.
  if (world != nullptr) config.run_dir = world->broadcast_text(config.run_dir.string(), "the run directory");
  // A bar would show rank 0's share of each batch: several ranks print epoch lines only.
  config.progress = !options.no_progress && ProgressBar::stdout_is_terminal() && world == nullptr;
  config.deterministic = options.device.deterministic;

  DeviceRequest device = parse_device(options.device.device);  // a malformed --device fails before anything is read
  if (world != nullptr) device.automatic_gpu = world->local_rank();
  // The data first: the model is built on its image shape (a one-line --model, or the tutorial's
  // layers on other images) and must fit it, before anything is written.
  std::cout << "data:\n";
  const Dataset dataset = load_dataset_from_options(options.data, std::cout);
  const model::Shape data_shape{dataset.test.channels, dataset.test.rows, dataset.test.cols};
  std::optional<Checkpoint> resumed;
  if (!config.resume_from.empty()) resumed = load_checkpoint(config.resume_from);
  // A resume continues the checkpoint's model; a --model given with it must be that one.
  model::NetworkSpec spec = resumed ? resumed->spec : network_from_options(options.model, &data_shape, std::cout);
  if (resumed && command.count("--model") > 0) {
    check_resume_model(*resumed, network_from_options(options.model, &data_shape, std::cout), config.resume_from);
  }
  check_data_fits_model(dataset.test, dataset_description(dataset), model_input_of(spec));
  if (!spec.is_tutorial()) std::cout << "model: " << spec.description() << "\n";

  BackendOptions backend_options =
      backend_options_from(options.device, std::max(config.batch_size, config.test_batch_size));
  backend_options.spec = spec;
  backend_options.optimizer = config.optimizer;
  backend_options.clip_norm = options.clip_norm;
  backend_options.label_smoothing = options.label_smoothing;
  backend_options.seed = config.seed;  // dropout's masks: a resumed run draws the uninterrupted run's
  backend_options.collectives = world;
  if (world != nullptr) {
    distributed::require_same_options(*world, options_every_rank_shares(options, config, dataset, spec, device));
  }
  // The checkpoint's cuDNN algorithms, for the backend to run again.
  if (resumed) backend_options.conv_algorithms = recorded_conv_algorithms(resumed->metadata.extra);
  resumed.reset();  // the Trainer reads it again for the state
  const std::unique_ptr<Backend> backend = make_backend(device, backend_options, std::cerr, "training");
  note_unused_gpu_settings(options.device, *backend, std::cerr);
  std::cout << "device: " << backend->description()
            << (world != nullptr ? ", " + world->rank_phrase() + " (each rank trains on its share of every batch of " +
                                       std::to_string(config.batch_size) + ")"
                                 : std::string())
            << "\n";
  const ConvolutionAlgorithms algorithms = backend->conv_algorithms();
  if (algorithms.chosen()) std::cout << "cudnn: " << describe(algorithms) << "; " << algorithms.how << "\n";

  // Rank 0 writes the job's files; the other ranks write nothing.
  const bool writes_files = world == nullptr || world->rank() == 0;
  if (writes_files) prepare_run_directory(config.run_dir);
  // Before anything in the directory is written (config.json, event files, metrics.csv), and held
  // until the final evaluation and plots are done.
  std::optional<RunLock> run_lock;
  if (writes_files) run_lock.emplace(config.run_dir);
  std::cout << "run directory: " << config.run_dir.string() << "\n";
  std::string config_text;  // config.json's text, for TensorBoard; a resume keeps the run's first one
  if (config.resume_from.empty() && writes_files) {
    nlohmann::json settings = {{"device", options.device.device},
                               {"deterministic", options.device.deterministic},
                               {"threads", options.device.threads},
                               {"tf32", options.device.tf32},
                               {"winograd", options.device.winograd},
                               {"loader", options.device.loader},
                               {"graph", options.device.graph},
                               {"graph_steps", options.device.graph_steps},
                               {"kernels", options.device.kernels},
                               {"pooling", options.device.pooling},
                               {"limit_train", options.data.limit_train},
                               {"limit_test", options.data.limit_test},
                               {"plots", options.plots},
                               {"tensorboard", options.tensorboard},
                               {"tensorboard_every", options.tensorboard_every},
                               {"model", options.model.model}};
    nlohmann::json run_config =
        run_config_json(config, dataset, backend->description(), algorithms, settings);
    add_training_controls_json(options, run_config["training"]);
    // The model itself (what a checkpoint's keras_model holds), and its one-line form.
    run_config["model"] = {{"description", spec.description()},
                           {"parameters", spec.parameter_count},
                           {"buffers", spec.buffer_count},
                           {"line", model::spec_line(spec)},
                           {"keras", nlohmann::json::parse(model::keras_json(spec))}};
    run_config["dataset"]["directory"] = std::filesystem::absolute(data_directory(options.data)).lexically_normal().string();
    run_config["command_line"] = remembered_command_line();
    write_json_file(config.run_dir / "config.json", run_config);
    config_text = run_config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);  // paths need not be UTF-8
  }
  if (writes_files) write_label_distribution(config.run_dir, dataset);
  backend->attach_data(dataset.train, dataset.test);

  std::unique_ptr<tensorboard::TensorBoardLog> board;
  if (options.tensorboard && writes_files) {
    board = std::make_unique<tensorboard::TensorBoardLog>(
        config.run_dir, options.tensorboard_every, config_text,
        tensorboard::run_hparams(config, dataset_kind_name(dataset.kind)), std::cout, backend->network());
  }
  if (!stop_signal) stop_signal.emplace();
  Trainer trainer(*backend, dataset, config, std::cout, board.get(), world);
  const TrainResult result = trainer.run();
  test_stop_point("training-done");
  if (result.stop_signal != 0) throw CLI::RuntimeError(128 + result.stop_signal);
  // The final evaluation is rank 0's, on the weights every rank holds.
  if (!writes_files) return;
  if (!result.last_checkpoint.empty()) std::cout << "last checkpoint: " << result.last_checkpoint.string() << "\n";
  if ((result.epochs_completed == config.epochs || result.stopped_early) && !config.dry_run) {
    // A signal during the last epoch's test pass or save (the trainer finishes a last epoch) skips
    // the evaluation; one during the evaluation, which cannot stop halfway, skips the plots.
    if (StopSignal::received() != 0) {
      report_stop_after_training(result, "after the last epoch",
                                 "; the final evaluation was skipped (train_gpu evaluate --checkpoint " +
                                     result.last_checkpoint.string() + " writes it)");
    }
    test_stop_point("final-evaluation");
    // The final model, evaluated as `train_gpu evaluate` would: confusion, mistakes, feature maps.
    // With the best weights restored (--early-stopping), the final model is the best epoch's.
    const std::filesystem::path final_file = result.restored_best ? result.best_checkpoint : result.last_checkpoint;
    const eval::EvaluatedCheckpoint final_checkpoint{std::filesystem::absolute(final_file).lexically_normal(),
                                                     result.restored_best ? result.best_epoch : result.epochs_completed,
                                                     backend->state().step};
    const eval::EvaluationReport report = eval::evaluate_and_write(
        *backend, dataset, Split::kTest, final_checkpoint, config.run_dir / "evaluation", std::cout, config.test_batch_size);
    if (board) board->add_evaluation(result.epochs_completed, report);
    const std::string evaluated = " and evaluated in " + (config.run_dir / "evaluation").string();
    if (StopSignal::received() != 0) {
      report_stop_after_training(result, "during the final evaluation",
                                 evaluated + (options.plots ? "; the plots were skipped" : ""));
    }
    if (options.plots) run_plot_script(config.run_dir, std::cout);
    if (StopSignal::received() != 0) report_stop_after_training(result, "while drawing the plots", evaluated);
  } else if (StopSignal::received() != 0) {
    report_stop_after_training(result, "after the last epoch", "");  // a --dry-run's single batch
  }
}

// Joins the job when a launcher started several ranks, then trains. A rank that meets an error
// ends the whole job at once (the others may be waiting for it in a collective); a stop signal,
// agreed by all ranks, ends each normally.
void run_training(const TrainOptions& options, const CLI::App& command) {
  const distributed::LaunchPlacement placement = distributed::launch_placement();
  const std::unique_ptr<distributed::Collectives> world = distributed::join_world(placement, options.dist_timeout);
  if (world == nullptr) return train_in_world(options, command, nullptr);
  const distributed::RankZeroOutput output(world->rank() != 0);
  try {
    train_in_world(options, command, world.get());
  } catch (const CLI::Error&) {
    throw;  // a stop's exit status (128 + signal), reached by every rank at the same step
  } catch (const std::exception& error) {
    world->abort_job("train_gpu: error: " + world->rank_phrase() + ": " + error.what());
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand("train", "Train the model (the default command)");
  add_data_options(*command, options->data);
  add_device_options(*command, options->device, DeviceFlags::kTraining);
  add_model_option(*command, options->model);
  TrainConfig& config = options->config;
  command->add_option("--epochs", config.epochs, "Epochs to train")->check(whole_number_at_least(1))->capture_default_str();
  command->add_option("--batch-size", config.batch_size,
                      "Training batch size; launched as several ranks (mpirun/srun), the global batch: each rank trains "
                      "on its share (BatchNormalization's batch statistics are each rank's own)")->check(whole_number_in(1, 65536))->capture_default_str();
  command->add_option("--test-batch-size", config.test_batch_size, "Evaluation batch size")
      ->check(whole_number_in(1, 65536))
      ->capture_default_str();
  command->add_option("--seed", config.seed, "Seed of the initial weights and of every epoch's shuffle")
      ->check(unsigned_64bit_number())
      ->capture_default_str();
  add_training_control_options(*command, *options);
  command->add_option("--run-dir", options->run_dir, "Where config.json, metrics.csv and checkpoints go; one training at a time [default: runs/<timestamp>]");
  command->add_option("--save-every", config.save_every, "Write a checkpoint every N epochs (the last always)")
      ->check(whole_number_at_least(1))
      ->capture_default_str();
  command->add_option("--keep-last", config.keep_last, "Keep only the newest N epoch checkpoints, and no mid-epoch one older than them (0: keep all)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  command->add_option("--resume", options->resume, "Continue from a run directory's newest checkpoint, or from a checkpoint file");
  command->add_flag("--dry-run", config.dry_run, "One training batch and one test batch, to check the setup quickly");
  command->add_flag("--plots", options->plots, "At the end, draw the run's figures into RUN_DIR/plots (needs Python with matplotlib)");
  command->add_flag("--no-progress", options->no_progress, "No live progress bar even on a terminal");
  add_switch(*command, "--tensorboard", "--no-tensorboard", options->tensorboard,
             "Write TensorBoard event files to RUN_DIR/train and RUN_DIR/validation, as Keras's callback does (on by default; --no-tensorboard skips them)");
  command->add_option("--tensorboard-every", options->tensorboard_every,
                      "TensorBoard: the running train loss and accuracy every N steps (0: only per epoch)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  command->add_option("--dist-timeout", options->dist_timeout,
                      "Launched as several ranks (mpirun/srun): seconds a rank waits for the others in one exchange "
                      "before ending the job with an error (a rank died or hangs)")
      ->check(positive_finite())
      ->capture_default_str();
  command->callback([options, command] { run_training(*options, *command); });
}

}  // namespace train_gpu::cli

// What `train` is given on its command line, shared by the command and by the resume that fills
// in what was not given from the run's config.json (resume_settings.h).
#pragma once

#include <cstdint>
#include <string>

#include "host/cli/model_options.h"
#include "host/cli/options.h"
#include "host/distributed/world.h"
#include "host/model/backend.h"
#include "host/train/trainer.h"

namespace train_gpu::cli {

struct TrainOptions {
  DataOptions data;
  DeviceOptions device;
  ModelOptions model;                    // --model
  TrainConfig config;
  std::string optimizer = "adam";        // --optimizer, into config.optimizer.kind
  std::string lr_schedule = "constant";  // --lr-schedule, into config.schedule.kind
  float clip_norm = 0.0f;                // BackendOptions::clip_norm
  float label_smoothing = 0.0f;          // BackendOptions::label_smoothing
  std::string run_dir;
  std::string resume;
  bool no_progress = false;
  bool plots = false;
  bool tensorboard = true;
  int64_t tensorboard_every = 100;
  double dist_timeout = distributed::kDefaultTimeoutSeconds;  // --dist-timeout: seconds a rank waits for the others
};

}  // namespace train_gpu::cli

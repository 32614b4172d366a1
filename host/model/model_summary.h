// The model as Keras's model.summary() shows it.
#pragma once

#include <string>

namespace train_gpu {

std::string model_summary_table();

}  // namespace train_gpu

#include "host/cli/commands.h"

int main(int argc, char** argv) { return train_gpu::cli::run(argc, argv); }

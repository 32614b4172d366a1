# Writes build_info.h with the commit the sources are at NOW, run at every build (the target
# train_gpu_build_info in CMakeLists.txt): a commit read once at configure time goes stale as soon
# as HEAD moves without a re-configure, and a run's config.json, checkpoints and ONNX files would
# then name a commit the binary was not built from. configure_file rewrites the header only when
# its text changes, so an unchanged commit recompiles nothing.
# Inputs: SOURCE_DIR, INPUT (build_info.h.in), OUTPUT, PROJECT_VERSION, CMAKE_BUILD_TYPE.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY "${SOURCE_DIR}"
                OUTPUT_VARIABLE TRAIN_GPU_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT TRAIN_GPU_GIT_COMMIT)
  set(TRAIN_GPU_GIT_COMMIT "unknown")  # a source tarball, or no git
endif()
configure_file("${INPUT}" "${OUTPUT}" @ONLY)

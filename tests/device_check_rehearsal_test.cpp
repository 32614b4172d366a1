// Rehearsals of tools/device-check.sh, so its own logic is proven before GPU time is spent on it.
// Each test builds a fake bundle (a scripted train_gpu and test binaries that report what the
// scenario wants), fake nvidia-smi, compute-sanitizer, ldd and peers script, runs the real script
// against them and reads its summary table: every GPU-side failure it can meet must come out
// FAIL, everything it could not do on that machine N/A, and the exit status must say which. The
// timing scenarios give each fake the duration it is expected to take on a GPU node and run the
// check at DEVICE_CHECK_TIME_SCALE 0.04 (a 540 s check in ~22 s): the budget arithmetic is the
// real one. DEVICE_CHECK_REHEARSAL_SHOW=1 prints each scenario's output. (The real bundle is
// rehearsed by hand with --allow-no-gpu; see README, "On a GPU node".)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kScript = fs::path(TRAIN_GPU_SOURCE_DIR) / "tools" / "device-check.sh";

// A scripted train_gpu: --version, `bench --csv` (a device name full of commas, as on the H200),
// and training runs that write metrics.csv, config.json and safetensors checkpoints whose tensor
// bytes depend only on the epoch (unless FAKE_NONDETERMINISTIC). FAKE_* variables steer it.
const char* const kFakeTrainGpu = R"PY(
import json, os, struct, sys, time
args = sys.argv[1:]
env = os.environ.get
def value(flag, default=None):
    return args[args.index(flag) + 1] if flag in args else default
if "--version" in args:
    print("train_gpu 0.1.0 (commit fake, Release)")
    print("built against CUDA 13.0, cuDNN 9.8.0, cuBLAS 13.0.0")
    print("loaded: CUDA runtime 13.0, cuDNN 9.13.0, cuBLAS 13.1.0, driver supports CUDA 13.0")
    sys.exit(0)
with open(os.path.join(env("FAKE_LOG_DIR"), "train_gpu.calls"), "a") as calls:
    calls.write(" ".join(args) + "\n")
gpu = value("--device") != "cpu"
scale = float(env("DEVICE_CHECK_TIME_SCALE", "1"))
def take(variable, times=1):  # sleeps the scenario's duration for this call, in the check's seconds
    time.sleep(float(env(variable, "0")) * times * scale)
if args[0] == "bench":
    take("FAKE_BENCH_SECONDS")
    if env("FAKE_BENCH_EXIT"):
        print("train_gpu: error: fake bench failure")
        sys.exit(int(env("FAKE_BENCH_EXIT")))
    name = "cuda:0 NVIDIA H200, compute capability 9.0, 132 SMs, 139.8 GiB" if gpu else "cpu (oneDNN 2.6.3 avx512_core sgemm, conv+pool avx512, 2 threads)"
    with open(value("--csv"), "w") as f:
        f.write("device,batch,steps_per_epoch,ms_per_epoch,samples_per_second,achieved_tflops,floor_ms,train_loss,"
                "launch,kernel_set,pooling,kernels_per_step\n")
        launch = '"eager, or graph (8 steps per replay)",classic,fused,21' if gpu else "n/a,,,0"
        for batch, ms in ((64, 812.5), (128, 455.25)):
            f.write(f'"{name}",{batch},{60000 // batch},{ms:.3f},{60e6 / ms:.1f},0.5,4.42,0.1,{launch}\n')
    print(" batch   steps     ms/epoch      samples/s    TFLOP/s   floor ms  train loss")
    sys.exit(0)
take("FAKE_TRAIN_SLEEP")
run = value("--run-dir") or value("--resume")
epochs = int(value("--epochs", "10"))
take("FAKE_START_SECONDS")
take("FAKE_DETERMINISM_SECONDS_PER_EPOCH" if "--deterministic" in args else "FAKE_SECONDS_PER_EPOCH", epochs)
os.makedirs(os.path.join(run, "checkpoints"), exist_ok=True)
metrics = os.path.join(run, "metrics.csv")
done = len(open(metrics).read().splitlines()) - 1 if "--resume" in args else 0
accuracy = float(env("FAKE_TEST_ACCURACY", "0.991"))
with open(metrics, "a" if done else "w") as f:
    if not done:
        f.write("epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second\n")
    for epoch in range(done + 1, epochs + 1):
        f.write(f"{epoch},0.05,0.985,0.04,{accuracy},{0.4 if epoch > 1 else 1.5},150000\n")
        header = json.dumps({"__metadata__": {"x.cudnn.forward_algorithm": "1", "x.cudnn.backward_filter_algorithm": "1"}}).encode()
        data = bytes([epoch]) * 64 + (os.urandom(8) if env("FAKE_NONDETERMINISTIC") else b"")
        with open(os.path.join(run, "checkpoints", f"epoch-{epoch:03d}.safetensors"), "wb") as checkpoint:
            checkpoint.write(struct.pack("<Q", len(header)) + header + data)
        print(f"epoch {epoch}/{epochs}  train loss 0.0500  acc 98.50%  test loss 0.0400  acc {100 * accuracy:.2f}%")
if not done:
    algorithms = {"forward": "IMPLICIT_PRECOMP_GEMM", "forward_id": 1, "backward_filter": "ALGO_1",
                  "backward_filter_id": 1, "how": "benchmarked (cudnnFind)"} if gpu else None
    json.dump({"cudnn_algorithms": algorithms}, open(os.path.join(run, "config.json"), "w"))
sys.exit(int(env("FAKE_TRAIN_EXIT", "0")))
)PY";

// A GoogleTest binary's behaviour: gtest's JSON report and console lines for `suite`'s cases.
// FAKE_<NAME>=pass|fail|skip|crash|hang, NAME the binary's name in capitals.
std::string fake_test_binary(const std::string& variable, const std::string& suite) {
  return R"SH(#!/usr/bin/env bash
out=""
for a in "$@"; do case $a in --gtest_output=json:*) out=${a#--gtest_output=json:} ;; esac; done
mode=${)SH" + variable + R"SH(:-pass}
suite=)SH" + suite + R"SH(
case $mode in
  crash) echo "Segmentation fault"; exit 139 ;;
  hang) exec sleep 1000 ;;
esac
seconds=${)SH" + variable + R"SH(_SECONDS:-0}
sleep "$(awk -v s="$seconds" -v scale="${DEVICE_CHECK_TIME_SCALE:-1}" 'BEGIN { print s * scale }')"
echo "[ RUN      ] $suite.First"
echo "[       OK ] $suite.First (1 ms)"
echo "[ RUN      ] $suite.Second"
second='{"name": "Second", "status": "RUN", "result": "COMPLETED"}'
status=0
if [[ $mode == fail ]]; then
  echo "tests/fake.cpp:12: Failure"
  echo "[  FAILED  ] $suite.Second (2 ms)"
  second='{"name": "Second", "status": "RUN", "result": "COMPLETED", "failures": [{"failure": "tests/fake.cpp:12", "type": ""}]}'
  status=1
elif [[ $mode == skip ]]; then
  echo "tests/gpu/cuda_test_fixture.h:23: Skipped"
  echo "no CUDA device: CUDA driver version is insufficient for CUDA runtime version"
  echo "[  SKIPPED ] $suite.Second (0 ms)"
  second='{"name": "Second", "status": "RUN", "result": "SKIPPED"}'
else
  echo "[       OK ] $suite.Second (3 ms)"
fi
cat > "$out" <<JSON
{"testsuites": [{"name": "$suite", "testsuite": [{"name": "First", "status": "RUN", "result": "COMPLETED"}, $second]}]}
JSON
exit $status
)SH";
}

// compute-sanitizer's summaries, per tool: FAKE_MEMCHECK / FAKE_RACECHECK =
// clean|error|warnings|unsupported|hang. Its arguments go to sanitizer.calls.
const char* const kFakeSanitizer = R"SH(#!/usr/bin/env bash
tool=memcheck
previous=""
for a in "$@"; do [[ $previous == --tool ]] && tool=$a; previous=$a; done
echo "$*" >> "$FAKE_LOG_DIR/sanitizer.calls"
mode=clean
[[ $tool == memcheck ]] && mode=${FAKE_MEMCHECK:-clean}
[[ $tool == racecheck ]] && mode=${FAKE_RACECHECK:-clean}
echo "========= COMPUTE-SANITIZER"
seconds=0
[[ $tool == memcheck ]] && seconds=${FAKE_MEMCHECK_SECONDS:-0}
[[ $tool == racecheck ]] && seconds=${FAKE_RACECHECK_SECONDS:-0}
sleep "$(awk -v s="$seconds" -v scale="${DEVICE_CHECK_TIME_SCALE:-1}" 'BEGIN { print s * scale }')"
case $tool:$mode in
  *:hang) exec sleep 1000 ;;
  *:unsupported) echo "========= Error: Device not supported"; exit 255 ;;
  memcheck:clean) echo "========= ERROR SUMMARY: 0 errors" ;;
  memcheck:error)
    echo "========= Invalid __global__ read of size 4 bytes"
    echo "=========     at train_gpu::cuda::softmax_xent_kernel+0x1f0"
    echo "========= ERROR SUMMARY: 1 error"; exit 99 ;;
  racecheck:clean) echo "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)" ;;
  racecheck:warnings) echo "========= RACECHECK SUMMARY: 3 hazards displayed (0 errors, 3 warnings)" ;;
  racecheck:error)
    echo "========= Error: Race reported between Write access at channel_sum_kernel+0x90"
    echo "========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)"; exit 99 ;;
esac
exit 0
)SH";

// tools/bench/peers.py's outputs: after each engine its CSV (as the real one writes it, so a cut
// run keeps what finished), then the table. FAKE_PEERS=engine:seconds,... (default: two quick ones).
const char* const kFakePeers = R"PY(
import csv, os, sys, time
args = sys.argv[1:]
out = args[args.index("--csv") + 1]
scale = float(os.environ.get("DEVICE_CHECK_TIME_SCALE", "1"))
engines = [e.split(":") for e in os.environ.get("FAKE_PEERS", "train_gpu eager:0,torch-eager:0").split(",")]
rows = []
for name, seconds in engines:
    print(f"== {name}", flush=True)
    time.sleep(float(seconds) * scale)
    rows.append([name, "812.500", "73846.2", "0.9850", "fake"])
    with open(out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["engine", "ms_per_epoch", "samples_per_second", "test_accuracy", "note"])
        writer.writerows(rows)
print()
print("60,000 training images per epoch, batch 64, 3 epoch(s), device cuda")
for row in rows:
    print("  ".join(row))
)PY";

const char* const kFakeNvidiaSmi = R"SH(#!/usr/bin/env bash
echo "NVIDIA H200, 143771 MiB, 580.65.06"
)SH";

// ldd: "not found" for the libraries named in FAKE_LDD_MISSING, otherwise nothing missing.
const char* const kFakeLdd = R"SH(#!/usr/bin/env bash
for library in ${FAKE_LDD_MISSING:-}; do printf '\t%s => not found\n' "$library"; done
printf '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0000000000)\n'
)SH";

struct CheckResult {
  int exit_code = -1;
  std::string out;
  std::map<std::string, std::string> rows;  // stage -> "RESULT detail", from the summary table
  std::vector<std::string> lines;
  double seconds = 0;
  fs::path results;  // the --out folder
};

class DeviceCheckRehearsal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kScript)) GTEST_SKIP() << "no " << kScript << " (the source tree is not here)";
    if (t::run_command_merged("command -v python3 && command -v timeout").exit_code != 0) {
      GTEST_SKIP() << "python3 or timeout not on PATH";
    }
    bundle_ = dir_ / "bundle";
    fs::create_directories(bundle_ / "bin" / "tests");
    fs::create_directories(bundle_ / "lib");
    fs::create_directories(bundle_ / "data" / "mnist");
    // /usr/bin/python3 when there: a version manager's python3 shim costs 0.4 s per start.
    python_ = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "/usr/bin/env python3";
    executable(bundle_ / "bin" / "train_gpu", "#!" + python_ + kFakeTrainGpu);
    // cuda_kernels_test is a GPU suite by name (tests/gpu/ in the source tree); fake_host_test is not.
    executable(bundle_ / "bin" / "tests" / "cuda_kernels_test", fake_test_binary("FAKE_GPU_TESTS", "CudaKernels"));
    executable(bundle_ / "bin" / "tests" / "fake_host_test", fake_test_binary("FAKE_HOST_TESTS", "HostSuite"));
    for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                             "t10k-labels-idx1-ubyte.gz"}) {
      std::ofstream(bundle_ / "data" / "mnist" / name) << "fake";
    }
    std::ofstream(bundle_ / "manifest.env") << "BUNDLE_CREATED='rehearsal'\n";
    fs::create_directories(dir_ / "fakebin");
    executable(dir_ / "fakebin" / "ldd", kFakeLdd);
    executable(dir_ / "fake-nvidia-smi", kFakeNvidiaSmi);
    executable(dir_ / "fake-compute-sanitizer", kFakeSanitizer);
    executable(dir_ / "fake-peers.py", "#!" + python_ + kFakePeers);
    fs::create_directories(dir_ / "libs");
    for (const char* name : {"libcudnn.so.9", "libcublas.so.13", "libcublasLt.so.13"}) std::ofstream(dir_ / "libs" / name);
    fs::create_directories(dir_ / "out");
  }

  static void executable(const fs::path& file, const std::string& text) {
    std::ofstream(file) << text;
    fs::permissions(file, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  }

  // Runs the script against the fakes with `environment` (VAR=value ...) and `arguments`.
  CheckResult check(const std::string& environment, const std::string& arguments = "") {
    // A fresh results folder per run: the script refuses to write into one that holds results.
    const fs::path results = dir_ / ("results-" + std::to_string(++runs_));
    const std::string command =
        "env PATH=" + t::shell_quote((dir_ / "fakebin").string()) + ":\"$PATH\" FAKE_LOG_DIR=" +
        t::shell_quote((dir_ / "out").string()) +
        " DEVICE_CHECK_PEERS=" + t::shell_quote((dir_ / "fake-peers.py").string()) +
        " DEVICE_CHECK_NVIDIA_SMI=" + t::shell_quote((dir_ / "fake-nvidia-smi").string()) +
        " DEVICE_CHECK_SANITIZER=" + t::shell_quote((dir_ / "fake-compute-sanitizer").string()) +
        " DEVICE_LIBRARY_ROOTS=" + t::shell_quote((dir_ / "libs").string()) +
        (python_[0] == '/' && python_.find(' ') == std::string::npos ? " DEVICE_CHECK_PYTHON=" + python_ : "") + " " +
        environment + " bash " +
        t::shell_quote(kScript.string()) + " --out " + t::shell_quote(results.string()) + " " + arguments + " " +
        t::shell_quote(bundle_.string());
    const auto start = std::chrono::steady_clock::now();
    const t::CommandResult run = t::run_command(command, dir_.path());
    // DEVICE_CHECK_REHEARSAL_SHOW=1 prints every scenario's whole output, to read the table.
    if (std::getenv("DEVICE_CHECK_REHEARSAL_SHOW") != nullptr) std::cout << run.out << run.err;
    CheckResult result;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.exit_code = run.exit_code;
    result.out = run.out + run.err;
    result.lines = t::lines_of(run.out);
    result.results = results;
    bool in_table = false;
    for (const std::string& line : result.lines) {
      if (line.rfind("stage ", 0) == 0) in_table = true;
      if (!in_table || line.rfind("stage ", 0) == 0 || line.rfind("device-check:", 0) == 0) continue;
      result.rows[trimmed(line.substr(0, 22))] = line.size() > 23 ? line.substr(23) : "";
    }
    return result;
  }

  static std::string trimmed(std::string text) {
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text.substr(std::min(text.find_first_not_of(' '), text.size()));
  }

  std::string calls(const std::string& name) const {
    return fs::exists(dir_ / "out" / name) ? t::read_text(dir_ / "out" / name) : "";
  }

  t::TempDir dir_;
  fs::path bundle_;
  std::string python_;
  int runs_ = 0;
};

// "FAIL  ..." for the row `stage`, or "(no row)".
std::string row(const CheckResult& result, const std::string& stage) {
  const auto found = result.rows.find(stage);
  return found == result.rows.end() ? "(no row " + stage + ")" : found->second;
}

TEST_F(DeviceCheckRehearsal, AllGoodOnAGpuPassesWithTheSummaryLast) {
  const CheckResult result = check("");
  EXPECT_EQ(result.exit_code, 0) << result.out;
  ASSERT_FALSE(result.lines.empty());
  EXPECT_EQ(result.lines.back(), "device-check: PASSED") << result.out;
  EXPECT_THAT(row(result, "GPU"), HasSubstr("PASS  NVIDIA H200, 143771 MiB, 580.65.06"));
  EXPECT_THAT(row(result, "libraries"), HasSubstr("PASS  all found; LD_LIBRARY_PATH gets " + (dir_ / "libs").string()));
  EXPECT_THAT(row(result, "versions"), HasSubstr("built: CUDA 13.0, cuDNN 9.8.0"));
  EXPECT_THAT(row(result, "versions"), HasSubstr("loaded: CUDA runtime 13.0, cuDNN 9.13.0, cuBLAS 13.1.0"));
  EXPECT_THAT(row(result, "tests CudaKernels"), HasSubstr("PASS  2 passed, 0 failed, 0 skipped"));
  EXPECT_THAT(row(result, "tests host (1 bin)"), HasSubstr("PASS  2 passed, 0 failed, 0 skipped"));
  EXPECT_THAT(row(result, "training"), HasSubstr("PASS  train_gpu --device 0 --epochs 10: exit 0, 10 epochs, test acc 99.10%"));
  EXPECT_THAT(row(result, "training"), HasSubstr("400 ms/epoch (epochs 2+; first 1500 ms)"));
  EXPECT_THAT(row(result, "epoch 10"), HasSubstr("INFO  train acc 98.50%, test acc 99.10%"));
  EXPECT_THAT(row(result, "cuDNN algorithms"),
              HasSubstr("forward IMPLICIT_PRECOMP_GEMM (1), backward-filter ALGO_1 (1); benchmarked (cudnnFind)"));
  EXPECT_THAT(row(result, "determinism"), HasSubstr("PASS  2 fresh runs and a resumed one: identical epoch-2 tensors"));
  EXPECT_THAT(row(result, "determinism"), HasSubstr("; cuDNN forward 1, backward-filter 1"));
  // The device name's commas must not shift the columns: ms/epoch is 812.5, not "139.8 GiB".
  const std::string bench = row(result, "bench classic/fused");
  EXPECT_THAT(bench, HasSubstr("b64 812.5 ms/epoch"));
  EXPECT_THAT(bench, HasSubstr("b128 455.2 ms/epoch"));
  // The launch field, quoted with its comma, and the kernels per step: columns 9 and 12.
  EXPECT_THAT(bench, HasSubstr("floor 4.42 ms, eager, or graph (8 steps per replay), 21 kernels/step)"));
  EXPECT_THAT(bench, HasSubstr("on cuda:0 NVIDIA H200, compute capability 9.0, 132 SMs, 139.8 GiB"));
  for (const char* variant : {"fused/fused", "fused/cudnn", "classic/cudnn"}) {
    EXPECT_THAT(row(result, std::string("bench ") + variant), HasSubstr("INFO  b64 812.5 ms/epoch"));
  }
  EXPECT_THAT(calls("train_gpu.calls"), HasSubstr("--kernels fused --pooling cudnn"));
  EXPECT_THAT(row(result, "peers"), HasSubstr("INFO  2 of 2 engines timed; train_gpu eager 812.5 ms/epoch"));
  EXPECT_THAT(row(result, "training wall"), HasSubstr("INFO"));
  EXPECT_THAT(row(result, "memcheck"), HasSubstr("PASS  0 errors in all kernels"));
  EXPECT_THAT(row(result, "racecheck"), HasSubstr("PASS  0 hazards (0 errors, 0 warnings) in train_gpu kernels"));
  // racecheck instruments only this project's kernels; memcheck all, without API-error noise.
  const std::string sanitizer_calls = calls("sanitizer.calls");
  EXPECT_THAT(sanitizer_calls, HasSubstr("--tool racecheck --error-exitcode 99 --kernel-name kns=train_gpu"));
  EXPECT_THAT(sanitizer_calls, HasSubstr("--tool memcheck --error-exitcode 99 --report-api-errors no"));
  EXPECT_THAT(calls("train_gpu.calls"), HasSubstr("--epochs 2 --resume"));
}

TEST_F(DeviceCheckRehearsal, NoGpuIsExit3UnlessAllowedThenTheRestRunsOnTheCpu) {
  const CheckResult refused = check("DEVICE_CHECK_NVIDIA_SMI=none");
  EXPECT_EQ(refused.exit_code, 3) << refused.out;
  EXPECT_THAT(row(refused, "GPU"), HasSubstr("FAIL  none"));

  const CheckResult allowed = check("DEVICE_CHECK_NVIDIA_SMI=none FAKE_GPU_TESTS=skip", "--allow-no-gpu");
  EXPECT_EQ(allowed.exit_code, 2) << allowed.out;  // nothing failed, some stages could not run
  EXPECT_THAT(allowed.lines.back(), HasSubstr("device-check: INCOMPLETE: nothing failed;"));
  EXPECT_THAT(row(allowed, "GPU"), HasSubstr("N/A"));
  EXPECT_THAT(row(allowed, "tests CudaKernels"), HasSubstr("N/A   1 passed, 0 failed, 1 skipped (skipped: no CUDA device"));
  EXPECT_THAT(row(allowed, "training"), HasSubstr("PASS  train_gpu --device cpu --epochs 1"));
  EXPECT_THAT(row(allowed, "cuDNN algorithms"), HasSubstr("N/A   none (CPU backend)"));
  EXPECT_THAT(row(allowed, "determinism"), HasSubstr("PASS"));
  EXPECT_THAT(row(allowed, "bench classic/fused"), HasSubstr("b64 812.5 ms/epoch"));
  EXPECT_THAT(row(allowed, "bench classic/fused"), HasSubstr("floor 4.42 ms, n/a)"));  // the CPU counts no kernels
  EXPECT_THAT(calls("train_gpu.calls"), HasSubstr("bench --device cpu"));
  EXPECT_THAT(row(allowed, "memcheck"), HasSubstr("N/A   no GPU"));
  EXPECT_THAT(row(allowed, "racecheck"), HasSubstr("N/A   no GPU"));
  EXPECT_EQ(calls("sanitizer.calls"), "");
}

TEST_F(DeviceCheckRehearsal, EveryGpuSideFailureIsReportedAsFailed) {
  const CheckResult result = check(
      "FAKE_GPU_TESTS=fail FAKE_HOST_TESTS=crash FAKE_MEMCHECK=error FAKE_RACECHECK=error "
      "FAKE_LDD_MISSING=libcudnn.so.9 FAKE_TEST_ACCURACY=0.97 FAKE_NONDETERMINISTIC=1 FAKE_BENCH_EXIT=1");
  EXPECT_EQ(result.exit_code, 1) << result.out;
  // 9 stages, and bench once per kernel set and pooling.
  EXPECT_THAT(result.lines.back(), HasSubstr("device-check: FAILED: 13 stage(s) failed"));
  EXPECT_THAT(row(result, "libraries"), HasSubstr("FAIL  not found: libcudnn.so.9"));
  EXPECT_THAT(row(result, "tests CudaKernels"), HasSubstr("FAIL  1 passed, 1 failed, 0 skipped"));
  EXPECT_THAT(row(result, "tests failed"), HasSubstr("FAIL  CudaKernels.Second"));
  EXPECT_THAT(row(result, "tests host (1 bin)"), HasSubstr("FAIL  0 passed, 0 failed, 0 skipped, 1 binaries without"));
  EXPECT_THAT(row(result, "tests broken"), HasSubstr("FAIL  fake_host_test (exit 139, no report)"));
  EXPECT_THAT(row(result, "training"), HasSubstr("FAIL  train_gpu --device 0 --epochs 10: exit 0, 10 epochs, test acc 97.00%"));
  EXPECT_THAT(row(result, "training"), HasSubstr("(needs exit 0, 10 epochs, test acc >= 98.5%)"));
  EXPECT_THAT(row(result, "determinism"), HasSubstr("FAIL  epoch-2 tensors differ"));
  EXPECT_THAT(row(result, "bench fused/cudnn"), HasSubstr("FAIL  exit 1: train_gpu: error: fake bench failure"));
  EXPECT_THAT(row(result, "memcheck"), HasSubstr("FAIL  1 errors in all kernels; exit 99"));
  EXPECT_THAT(row(result, "racecheck"), HasSubstr("FAIL  2 hazards (1 errors, 1 warnings) in train_gpu kernels"));
}

TEST_F(DeviceCheckRehearsal, GpuTestsThatSkipOnAMachineWithAGpuFail) {
  // nvidia-smi sees a GPU but the tests' CUDA runtime does not: a driver/runtime mismatch.
  const CheckResult result = check("FAKE_GPU_TESTS=skip");
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_THAT(row(result, "tests CudaKernels"), HasSubstr("FAIL  1 passed, 0 failed, 1 skipped (skipped: no CUDA device"));
}

TEST_F(DeviceCheckRehearsal, ASanitizerThatRefusesTheDeviceIsNotAFailure) {
  const CheckResult result = check("FAKE_MEMCHECK=unsupported FAKE_RACECHECK=warnings");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_THAT(row(result, "memcheck"), HasSubstr("N/A   the sanitizer could not run here: Error: Device not supported"));
  // Warnings alone (possible hazards) are reported, not failed.
  EXPECT_THAT(row(result, "racecheck"), HasSubstr("PASS  3 hazards (0 errors, 3 warnings) in train_gpu kernels"));
}

TEST_F(DeviceCheckRehearsal, EveryStageIsBoundedInTime) {
  const CheckResult result = check(
      "FAKE_HOST_TESTS=hang FAKE_TRAIN_SLEEP=1000 FAKE_MEMCHECK=hang DEVICE_CHECK_TEST_SECONDS=2 "
      "DEVICE_CHECK_TRAIN_SECONDS=2 DEVICE_CHECK_DETERMINISM_SECONDS=2 DEVICE_CHECK_SANITIZER_SECONDS=2");
  EXPECT_EQ(result.exit_code, 1) << result.out;
  // What is left of the phase's 2 s when the binary starts: 1 or 2 s.
  EXPECT_THAT(row(result, "tests broken"), HasSubstr("FAIL  fake_host_test (timed out after "));
  EXPECT_THAT(row(result, "training"), HasSubstr("FAIL  timed out after 2 s"));
  EXPECT_THAT(row(result, "memcheck"), HasSubstr("N/A   timed out after 2 s (instrumented run too slow here; no verdict)"));
  EXPECT_THAT(row(result, "determinism"), HasSubstr("FAIL  a timed out after "));
  EXPECT_THAT(row(result, "racecheck"), HasSubstr("PASS"));
  EXPECT_LT(result.seconds, 40) << "hung stages must be cut at their caps";
}

TEST_F(DeviceCheckRehearsal, AMissingBundleFailsAndAPackedOneIsUnpacked) {
  const CheckResult missing = check("", "");
  ASSERT_EQ(missing.exit_code, 0) << missing.out;  // sanity: the unpacked bundle passes
  const fs::path packed = bundle_;
  ASSERT_EQ(t::run_command_merged("tar -C " + t::shell_quote(dir_.path().string()) + " -cJf " +
                                  t::shell_quote(packed.string() + ".tar.xz") + " bundle && rm -rf " +
                                  t::shell_quote(packed.string()))
                .exit_code,
            0);
  const CheckResult unpacked = check("");
  EXPECT_EQ(unpacked.exit_code, 0) << unpacked.out;
  EXPECT_THAT(unpacked.out, HasSubstr("unpacking " + packed.string() + ".tar.xz"));
  fs::remove_all(packed);
  fs::remove(packed.string() + ".tar.xz");
  const CheckResult none = check("");
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_THAT(row(none, "bundle"), HasSubstr("FAIL  missing: " + packed.string()));
  EXPECT_THAT(none.out, Not(HasSubstr("tests host")));
}

// The durations a GPU node is expected to take, in the check's seconds. ESTIMATES, not
// measurements (no GPU run has happened yet): the longest GPU suite (cuda_backend_test, with an
// epoch of real MNIST) 90 s; the longest host binary 60 s (this 2-core machine ran every host
// binary of the bundle in under 50 s); 5 s to start train_gpu (CUDA context, MNIST, cuDNN
// set-up), 7 s per MNIST epoch with its test pass, 2 s per 6,400-image epoch of the determinism
// runs; memcheck 110 s and racecheck 80 s on 200 images (instrumented cuDNN and cuBLAS kernels
// are slow); a bench variant 12 s (eager and graph rows: two untimed graph epochs and the timed
// ones); the peers 3 epochs each, torch.compile's compilation the longest. The first GPU run's
// logs should replace them. Test binaries 8 at a time, as on a node with 16 cores.
const char* const kExpectedDurations =
    "DEVICE_CHECK_TIME_SCALE=0.04 DEVICE_CHECK_TEST_JOBS=8 FAKE_GPU_TESTS_SECONDS=90 FAKE_HOST_TESTS_SECONDS=60 FAKE_START_SECONDS=5 "
    "FAKE_SECONDS_PER_EPOCH=7 FAKE_DETERMINISM_SECONDS_PER_EPOCH=2 FAKE_MEMCHECK_SECONDS=110 "
    "FAKE_RACECHECK_SECONDS=80 FAKE_BENCH_SECONDS=12 "
    "FAKE_PEERS='train_gpu eager:12,train_gpu graph:10,train_gpu graph-fused:10,torch-eager:15,torch-graph:10,"
    "jax:20,torch-compile:45'";

// The run seconds the summary header reports: "== device-check summary (DATE, N s of 540; ...".
int summary_seconds(const CheckResult& result) {
  for (const std::string& line : result.lines) {
    const std::size_t at = line.find(" s of ");
    if (line.rfind("== device-check summary (", 0) == 0 && at != std::string::npos) {
      const std::size_t start = line.rfind(' ', at - 1) + 1;
      return std::stoi(line.substr(start, at - start));
    }
  }
  return -1;
}

TEST_F(DeviceCheckRehearsal, TheWholeCheckAtExpectedDurationsFitsTheBudgetSpeedTableIncluded) {
  const CheckResult result = check(kExpectedDurations);
  const int seconds = summary_seconds(result);
  EXPECT_GT(seconds, 300) << "the fakes did not take their durations: " << result.out;
  EXPECT_LE(seconds, 540) << result.out;
  // The phases in the issue's order, each reported.
  std::size_t previous = 0;
  for (const char* phase : {"== device-check: tests", "== device-check: training", "== device-check: determinism",
                            "== device-check: compute-sanitizer --tool memcheck", "== device-check: speed",
                            "-- bench classic/fused --", "-- side by side", "== device-check summary"}) {
    const std::size_t at = result.out.find(phase);
    ASSERT_NE(at, std::string::npos) << phase << " missing:\n" << result.out;
    EXPECT_GE(at, previous) << phase << " out of order";
    previous = at + 1;
  }
  EXPECT_THAT(row(result, "tests CudaKernels"), HasSubstr("PASS"));
  EXPECT_THAT(row(result, "training"), HasSubstr("PASS"));
  EXPECT_THAT(row(result, "determinism"), HasSubstr("PASS"));
  EXPECT_THAT(row(result, "memcheck"), HasSubstr("PASS"));
  EXPECT_THAT(row(result, "racecheck"), HasSubstr("PASS"));
  for (const char* variant : {"classic/fused", "fused/fused", "fused/cudnn", "classic/cudnn"}) {
    EXPECT_THAT(row(result, std::string("bench ") + variant), HasSubstr("INFO  b64")) << variant;
  }
  // At these durations the peers fit (~510 s here), but every process a fake starts costs real
  // milliseconds that the 1/25 scale turns into seconds: on a loaded machine the last peers are
  // cut instead (N/A, exit 2), which is the budget doing its job. Either way the table is there.
  const std::string peers = row(result, "peers");
  if (peers.rfind("INFO", 0) == 0) {
    EXPECT_THAT(peers, HasSubstr("INFO  7 of 7 engines timed"));
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_EQ(result.lines.back(), "device-check: PASSED");
  } else {
    EXPECT_THAT(peers, ::testing::StartsWith("N/A   cut at"));
    EXPECT_EQ(result.exit_code, 2) << result.out;
  }
}

TEST_F(DeviceCheckRehearsal, EveryPhaseAtItsCapStillLeavesTheSpeedPhaseItsShare) {
  // Everything before the speed phase hangs: each phase is cut at its cap (150 + 90 + 60 + 120 s),
  // and the speed phase still gets the rest of the 540 s.
  const CheckResult result = check(std::string(kExpectedDurations) +
                                   " FAKE_GPU_TESTS=hang FAKE_TRAIN_SLEEP=1000 FAKE_MEMCHECK=hang FAKE_RACECHECK=hang");
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_LE(summary_seconds(result), 540) << result.out;
  EXPECT_THAT(row(result, "tests broken"), HasSubstr("FAIL  cuda_kernels_test (timed out after"));
  EXPECT_THAT(row(result, "training"), HasSubstr("FAIL  timed out after 90 s"));
  EXPECT_THAT(row(result, "determinism"), HasSubstr("FAIL  a timed out after"));
  EXPECT_THAT(row(result, "memcheck"), HasSubstr("N/A   timed out after 120 s"));
  EXPECT_THAT(row(result, "racecheck"), HasSubstr("N/A   timed out after 120 s"));
  // The caps add up to 420 s with setup's 30 and the summary's 10 reserved: the speed phase's
  // budget is what is left, at least 80 s (each cut phase may overrun by its 3 s kill grace).
  const std::string marker = "device-bench.sh --budget ";
  const std::size_t at = result.out.find(marker);
  ASSERT_NE(at, std::string::npos) << result.out;
  EXPECT_GE(std::stoi(result.out.substr(at + marker.size())), 80) << result.out;
  // Every bench row and the peers' are there: measured, or cut at their share (N/A).
  for (const char* variant : {"classic/fused", "fused/fused", "fused/cudnn", "classic/cudnn"}) {
    EXPECT_THAT(row(result, std::string("bench ") + variant), ::testing::ContainsRegex("^(INFO  b64|N/A   cut at)"))
        << variant;
  }
  EXPECT_THAT(row(result, "peers"), ::testing::StartsWith("N/A   cut at"));
}

TEST_F(DeviceCheckRehearsal, ARunCutOffFromOutsideLeavesItsResults) {
  // Killed ~8 s in at scale 0.04 (~200 of its seconds): the tests phase (90 s) has ended, the
  // speed phase (~330 s in) has not begun.
  const CheckResult result = check(std::string("timeout 8 env ") + kExpectedDurations);
  EXPECT_EQ(result.exit_code, 124) << result.out;
  ASSERT_TRUE(fs::exists(result.results / "summary.txt")) << result.out;
  const std::string summary = t::read_text(result.results / "summary.txt");
  EXPECT_THAT(summary, HasSubstr("tests CudaKernels"));
  EXPECT_THAT(summary, HasSubstr("PASS  2 passed, 0 failed, 0 skipped"));
  EXPECT_THAT(summary, Not(HasSubstr("peers")));
  EXPECT_TRUE(fs::exists(result.results / "tests" / "cuda_kernels_test.json"));
}

TEST_F(DeviceCheckRehearsal, AResultsFolderThatHoldsResultsIsRefusedUntouched) {
  const fs::path earlier = dir_ / "earlier";
  fs::create_directories(earlier);
  std::ofstream(earlier / "summary.txt") << "an earlier run\n";
  const CheckResult result = check("", "--out " + t::shell_quote(earlier.string()));
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_THAT(result.out, HasSubstr("device-check: --out " + earlier.string() + " exists and is not empty"));
  EXPECT_EQ(t::read_text(earlier / "summary.txt"), "an earlier run\n");
  EXPECT_EQ(calls("train_gpu.calls"), "");
}

}  // namespace
}  // namespace train_gpu

// docker/Dockerfile must build the way the README tells a user to build, so the two cannot drift:
// same dependency script, same preset commands, same tests; and it must stay a well-formed GPU
// image: devel/runtime base images of one CUDA version, a non-root user, tini in front of the
// engine so `docker stop` reaches its checkpoint-on-stop. There is no Docker engine on the
// development machines, so these checks read the files; tools/lint-dockerfile.sh runs hadolint.
// GCC 12 at -O2 reports a false -Wmaybe-uninitialized inside <regex>'s own std::function moves
// (a known GCC 12 false positive, nothing in this file); keep the build log clean of it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::filesystem::path kSourceDir = TRAIN_GPU_SOURCE_DIR;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(const std::string& text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  auto begin = std::find_if_not(text.begin(), text.end(), is_space);
  auto end = std::find_if_not(text.rbegin(), text.rend(), is_space).base();
  return begin < end ? std::string(begin, end) : std::string();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// One Dockerfile instruction with its continuation lines joined, as Docker reads it: comment
// lines (also those inside a continuation) dropped, `\` at a line end joining the next line.
struct Instruction {
  std::string keyword;    // upper case: FROM, RUN, COPY, ...
  std::string arguments;  // the rest, continuation lines joined with a space
  int stage = -1;         // index of the FROM that opened the stage this instruction belongs to
};

std::vector<Instruction> parse_dockerfile(const std::string& text) {
  std::vector<Instruction> instructions;
  int stage = -1;
  std::string pending;
  for (const std::string& raw : lines_of(text)) {
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.back() == '\\') {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    const std::string logical = trim(pending + line);
    pending.clear();
    const size_t space = logical.find_first_of(" \t");
    Instruction instruction;
    instruction.keyword = logical.substr(0, space);
    std::transform(instruction.keyword.begin(), instruction.keyword.end(), instruction.keyword.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    instruction.arguments = space == std::string::npos ? "" : trim(logical.substr(space));
    if (instruction.keyword == "FROM") ++stage;
    instruction.stage = stage;
    instructions.push_back(instruction);
  }
  EXPECT_TRUE(pending.empty()) << "docker/Dockerfile ends inside a `\\` continuation";
  return instructions;
}

// The commands of the first ```sh block under a "## <heading>" of README.md, split at `&&`.
std::vector<std::string> readme_commands(const std::string& readme, const std::string& heading) {
  std::vector<std::string> commands;
  bool in_section = false;
  bool in_block = false;
  std::string joined;
  for (const std::string& line : lines_of(readme)) {
    if (!in_block && starts_with(line, "## ")) {
      if (in_section) break;  // next section: the block was not found
      in_section = trim(line) == "## " + heading;
      continue;
    }
    if (!in_section) continue;
    if (!in_block) {
      in_block = trim(line) == "```sh";
      continue;
    }
    if (trim(line) == "```") break;
    const std::string command_line = trim(line);
    if (command_line.empty() || command_line[0] == '#') continue;
    if (command_line.back() == '\\') {
      joined += command_line.substr(0, command_line.size() - 1) + " ";
      continue;
    }
    joined += command_line;
    size_t begin = 0;
    for (size_t at = joined.find("&&"); ; at = joined.find("&&", begin)) {
      const std::string command = trim(joined.substr(begin, at == std::string::npos ? std::string::npos : at - begin));
      if (!command.empty()) commands.push_back(command);
      if (at == std::string::npos) break;
      begin = at + 2;
    }
    joined.clear();
  }
  return commands;
}

struct DockerfileFixture : ::testing::Test {
  void SetUp() override {
    instructions = parse_dockerfile(read_text(kSourceDir / "docker" / "Dockerfile"));
    for (const Instruction& instruction : instructions) stage_count = std::max(stage_count, instruction.stage + 1);
    ASSERT_GE(stage_count, 2) << "docker/Dockerfile should be multi-stage (build, runtime)";
  }

  std::vector<Instruction> of(const std::string& keyword, int stage) const {
    std::vector<Instruction> found;
    for (const Instruction& instruction : instructions) {
      if (instruction.keyword == keyword && instruction.stage == stage) found.push_back(instruction);
    }
    return found;
  }

  bool stage_runs(int stage, const std::string& command) const {
    for (const Instruction& run : of("RUN", stage)) {
      if (contains(run.arguments, command)) return true;
    }
    return false;
  }

  // FROM's image reference, without "AS name" and without --platform.
  std::string base_image(int stage) const {
    std::istringstream words(of("FROM", stage).at(0).arguments);
    std::string word;
    while (words >> word && starts_with(word, "--")) {
    }
    return word;
  }

  int final_stage() const { return stage_count - 1; }

  std::vector<Instruction> instructions;
  int stage_count = 0;
};

TEST_F(DockerfileFixture, BuildStageRunsTheReadmeBuildCommands) {
  const std::vector<std::string> commands = readme_commands(read_text(kSourceDir / "README.md"), "Build");
  // The README's one-liner is dependency script + configure + build; fewer means the parse lost it.
  ASSERT_GE(commands.size(), 3u) << "no ```sh block with the build commands under \"## Build\" in README.md";
  for (const std::string& command : commands) {
    EXPECT_TRUE(stage_runs(0, command)) << "the README builds with `" << command
                                        << "` but no RUN of docker/Dockerfile's build stage does";
  }
  EXPECT_TRUE(stage_runs(0, "tools/install-deps.sh")) << "dependencies must come from tools/install-deps.sh";
}

TEST_F(DockerfileFixture, BuildStageRunsTheReadmeTestCommand) {
  const std::vector<std::string> commands = readme_commands(read_text(kSourceDir / "README.md"), "Test");
  ASSERT_FALSE(commands.empty()) << "no ```sh block under \"## Test\" in README.md";
  // The job count is the machine's business (-j2 in the README, -j$(nproc) in the image).
  const std::string command = std::regex_replace(commands.front(), std::regex(R"(\s+-j\s*\S*)"), "");
  EXPECT_TRUE(stage_runs(0, command)) << "the README tests with `" << commands.front()
                                      << "`; the image's build stage should run `" << command << "`";
}

TEST_F(DockerfileFixture, BaseImagesArePinnedDevelAndRuntimeOfOneCudaRelease) {
  // nvidia/cuda:<major.minor.patch>-cudnn-<flavor>-ubuntu<version>
  const std::regex tag(R"(nvidia/cuda:(\d+\.\d+\.\d+)-cudnn-(devel|runtime)-(ubuntu\d+\.\d+))");
  std::smatch build_match;
  std::smatch runtime_match;
  const std::string build_image = base_image(0);
  const std::string runtime_image = base_image(final_stage());
  ASSERT_TRUE(std::regex_match(build_image, build_match, tag)) << "build stage FROM " << build_image;
  ASSERT_TRUE(std::regex_match(runtime_image, runtime_match, tag)) << "runtime stage FROM " << runtime_image;
  EXPECT_EQ(build_match[2], "devel");
  EXPECT_EQ(runtime_match[2], "runtime");
  EXPECT_EQ(build_match[1], runtime_match[1]) << "CUDA versions of the build and runtime images differ";
  EXPECT_EQ(build_match[3], runtime_match[3]) << "operating systems of the build and runtime images differ";
  EXPECT_TRUE(starts_with(build_match[1].str(), "13.")) << "the project targets CUDA 13";
}

TEST_F(DockerfileFixture, EntrypointIsExecFormTiniThenTheEngine) {
  const std::vector<Instruction> entrypoints = of("ENTRYPOINT", final_stage());
  ASSERT_EQ(entrypoints.size(), 1u);
  // Exec form is a JSON array; shell form would put /bin/sh in front and swallow SIGTERM.
  const nlohmann::json entrypoint = nlohmann::json::parse(entrypoints[0].arguments, nullptr, false);
  ASSERT_TRUE(entrypoint.is_array()) << "ENTRYPOINT " << entrypoints[0].arguments << " is not exec form";
  const std::vector<std::string> expected = {"/usr/bin/tini", "--", "train_gpu"};
  EXPECT_EQ(entrypoint, nlohmann::json(expected));
  EXPECT_TRUE(stage_runs(final_stage(), " tini ")) << "the runtime stage must install tini";

  const std::vector<Instruction> cmds = of("CMD", final_stage());
  ASSERT_EQ(cmds.size(), 1u);
  const nlohmann::json cmd = nlohmann::json::parse(cmds[0].arguments, nullptr, false);
  ASSERT_TRUE(cmd.is_array()) << "CMD should be exec form (arguments to the ENTRYPOINT)";
  EXPECT_TRUE(contains(cmd.dump(), "\"/data/")) << "the default command should read the /data volume";
}

TEST_F(DockerfileFixture, RuntimeStageRunsAsNonRootWithDataAndRunVolumes) {
  const std::vector<Instruction> users = of("USER", final_stage());
  ASSERT_FALSE(users.empty()) << "the runtime stage must switch to a non-root USER";
  const std::string user = users.back().arguments;
  EXPECT_FALSE(starts_with(user, "root") || starts_with(user, "0")) << "USER " << user;

  bool volumes_declared = false;
  for (const Instruction& volume : of("VOLUME", final_stage())) {
    volumes_declared = volumes_declared || (contains(volume.arguments, "/data") && contains(volume.arguments, "/runs"));
  }
  EXPECT_TRUE(volumes_declared) << "VOLUME should declare /data and /runs";
  // The engine's default run directory is runs/<timestamp> and the tools read data/<dataset>,
  // relative to the working directory: from / they land in the volumes.
  const std::vector<Instruction> workdirs = of("WORKDIR", final_stage());
  ASSERT_FALSE(workdirs.empty());
  EXPECT_EQ(workdirs.back().arguments, "/");
}

TEST_F(DockerfileFixture, ImageVersionLabelFollowsTheCmakeProjectVersion) {
  std::smatch project;
  const std::string cmake = read_text(kSourceDir / "CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(cmake, project, std::regex(R"(project\(train_gpu VERSION (\S+))")));
  bool found = false;
  for (const Instruction& arg : of("ARG", final_stage())) {
    if (starts_with(arg.arguments, "VERSION=")) {
      found = true;
      EXPECT_EQ(arg.arguments, "VERSION=" + project[1].str());
    }
  }
  EXPECT_TRUE(found) << "the runtime stage should have ARG VERSION=<project version> for its OCI label";
  bool labelled = false;
  for (const Instruction& label : of("LABEL", final_stage())) {
    for (const char* key : {"title", "description", "source", "licenses", "version"}) {
      EXPECT_TRUE(contains(label.arguments, std::string("org.opencontainers.image.") + key + "="))
          << "OCI label org.opencontainers.image." << key << " missing";
    }
    labelled = true;
  }
  EXPECT_TRUE(labelled);
}

TEST_F(DockerfileFixture, EveryFileCopiedFromTheSourceTreeExists) {
  // A renamed tool would otherwise only surface when somebody builds the image.
  int checked = 0;
  for (const Instruction& copy : instructions) {
    if (copy.keyword != "COPY") continue;
    std::istringstream words(copy.arguments);
    std::vector<std::string> paths;
    bool from_build_stage = false;
    for (std::string word; words >> word;) {
      if (starts_with(word, "--from=")) from_build_stage = true;
      if (!starts_with(word, "--")) paths.push_back(word);
    }
    paths.pop_back();  // the destination
    for (std::string path : paths) {
      if (path == ".") continue;
      if (from_build_stage) {
        if (!starts_with(path, "/src/") || starts_with(path, "/src/build/")) continue;  // built, not copied
        path = path.substr(5);
      }
      EXPECT_TRUE(std::filesystem::exists(kSourceDir / path)) << "docker/Dockerfile copies " << path
                                                              << ", which the source tree does not have";
      ++checked;
    }
  }
  EXPECT_GE(checked, 4) << "install-deps.sh and the three user tools";
}

TEST_F(DockerfileFixture, ToolsSitWhereTrainGpuLooksAndOnPath) {
  // `train_gpu --plots` runs plot.py from $TRAIN_GPU_TOOLS_DIR; `--entrypoint fetch-data.sh` needs PATH.
  std::string tools_dir;
  std::string path;
  for (const Instruction& env : of("ENV", final_stage())) {
    std::istringstream words(env.arguments);
    for (std::string word; words >> word;) {
      if (starts_with(word, "TRAIN_GPU_TOOLS_DIR=")) tools_dir = word.substr(word.find('=') + 1);
      if (starts_with(word, "PATH=")) path = ":" + word.substr(5) + ":";
    }
  }
  ASSERT_FALSE(tools_dir.empty()) << "the runtime stage should set ENV TRAIN_GPU_TOOLS_DIR";
  EXPECT_TRUE(contains(path, ":" + tools_dir + ":")) << "PATH " << path << " lacks " << tools_dir;
  bool plot_copied_there = false;
  for (const Instruction& copy : of("COPY", final_stage())) {
    const std::string destination = copy.arguments.substr(copy.arguments.rfind(' ') + 1);
    const bool copies_plot = contains(copy.arguments, "tools/plot.py");
    plot_copied_there = plot_copied_there || (copies_plot && starts_with(destination, tools_dir));
  }
  EXPECT_TRUE(plot_copied_there) << "plot.py should be copied into " << tools_dir;
}

TEST(DockerIgnore, KeepsBuildTreesDataRunsAndGitOutOfTheContext) {
  std::vector<std::string> patterns;
  for (const std::string& line : lines_of(read_text(kSourceDir / ".dockerignore"))) {
    const std::string pattern = trim(line);
    if (!pattern.empty() && pattern[0] != '#') patterns.push_back(pattern);
  }
  // A host build/ in the context would carry a CMakeCache.txt naming host paths into the preset build.
  for (const char* required : {"build/", "runs/", "data/", ".git"}) {
    EXPECT_NE(std::find(patterns.begin(), patterns.end(), required), patterns.end())
        << ".dockerignore should list " << required;
  }
}

}  // namespace

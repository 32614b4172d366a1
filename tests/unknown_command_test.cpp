// A first word that is no command (host/cli/unknown_command.h): the edit distance behind the
// guess, when a guess is made, and the one line `train_gpu evalute` answers with through the
// built binary, with the exit code CLI11 gives other unknown arguments.
#include "host/cli/unknown_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu::cli {
namespace {

namespace t = train_gpu::testing;

const std::vector<std::string> kCommands = {"train",    "inspect", "summary", "evaluate",
                                            "features", "bench",   "export",  "predict"};

TEST(UnknownCommand, EditDistanceCountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(edit_distance("evaluate", "evaluate"), 0u);
  EXPECT_EQ(edit_distance("evalute", "evaluate"), 1u);   // a letter left out
  EXPECT_EQ(edit_distance("traain", "train"), 1u);       // one too many
  EXPECT_EQ(edit_distance("trein", "train"), 1u);        // one wrong
  EXPECT_EQ(edit_distance("trian", "train"), 1u);        // two swapped: one edit, not two
  EXPECT_EQ(edit_distance("", "bench"), 5u);
  EXPECT_EQ(edit_distance("bench", ""), 5u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);     // the textbook pair
}

TEST(UnknownCommand, GuessesOnlyWhenClose) {
  EXPECT_EQ(nearest_command("evalute", kCommands), "evaluate");
  EXPECT_EQ(nearest_command("trian", kCommands), "train");
  EXPECT_EQ(nearest_command("exprot", kCommands), "export");
  EXPECT_EQ(nearest_command("featurs", kCommands), "features");
  EXPECT_EQ(nearest_command("predcit", kCommands), "predict");
  EXPECT_EQ(nearest_command("evolute", kCommands), "evaluate");  // two edits, from eight letters
  // Two edits from a five-letter command are too many to be sure of: "bunch" is not a bench.
  EXPECT_EQ(nearest_command("bunce", kCommands), "");
  EXPECT_EQ(nearest_command("frobnicate", kCommands), "");
  EXPECT_EQ(nearest_command("", kCommands), "");
  EXPECT_EQ(nearest_command("x", kCommands), "");
}

TEST(UnknownCommand, MessageGuessesOrListsTheCommands) {
  EXPECT_EQ(unknown_command_message("evalute", kCommands),
            "unknown command 'evalute'; did you mean 'evaluate'? (see train_gpu --help)");
  EXPECT_EQ(unknown_command_message("frobnicate", kCommands),
            "unknown command 'frobnicate'; the commands are train, inspect, summary, evaluate, features, bench, "
            "export, predict (see train_gpu --help)");
}

// Through the binary: one line on stderr, nothing on stdout, CLI11's exit code for an argument it
// does not know (the one `train_gpu --no-such-flag` gets), and no training started.
TEST(UnknownCommand, TheBinaryAnswersInOneLine) {
  t::TempDir scratch;
  const std::string binary = t::shell_quote(TRAIN_GPU_BINARY);
  const t::CommandResult unknown_flag = t::run_command(binary + " --no-such-flag", scratch.path());
  ASSERT_NE(unknown_flag.exit_code, 0) << unknown_flag.err;
  const struct {
    const char* arguments;
    const char* error;
  } cases[] = {
      {"evalute --checkpoint x.safetensors",
       "train_gpu: error: unknown command 'evalute'; did you mean 'evaluate'? (see train_gpu --help)"},
      {"trian --epochs 1", "train_gpu: error: unknown command 'trian'; did you mean 'train'? (see train_gpu --help)"},
      {"frobnicate",
       "train_gpu: error: unknown command 'frobnicate'; the commands are train, inspect, summary, evaluate, features, "
       "bench, export, predict (see train_gpu --help)"},
  };
  for (const auto& c : cases) {
    const t::CommandResult result = t::run_command(binary + " " + c.arguments, scratch.path());
    EXPECT_EQ(result.exit_code, unknown_flag.exit_code) << c.arguments;
    EXPECT_EQ(t::lines_of(result.err), std::vector<std::string>{c.error}) << c.arguments;
    EXPECT_EQ(result.out, "") << c.arguments;
  }
  // Flags alone still mean train, and a real command still runs.
  const t::CommandResult help = t::run_command(binary + " export --help", scratch.path());
  EXPECT_EQ(help.exit_code, 0) << help.err;
  t::expect_contains(help.out, "--checkpoint");
  const t::CommandResult train_flag = t::run_command(binary + " --epochs 0", scratch.path());
  t::expect_contains(train_flag.err, "--epochs: must be a whole number of at least 1, got '0'");
}

}  // namespace
}  // namespace train_gpu::cli

// The one line `train_gpu evalute` answers with. A first word that is neither a command nor a
// flag would otherwise reach the implied `train` as a stray positional, and CLI11 would say "The
// following argument was not expected", which names neither the mistake nor the fix.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace train_gpu::cli {

// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`: the optimal
// string alignment distance, so the common typo "trian" is one edit from "train", not two.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The command `word` was most likely meant to be: the nearest by edit_distance, the first of
// equals, and only when it is close (at most one edit per three letters of the command, at least
// one). "" when none is.
std::string nearest_command(const std::string& word, const std::vector<std::string>& commands);

// "unknown command 'evalute'; did you mean 'evaluate'? (see train_gpu --help)", or without a
// near command, the list of commands in place of the guess.
std::string unknown_command_message(const std::string& word, const std::vector<std::string>& commands);

}  // namespace train_gpu::cli

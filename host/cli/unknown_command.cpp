#include "host/cli/unknown_command.h"

#include <algorithm>

namespace train_gpu::cli {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  // distance[i][j]: edits from a's first i letters to b's first j.
  std::vector<std::vector<std::size_t>> distance(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) distance[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) distance[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      distance[i][j] = std::min({distance[i - 1][j] + 1, distance[i][j - 1] + 1, distance[i - 1][j - 1] + substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        distance[i][j] = std::min(distance[i][j], distance[i - 2][j - 2] + 1);
      }
    }
  }
  return distance[a.size()][b.size()];
}

std::string nearest_command(const std::string& word, const std::vector<std::string>& commands) {
  std::string nearest;
  std::size_t nearest_distance = 0;
  for (const std::string& command : commands) {
    const std::size_t distance = edit_distance(word, command);
    const std::size_t close_enough = std::max<std::size_t>(1, command.size() / 3);
    if (distance <= close_enough && (nearest.empty() || distance < nearest_distance)) {
      nearest = command;
      nearest_distance = distance;
    }
  }
  return nearest;
}

std::string unknown_command_message(const std::string& word, const std::vector<std::string>& commands) {
  std::string message = "unknown command '" + word + "'; ";
  const std::string nearest = nearest_command(word, commands);
  if (!nearest.empty()) {
    message += "did you mean '" + nearest + "'?";
  } else {
    message += "the commands are";
    for (std::size_t i = 0; i < commands.size(); ++i) message += (i == 0 ? " " : ", ") + commands[i];
  }
  return message + " (see train_gpu --help)";
}

}  // namespace train_gpu::cli

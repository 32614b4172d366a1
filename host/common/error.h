// The one exception type of train_gpu. Library code throws it with a message a user can act on
// (what was expected, what was found, what to do); only the CLI catches it and prints one line.
#pragma once

#include <stdexcept>
#include <string>

namespace train_gpu {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace train_gpu

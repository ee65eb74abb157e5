// Runs the spiketime executable the way a user does and captures the result.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace spiketime::testing {

struct CliResult {
  int status;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `spiketime ARGS` with no standard input; stdout and stderr go through files
// in dir. env: NAME=value assignments for the command, if any.
inline CliResult run_cli(const std::string& args, const std::filesystem::path& dir, const std::string& env = "") {
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(SPIKETIME_CLI_PATH) + " " + args + " > " + (dir / "stdout").string() + " 2> " +
                          (dir / "stderr").string() + " < /dev/null";
  const int raw = std::system(cmd.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(dir / "stdout"), slurp(dir / "stderr")};
}

}  // namespace spiketime::testing

#include "io/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>

#include "spiketime/error.hpp"

namespace spiketime::io {
namespace {

// The answer on the pipe: one tag byte, then the payload until the pipe
// closes.
constexpr char kResult = 'R';     // work() returned the payload
constexpr char kInputError = 'E';  // work() threw InputError; the payload is its message
constexpr char kNoMemory = 'M';    // work() ran out of memory
constexpr char kOtherError = 'X';  // another exception; the payload is its message

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// The process's address space now, from /proc/self/statm (pages); 0 if
// unreadable, in which case no limit is set.
std::uint64_t address_space_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  if (!(statm >> pages)) return 0;
  return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

[[noreturn]] void child_main(int fd, const std::function<std::string()>& work, const ChildLimits& limits) {
  // A crash here ends the child by its signal, quietly: the caller's own
  // handlers (Python's faulthandler, a sanitizer's) would report a fault of
  // the caller's process that is not one.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
  if (limits.memory_bytes > 0 && kMemoryLimitApplies) {
    if (const std::uint64_t now = address_space_bytes(); now > 0) {
      const rlimit cap{now + limits.memory_bytes, now + limits.memory_bytes};
      ::setrlimit(RLIMIT_AS, &cap);
    }
  }
  char tag = kOtherError;
  std::string payload;
  try {
    payload = work();
    tag = kResult;
  } catch (const InputError& e) {
    tag = kInputError;
    payload = e.what();
  } catch (const std::bad_alloc&) {
    tag = kNoMemory;
    payload.clear();
  } catch (const std::exception& e) {
    payload = e.what();
  }
  const bool sent = write_all(fd, &tag, 1) && write_all(fd, payload.data(), payload.size());
  ::_exit(sent ? 0 : 3);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "the reading process ended with signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  if (WIFEXITED(status)) {
    return "the reading process exited with status " + std::to_string(WEXITSTATUS(status)) + " without an answer";
  }
  return "the reading process ended without an answer";
}

}  // namespace

std::string run_in_child(const std::function<std::string()>& work, const ChildLimits& limits,
                         const std::string& failure) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw InputError(failure + " (cannot create a pipe: " + std::strerror(errno) + ")");
  }
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw InputError(failure + " (cannot start a child process: " + std::strerror(error) + ")");
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], work, limits);
  }
  ::close(fds[1]);

  // Read the answer until the pipe closes or the time is up.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(limits.seconds);
  std::string answer;
  bool timed_out = false;
  char buffer[1 << 16];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the pipe closed: the child has answered or died
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  if (timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", limits.seconds);
    throw InputError(failure + " (no answer within " + seconds + " s; the reading process was stopped)");
  }
  const bool answered = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !answer.empty();
  if (!answered) throw InputError(failure + " (" + describe_status(status) + ")");
  const std::string payload = answer.substr(1);
  switch (answer[0]) {
    case kResult: return payload;
    case kInputError: throw InputError(payload);
    case kNoMemory:
      throw InputError(failure + " (it needed more than " + std::to_string(limits.memory_bytes >> 20) +
                       " MiB of memory)");
    default: throw InputError(failure + " (" + payload + ")");
  }
}

}  // namespace spiketime::io

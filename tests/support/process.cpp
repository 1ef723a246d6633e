#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <regex>

extern char** environ;

namespace ktrail::testing {
namespace {

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) {
    out.push_back(a.data());
  }
  out.push_back(nullptr);
  return out;
}

void read_all(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

}  // namespace

ServeProcess::~ServeProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(30));
  }
  if (reader_.joinable()) {
    reader_.join();
  }
  if (err_fd_ >= 0) {
    close(err_fd_);
  }
}

bool ServeProcess::start(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return false;
  }
  std::vector<std::string> full = {KTRAIL_BINARY, "serve"};
  full.insert(full.end(), args.begin(), args.end());
  auto argv = argv_of(full);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawn(&pid_, KTRAIL_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    pid_ = -1;
    return false;
  }
  err_fd_ = pipe_fds[0];
  exit_ = std::async(std::launch::async, [pid = pid_] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  });
  // Read stderr until the address line shows, the pipe closes, or the deadline passes.
  const std::regex listening("listening on ([0-9.]+|\\[[0-9a-f:]+\\]):([0-9]+)");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string seen;
  bool found = false;
  while (!found) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    pollfd pfd{err_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buf[4096];
    const ssize_t n = read(err_fd_, buf, sizeof(buf));
    if (n <= 0) {
      break;  // the process exited
    }
    seen.append(buf, static_cast<std::size_t>(n));
    std::smatch m;
    if (std::regex_search(seen, m, listening)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[2].str()));
      found = true;
    }
  }
  {
    std::lock_guard lock(mutex_);
    err_ = seen;
  }
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(err_fd_, buf, sizeof(buf));
      if (n <= 0) {
        return;
      }
      {
        std::lock_guard lock(mutex_);
        err_.append(buf, static_cast<std::size_t>(n));
      }
      err_grew_.notify_all();
    }
  });
  return found;
}

void ServeProcess::signal(int sig) {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, sig);
  }
}

int ServeProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!exit_.valid()) {
    return -1;
  }
  if (exit_.wait_for(timeout) != std::future_status::ready) {
    return -1;
  }
  reaped_ = true;
  return exit_.get();
}

std::string ServeProcess::stderr_text() {
  std::lock_guard lock(mutex_);
  return err_;
}

bool ServeProcess::wait_for_log(const std::string& text, int times,
                                std::chrono::milliseconds timeout) {
  auto count = [&] {
    int n = 0;
    for (auto at = err_.find(text); at != std::string::npos; at = err_.find(text, at + 1)) {
      ++n;
    }
    return n;
  };
  std::unique_lock lock(mutex_);
  return err_grew_.wait_for(lock, timeout, [&] { return count() >= times; });
}

CommandResult run_ktrail(const std::vector<std::string>& args, const std::string& input) {
  CommandResult result;
  int in_fds[2], out_fds[2], err_fds[2];
  if (pipe2(in_fds, O_CLOEXEC) != 0 || pipe2(out_fds, O_CLOEXEC) != 0 ||
      pipe2(err_fds, O_CLOEXEC) != 0) {
    return result;
  }
  std::vector<std::string> full = {KTRAIL_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  auto argv = argv_of(full);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_fds[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fds[1], STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, KTRAIL_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_fds[0]);
  close(out_fds[1]);
  close(err_fds[1]);
  if (rc != 0) {
    close(in_fds[1]);
    close(out_fds[0]);
    close(err_fds[0]);
    return result;
  }
  std::thread writer([fd = in_fds[1], &input] {
    signal(SIGPIPE, SIG_IGN);
    std::size_t off = 0;
    while (off < input.size()) {
      const ssize_t n = write(fd, input.data() + off, input.size() - off);
      if (n <= 0) {
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    close(fd);
  });
  std::thread err_reader([&] { read_all(err_fds[0], &result.err); });
  read_all(out_fds[0], &result.out);
  err_reader.join();
  writer.join();
  close(out_fds[0]);
  close(err_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace ktrail::testing

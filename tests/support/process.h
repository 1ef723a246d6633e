// Runs the real `ktrail` binary from tests: `ktrail serve` in the background (waiting for its
// "listening on" log line, event-driven, with a deadline), and one-shot commands with their
// output captured.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ktrail::testing {

class ServeProcess {
 public:
  ServeProcess() = default;
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Starts `ktrail serve ARGS` and waits until it logs its address (true) or exits or the
  // deadline passes (false; stderr() says why).
  bool start(const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  void signal(int sig);
  // The exit status (as from waitpid) once the process ended, or -1 after the timeout.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string stderr_text();
  // Waits until stderr holds `text` at least `times` times (true), or the deadline passes.
  bool wait_for_log(const std::string& text, int times,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::condition_variable err_grew_;
  std::string err_;
  std::thread reader_;
  std::future<int> exit_;
  bool reaped_ = false;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `ktrail ARGS` to completion; `input` is written to its stdin.
CommandResult run_ktrail(const std::vector<std::string>& args, const std::string& input = "");

}  // namespace ktrail::testing

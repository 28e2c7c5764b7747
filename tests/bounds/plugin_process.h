// The bounds tier's view of the plugin as a process: exit code, output, wall time and the peak
// RSS the kernel accounted to it (wait4), with no shell or wrapper in between to blur the figure.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "util/sanitizers.h"

extern char** environ;

namespace smtpverify::test {

/// One finished plugin run.
struct PluginRun {
  int exit_code = -1;                    ///< 0-3, or 128 + signal
  std::string out;                       ///< everything on stdout
  std::string first_line;                ///< stdout up to the first newline
  std::chrono::milliseconds elapsed{0};  ///< from spawn to exit
  long max_rss_kib = 0;                  ///< ru_maxrss of the plugin process alone
};

/// Runs the plugin at `path` with `args`; stdout is captured, stderr goes to the test's stderr.
inline PluginRun run_plugin_process(const std::string& path, const std::vector<std::string>& args) {
  std::vector<std::string> all = {path};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  PluginRun r;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return r;  // dup2 gives the child a plain stdout
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  posix_spawn_file_actions_addclose(&actions, pipefd[1]);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return r;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  rusage usage{};
  // wait4, not getrusage(RUSAGE_CHILDREN): that is the maximum over every child ever waited
  // for, so one test's figure would hide behind an earlier, larger one.
  ::wait4(pid, &status, 0, &usage);
  r.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.first_line = r.out.substr(0, r.out.find('\n'));
  r.max_rss_kib = usage.ru_maxrss;
  return r;
}

/// True in ASan builds, where RSS includes the shadow memory and says nothing about ours.
using util::kAddressSanitizer;

}  // namespace smtpverify::test

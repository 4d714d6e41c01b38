// Launching the target for `tidemark run`: fork + execvp with a prepared environment, the signals
// the agent watches (SIGCHLD plus the termination signals it forwards) delivered through a
// signalfd, and how the target ended. The child is held between fork and exec until the agent is
// ready to record it (so the trace file can be named after the target's pid), and an exec failure
// ("command not found") comes back to the agent as an errno over a close-on-exec pipe.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exit_status.h"

namespace tidemark::agent {

// Blocks SIGCHLD, SIGINT, SIGTERM, SIGHUP and SIGQUIT and reads them from a signalfd, so the
// agent's poll() loop sees them as ordinary readable events.
class SignalWatch {
public:
    struct Signal {
        int signo = 0;
        int code = 0;        // si_code: SI_USER for kill(), SI_KERNEL for a terminal's ^C
        pid_t sender = 0;
    };

    SignalWatch() = default;
    ~SignalWatch();
    SignalWatch(const SignalWatch&) = delete;
    SignalWatch& operator=(const SignalWatch&) = delete;

    bool open(std::string& error);
    int fd() const { return fd_; }
    std::vector<Signal> read_pending();

private:
    int fd_ = -1;
};

struct LaunchSpec {
    std::vector<std::string> argv;                           // argv[0] is looked up in PATH
    std::vector<std::pair<std::string, std::string>> set_env;  // added or replaced
    std::vector<std::string> unset_env;
};

class ChildProcess {
public:
    ChildProcess() = default;
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Forks the target; it waits before exec until release() or abandon().
    bool spawn(const LaunchSpec& spec, std::string& error);
    pid_t pid() const { return pid_; }

    // Lets the child exec. Returns false (with a message saying what to do) when exec failed;
    // exit_code then says what a shell would report (127 command not found, 126 otherwise).
    bool release(std::string& error, int& exit_code);
    // Kills a child that was never released and reaps it.
    void abandon();

    // Non-blocking reap; returns the exit status once the child has ended.
    std::optional<ExitStatus> try_wait();
    bool exited() const { return exited_; }

    // Sends sig to the child (not to the agent's own process group).
    void forward(int sig) const;

private:
    pid_t pid_ = -1;
    int go_write_fd_ = -1;    // the child execs once this is written to or closed
    int exec_err_fd_ = -1;    // EOF = exec succeeded; 4 bytes = errno of a failed exec
    bool exited_ = false;
    std::string program_;
};

}  // namespace tidemark::agent

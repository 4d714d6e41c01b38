// BackgroundProcess: a program the test starts and keeps running while it does other things
// (an agent, a service, a load client), its stdout and stderr collected without blocking.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace tidemark::test {


// A program (argv[0], looked up as given) running in its own process group, with its output
// collected while the test does other things. The destructor kills the group: nothing is left
// behind even when a check fails.
class BackgroundProcess {
public:
    static double now_s() {
        using namespace std::chrono;
        return duration<double>(steady_clock::now().time_since_epoch()).count();
    }

    explicit BackgroundProcess(const std::vector<std::string>& args) {
        int out_pipe[2], err_pipe[2];
        if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::runtime_error("pipe");
        std::vector<std::string> argv = args;
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            setpgid(0, 0);
            dup2(out_pipe[1], 1);
            dup2(err_pipe[1], 2);
            execvp(cargv[0], cargv.data());
            _exit(127);
        }
        setpgid(pid_, pid_);
        close(out_pipe[1]);
        close(err_pipe[1]);
        out_fd_ = out_pipe[0];
        err_fd_ = err_pipe[0];
        started_ = now_s();
    }
    ~BackgroundProcess() {
        if (pid_ > 0) {
            kill(-pid_, SIGKILL);
            if (!exited_) waitpid(pid_, nullptr, 0);
        }
        if (out_fd_ >= 0) close(out_fd_);
        if (err_fd_ >= 0) close(err_fd_);
    }
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    pid_t pid() const { return pid_; }
    double seconds() const { return now_s() - started_; }
    const std::string& err() const { return err_; }
    const std::string& out() const { return out_; }

    // Reads what is available (waiting at most ms) and notices the exit.
    void pump(int ms) {
        pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
        poll(fds, 2, ms);
        char buf[65536];
        for (int i = 0; i < 2; ++i) {
            for (;;) {
                const ssize_t n = read(fds[i].fd, buf, sizeof buf);
                if (n <= 0) break;
                std::string& dst = i == 0 ? out_ : err_;
                if (dst.size() < (16u << 20)) dst.append(buf, static_cast<size_t>(n));
            }
        }
        if (!exited_) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
        }
    }
    bool wait_for_out(const std::string& text, double timeout_s) {
        const double until = seconds() + timeout_s;
        while (out_.find(text) == std::string::npos) {
            if (seconds() > until || exited_) return out_.find(text) != std::string::npos;
            pump(50);
        }
        return true;
    }
    bool wait_for_err(const std::string& text, double timeout_s) {
        const double until = seconds() + timeout_s;
        while (err_.find(text) == std::string::npos) {
            if (seconds() > until || exited_) return err_.find(text) != std::string::npos;
            pump(50);
        }
        return true;
    }
    // The exit code, or -1 on timeout.
    int wait_exit(double timeout_s) {
        const double until = seconds() + timeout_s;
        while (!exited_ && seconds() < until) pump(50);
        if (exited_) pump(0);  // the last output
        return exited_ ? exit_code_ : -1;
    }
    void sleep_until(double t_s) {
        while (seconds() < t_s) pump(static_cast<int>(std::max(1.0, (t_s - seconds()) * 1000)));
    }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    double started_ = 0;
    std::string out_, err_;
    bool exited_ = false;
    int exit_code_ = -1;
};

}  // namespace tidemark::test

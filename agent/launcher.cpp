// fork + exec of the target with its environment, signal watching and reaping (see launcher.h).
#include "launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

extern char** environ;

namespace tidemark::agent {

namespace {

constexpr int kWatchedSignals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT};

sigset_t watched_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kWatchedSignals) sigaddset(&set, s);
    return set;
}

// The mask the agent started with; the child gets it back before exec.
sigset_t g_original_mask;
bool g_mask_saved = false;

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

// ---- SignalWatch ---------------------------------------------------------------------------

SignalWatch::~SignalWatch() { close_fd(fd_); }

bool SignalWatch::open(std::string& error) {
    sigset_t set = watched_set();
    sigset_t old;
    if (sigprocmask(SIG_BLOCK, &set, &old) != 0) {
        error = std::string("cannot block signals: ") + std::strerror(errno);
        return false;
    }
    if (!g_mask_saved) {
        g_original_mask = old;
        g_mask_saved = true;
    }
    fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) {
        error = std::string("cannot create a signalfd: ") + std::strerror(errno);
        return false;
    }
    return true;
}

std::vector<SignalWatch::Signal> SignalWatch::read_pending() {
    std::vector<Signal> out;
    signalfd_siginfo info;
    while (fd_ >= 0) {
        const ssize_t n = ::read(fd_, &info, sizeof info);
        if (n != static_cast<ssize_t>(sizeof info)) break;
        out.push_back({static_cast<int>(info.ssi_signo), info.ssi_code, static_cast<pid_t>(info.ssi_pid)});
    }
    return out;
}

// ---- ExitStatus ----------------------------------------------------------------------------

// ---- ChildProcess --------------------------------------------------------------------------

ChildProcess::~ChildProcess() {
    close_fd(go_write_fd_);
    close_fd(exec_err_fd_);
}

bool ChildProcess::spawn(const LaunchSpec& spec, std::string& error) {
    if (spec.argv.empty()) {
        error = "no command to run: put it after `--`, e.g. `tidemark run -- node app.js`";
        return false;
    }
    program_ = spec.argv[0];

    // Everything the child needs is built before fork: after it only async-signal-safe calls run.
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (!eq) continue;
        env[std::string(*e, static_cast<size_t>(eq - *e))] = std::string(eq + 1);
    }
    for (const auto& name : spec.unset_env) env.erase(name);
    for (const auto& [name, value] : spec.set_env) env[name] = value;
    std::vector<std::string> env_strings;
    env_strings.reserve(env.size());
    for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = spec.argv;
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    int go[2];
    int err[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
        error = std::string("cannot create a pipe: ") + std::strerror(errno);
        return false;
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
        error = std::string("cannot create a pipe: ") + std::strerror(errno);
        ::close(go[0]);
        ::close(go[1]);
        return false;
    }

    const pid_t pid = fork();
    if (pid < 0) {
        error = std::string("cannot fork: ") + std::strerror(errno) + " (too many processes?)";
        for (int fd : {go[0], go[1], err[0], err[1]}) ::close(fd);
        return false;
    }
    if (pid == 0) {
        ::close(go[1]);
        ::close(err[0]);
        ::signal(SIGPIPE, SIG_DFL);  // the agent ignores it; the target must not inherit that
        if (g_mask_saved) {
            sigprocmask(SIG_SETMASK, &g_original_mask, nullptr);
        } else {
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
        }
        char go_byte = 0;
        ssize_t n;
        do {
            n = ::read(go[0], &go_byte, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(126);  // the agent gave up before we started
        environ = envp.data();
        execvp(argv[0], argv.data());
        const int e = errno;
        [[maybe_unused]] ssize_t w = ::write(err[1], &e, sizeof e);
        _exit(127);
    }
    ::close(go[0]);
    ::close(err[1]);
    pid_ = pid;
    go_write_fd_ = go[1];
    exec_err_fd_ = err[0];
    return true;
}

bool ChildProcess::release(std::string& error, int& exit_code) {
    const char go_byte = 1;
    ssize_t n;
    do {
        n = ::write(go_write_fd_, &go_byte, 1);
    } while (n < 0 && errno == EINTR);
    close_fd(go_write_fd_);
    int child_errno = 0;
    size_t got = 0;
    while (got < sizeof child_errno) {
        const ssize_t r = ::read(exec_err_fd_, reinterpret_cast<char*>(&child_errno) + got,
                                 sizeof child_errno - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<size_t>(r);
    }
    close_fd(exec_err_fd_);
    if (got == 0) return true;  // exec closed the pipe: the target is running
    exit_code = child_errno == ENOENT ? 127 : 126;
    if (child_errno == ENOENT) {
        error = "cannot run `" + program_ + "`: command not found; check the name and your PATH";
    } else if (child_errno == EACCES) {
        error = "cannot run `" + program_ + "`: permission denied; is it an executable file?";
    } else {
        error = "cannot run `" + program_ + "`: " + std::strerror(child_errno);
    }
    return false;
}

void ChildProcess::abandon() {
    if (pid_ <= 0 || exited_) return;
    close_fd(go_write_fd_);  // the child sees EOF and exits without exec
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    exited_ = true;
}

std::optional<ExitStatus> ChildProcess::try_wait() {
    if (pid_ <= 0 || exited_) return std::nullopt;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return std::nullopt;
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) return std::nullopt;  // stopped/continued
    exited_ = true;
    return ExitStatus::from_wait_status(status);
}

void ChildProcess::forward(int sig) const {
    if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

}  // namespace tidemark::agent

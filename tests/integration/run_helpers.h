// Helpers for the `tidemark run` integration tests: spawn the real `tidemark` binary (TIDEMARK_BIN)
// with arguments, capture stdout/stderr/exit status under a timeout (the whole process group is
// killed when it passes), react while it runs (send signals when the target prints something),
// and read a trace back through `tidemark report --format json`.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// GCC 12 reports false -Wnull-dereference warnings inside nlohmann/json's header; silenced for
// that header alone.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <nlohmann/json.hpp>
#pragma GCC diagnostic pop

namespace tidemark::test {

inline std::string fixture(const std::string& name) {
    return std::string(TIDEMARK_FIXTURES) + "/run/" + name;
}

struct ProcessResult {
    int exit_code = -1;    // exit status, or 128 + signal as a shell reports it
    bool timed_out = false;
    std::string out;
    std::string err;
    double elapsed_s = 0;
};

struct SpawnOptions {
    double timeout_s = 30;
    std::string cwd;  // "" = inherit
    std::vector<std::pair<std::string, std::string>> env;  // added to the environment
    // Called whenever output arrives (and every 100 ms): (tidemark's pid, stdout so far, seconds
    // since start). Lets a test signal the agent or the target at the right moment.
    std::function<void(pid_t, const std::string&, double)> on_progress;
};

// Runs argv (argv[0] is the program) in its own process group and collects its output.
inline ProcessResult spawn_and_wait(const std::vector<std::string>& argv, const SpawnOptions& opt = {}) {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        if (!opt.cwd.empty() && chdir(opt.cwd.c_str()) != 0) _exit(125);
        for (const auto& [k, v] : opt.env) setenv(k.c_str(), v.c_str(), 1);
        execv(cargv[0], cargv.data());
        _exit(127);
    }
    setpgid(pid, pid);
    close(out_pipe[1]);
    close(err_pipe[1]);
    ProcessResult r;
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    bool out_open = true, err_open = true;
    char buf[65536];
    while (out_open || err_open) {
        if (seconds() > opt.timeout_s) {
            r.timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0}, {err_open ? err_pipe[0] : -1, POLLIN, 0}};
        poll(fds, 2, 100);
        for (int i = 0; i < 2; ++i) {
            if (!fds[i].revents) continue;
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            // Bounded: a runaway target cannot fill the test's memory.
            std::string& dst = i == 0 ? r.out : r.err;
            if (dst.size() < (64u << 20)) dst.append(buf, static_cast<size_t>(n));
        }
        if (opt.on_progress) opt.on_progress(pid, r.out, seconds());
    }
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = 0;
    if (r.timed_out) {
        waitpid(pid, &status, 0);
    } else {
        // Output closed; the process should end promptly. Bound the wait anyway.
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (seconds() > opt.timeout_s) {
                r.timed_out = true;
                kill(-pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            usleep(10000);
        }
    }
    kill(-pid, SIGKILL);  // leftovers in the group (none expected)
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.elapsed_s = seconds();
    return r;
}

// Runs `tidemark ARGS…`. Unqualified calls would be ambiguous with namespace ::tidemark, so call
// it as tidemark::test::tidemark(…) or through run_cli(…).
inline ProcessResult tidemark(const std::vector<std::string>& args, const SpawnOptions& opt = {}) {
    std::vector<std::string> argv{TIDEMARK_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return spawn_and_wait(argv, opt);
}
inline ProcessResult run_cli(const std::vector<std::string>& args, const SpawnOptions& opt = {}) {
    return tidemark(args, opt);
}
// The same under the name some test files use. A template so that a file defining its own
// non-template run_tidemark wrapper still compiles (the non-template wins overload resolution).
template <typename = void>
ProcessResult run_tidemark(const std::vector<std::string>& args, const SpawnOptions& opt = {}) {
    return tidemark(args, opt);
}

// A fresh directory for one test's traces, removed afterwards.
class TempDir {
public:
    TempDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "tidemark-it-XXXXXX").string();
        if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp");
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// `tidemark report --format json TRACE`, parsed. Fails the calling test if the report fails.
inline nlohmann::json report_json(const std::string& trace, ProcessResult* raw = nullptr) {
    ProcessResult r = run_cli({"report", trace, "--format", "json"});
    if (raw) *raw = r;
    if (r.exit_code != 0) throw std::runtime_error("tidemark report failed (" + std::to_string(r.exit_code) + "): " + r.err);
    return nlohmann::json::parse(r.out);
}

// 1-based number of the first line of a fixture containing text (0 when absent).
inline int line_of(const std::string& file, const std::string& text) {
    std::ifstream in(file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(text) != std::string::npos) return n;
    return 0;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The streams of a report whose type is `type`.
inline std::vector<nlohmann::json> streams_of_type(const nlohmann::json& report, const std::string& type) {
    std::vector<nlohmann::json> out;
    for (const auto& s : report.at("streams"))
        if (s.value("type", "") == type) out.push_back(s);
    return out;
}

// Every stream of `type` the report accounts for: each individually tracked one (from `streams`)
// and each short-lived one folded into `stream_aggregates` (an aggregate of count N with T tracked
// stands for N - T entries, each carrying the aggregate's type and created_at).
inline std::vector<nlohmann::json> streams_seen(const nlohmann::json& report, const std::string& type) {
    std::vector<nlohmann::json> out = streams_of_type(report, type);
    for (const auto& a : report.at("stream_aggregates")) {
        if (a.value("type", "") != type) continue;
        const int64_t folded = a.value("count", int64_t{0}) - a.value("tracked", int64_t{0});
        for (int64_t i = 0; i < folded && i < 10000; ++i) out.push_back(a);
    }
    return out;
}

inline std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace tidemark::test

// The `tidemark run` event loop (see run_session.h). Single-threaded: one poll() over the signalfd,
// the listening socket, every tracker connection and (with --live) the relay's listener and
// viewers, with timers for trace flushing (so a SIGKILL of the target or of the agent leaves a
// readable trace) and for live detection.
#include "run_session.h"

#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <system_error>

#include "attach_target.h"
#include "listener.h"
#include "live_relay.h"
#include "live_findings.h"
#include "tidemark/model/trace/writer.h"
#include "tidemark/model/detect/analysis.h"
#include "recorder.h"

namespace tidemark::agent {

namespace {

constexpr int64_t kFlushTickUs = 250'000;       // trace reaches the disk at least this often
constexpr int64_t kDetectTickUs = 500'000;      // live findings are refreshed this often
constexpr int64_t kDrainAfterExitUs = 1'000'000; // how long connections may finish after the target
constexpr size_t kMaxConnections = 1024;       // one per tracked process and per worker thread
constexpr size_t kReadBudgetBytes = 1 << 20;    // per connection per loop turn, for fairness
constexpr int kLiveFinishMs = 2000;             // viewers get this long to take the final bytes

uint64_t wall_us() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

int64_t mono_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string join_command(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        if (!s.empty()) s += ' ';
        s += a;
    }
    return s;
}

struct Connection {
    int fd = -1;
    ConnectionId id = 0;
    FrameReader frames{proto::kMaxRecordBytes};
};

// Owns the loop state; one instance per run.
class Session {
public:
    Session(const SessionConfig& config, model::Analysis& analysis, std::ostream& err)
        : config_(config), analysis_(analysis), timeline_(analysis.timeline()), err_(err),
          recorder_([this](const proto::Record& r) { record(r); }) {}

    SessionOutcome run();

private:
    void record(const proto::Record& r);
    void accept_connections();
    void service(Connection& c, bool& keep);
    void handle_signals();
    void warn_write_failure(const model::Status& s);
    void note_coarsenings();

    const SessionConfig& config_;
    model::Analysis& analysis_;
    model::Timeline& timeline_;
    size_t coarsenings_noted_ = 0;
    bool ticked_ = false;  // a detection tick ran since the findings were last printed
    std::ostream& err_;
    Recorder recorder_;
    Listener listener_;
    LiveRelay relay_;
    SignalWatch signals_;
    ChildProcess child_;
    std::unique_ptr<model::TraceWriter> writer_;
    bool write_failed_ = false;
    LiveFindings live_;
    std::vector<std::unique_ptr<Connection>> conns_;
    std::optional<ExitStatus> exit_;
    uint64_t exit_wall_us_ = 0;
    int64_t drain_deadline_ = 0;
    bool refused_noted_ = false;
    bool shed_noted_ = false;
    bool attaching_ = false;      // tidemark attach: no child; ends on a signal, the duration or the target's end
    bool stop_ = false;           // attach: a termination signal arrived
};

void Session::record(const proto::Record& r) {
    if (analysis_.apply(r)) ticked_ = true;
    if (writer_ && !write_failed_)
        if (auto s = writer_->append(r); !s.ok()) warn_write_failure(s);
}

// The live timeline coarsened under its memory budget: the trace and the user hear of it. Called
// from the loop, not from record(): a note is itself a record.
void Session::note_coarsenings() {
    const auto& coarsenings = timeline_.coarsenings();
    while (coarsenings_noted_ < coarsenings.size()) {
        const model::Coarsening& c = coarsenings[coarsenings_noted_++];
        char text[200];
        std::snprintf(text, sizeof text,
                      "agent: live memory budget reached at t=%.1f s; the live history is coarsened to at most "
                      "%zu points per stream", c.t_s, c.max_points);
        err_ << "tidemark: " << text << "\n";
        recorder_.note(text, wall_us());
    }
}

void Session::warn_write_failure(const model::Status& s) {
    if (write_failed_) return;
    write_failed_ = true;
    err_ << "tidemark: cannot write the trace " << writer_->path() << ": " << s.message()
         << "\n  recording continues for the live findings only; free disk space or choose "
            "another --out next time\n";
}

void Session::accept_connections() {
    for (;;) {
        const size_t shed_before = listener_.shed_connections();
        const int fd = listener_.accept_one();
        if (listener_.shed_connections() != shed_before && !shed_noted_) {
            shed_noted_ = true;
            const std::string msg = "the agent ran out of file descriptors; a tracked process could not "
                                    "be recorded (raise `ulimit -n` for tidemark)";
            recorder_.note(msg, wall_us());
            err_ << "tidemark: " << msg << "\n";
        }
        if (fd < 0) return;
        if (conns_.size() >= kMaxConnections) {
            ::close(fd);
            if (!refused_noted_) {
                refused_noted_ = true;
                recorder_.note("more than " + std::to_string(kMaxConnections) +
                               " tracker connections (processes and worker threads) at once; further "
                               "ones were not recorded", wall_us());
            }
            continue;
        }
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        c->id = recorder_.open_connection();
        conns_.push_back(std::move(c));
    }
}

void Session::service(Connection& c, bool& keep) {
    std::string reason;
    const uint64_t now = wall_us();
    auto on_record = [&](const uint8_t* p, size_t n) { return recorder_.on_record(c.id, p, n, now, reason); };
    std::string frame_error;
    const auto status = c.frames.pump(c.fd, kReadBudgetBytes, on_record, frame_error);
    if (status == FrameReader::Status::Open) return;
    keep = false;
    if (status == FrameReader::Status::Malformed) {
        if (reason.empty()) reason = "malformed framing: " + frame_error;
        recorder_.close_connection(c.id, reason + "; its later data is missing from the trace", wall_us());
    } else {
        if (c.frames.pending_bytes() > 0)
            recorder_.note(recorder_.describe(c.id) + " closed its connection in the middle of a record (" +
                               std::to_string(c.frames.pending_bytes()) + " bytes lost)", wall_us());
        recorder_.close_connection(c.id, "", wall_us());
    }
    ::close(c.fd);
    c.fd = -1;
}

void Session::handle_signals() {
    for (const auto& s : signals_.read_pending()) {
        if (s.signo == SIGCHLD) continue;  // reaped below
        if (attaching_) {  // ends the attach; the target is not ours to signal
            stop_ = true;
            continue;
        }
        // A terminal's ^C (SI_KERNEL) already reached the target, which shares our process group;
        // signals sent with kill() reached only us and are passed on.
        if (s.code == SI_KERNEL) continue;
        child_.forward(s.signo);
    }
    if (!exit_ && !attaching_) {
        if (auto st = child_.try_wait()) {
            exit_ = st;
            exit_wall_us_ = wall_us();
            drain_deadline_ = mono_us() + kDrainAfterExitUs;
            accept_connections();  // ones that connected just before the end are still read
            listener_.close();     // nothing new may connect once the target is gone
        }
    }
}

SessionOutcome Session::run() {
    SessionOutcome out;
    out.agent_exit_code = 2;
    std::string error;
    if (!signals_.open(error) || !listener_.open(error)) {
        err_ << "tidemark: " << error << "\n";
        return out;
    }
    if (!config_.live_addr.empty()) {
        LiveAddress addr;
        if (!parse_live_address(config_.live_addr, addr, error) || !relay_.open(addr, error)) {
            err_ << "tidemark: --live: " << error << "\n";
            return out;
        }
        err_ << "tidemark: live on " << relay_.address() << std::endl;
    }

    attaching_ = config_.attach_pid > 0;
    LaunchSpec spec;
    spec.argv = config_.command;
    spec.set_env = {
        {"TIDEMARK_SOCKET", listener_.path()},
        {"TIDEMARK_INTERVAL_MS", std::to_string(config_.interval_ms)},
        {"TIDEMARK_FOLLOW_CHILDREN", config_.follow_children ? "1" : "0"},
        {"TIDEMARK_GC_PROBE", config_.gc_probe ? "1" : "0"},
        {"NODE_OPTIONS", node_options_with_preload(
                             [] { const char* v = std::getenv("NODE_OPTIONS"); return v ? v : ""; }(),
                             config_.preload_path) +
                             // Under --native a node target writes /tmp/perf-PID.map, so the
                             // agent names the JS functions on native stacks (interpreted ones
                             // too: each gets its own trampoline copy).
                             (config_.native_mode != "off" ? " --perf-basic-prof --interpreted-frames-native-stack" : "")},
    };
    spec.unset_env = {"TIDEMARK_CLAIMED_PID", "TIDEMARK_NATIVE_CLAIMED_PID"};  // an outer tidemark's claim must not silence ours
    if (config_.native_mode != "off") {
        // The native tracker (tracker/native) is preloaded into the command and, through the
        // environment, into what it execs (its claim rule decides which process is tracked).
        spec.set_env.push_back({"LD_PRELOAD", ld_preload_with(
                                                  [] { const char* v = std::getenv("LD_PRELOAD"); return v ? v : ""; }(),
                                                  config_.native_lib_path)});
        spec.set_env.push_back({"TIDEMARK_NATIVE", config_.native_mode});
        spec.set_env.push_back({"TIDEMARK_NATIVE_SAMPLE_INTERVAL", std::to_string(config_.native_sample_interval_bytes)});
    } else {
        spec.unset_env.push_back("TIDEMARK_NATIVE");
    }
    if (!attaching_ && !child_.spawn(spec, error)) {
        err_ << "tidemark: " << error << "\n";
        return out;
    }
    const pid_t target = attaching_ ? config_.attach_pid : child_.pid();

    out.trace_path = config_.out_path.empty()
                         ? "tidemark-" + std::to_string(target) + ".tidemark"
                         : config_.out_path;
    const uint64_t start_us = wall_us();
    auto created = model::TraceWriter::create(out.trace_path, start_us);
    if (!created.status.ok()) {
        if (!attaching_) child_.abandon();
        err_ << "tidemark: cannot create the trace file " << out.trace_path << ": "
             << created.status.message() << "\n  choose a writable location with --out FILE; "
             << (attaching_ ? "nothing was attached\n" : "the command was not run\n");
        return out;
    }
    writer_ = std::move(created.writer);
    if (relay_.is_open() && !relay_.attach_file(out.trace_path, error))
        err_ << "tidemark: --live: " << error << "\n";
    timeline_.set_start_us(start_us);
    const bool sample_proc = attaching_ && !config_.attach_inject;  // nothing injected: /proc samples
    recorder_.root_launched(target, attaching_ ? config_.attach_ppid : ::getpid(),
                            attaching_ ? config_.attach_cmdline : join_command(config_.command), start_us,
                            sample_proc ? proto::Runtime::Native : proto::Runtime::Unknown);

    int exec_status = 0;
    if (attaching_) {
        if (config_.attach_inject && !config_.attach_inject(listener_.path(), error)) {
            writer_->close();
            std::error_code ec;
            std::filesystem::remove(out.trace_path, ec);
            err_ << "tidemark attach: " << error << "\n";
            return out;
        }
    } else if (!child_.release(error, exec_status)) {
        child_.try_wait();
        writer_->close();
        std::error_code ec;
        std::filesystem::remove(out.trace_path, ec);
        err_ << "tidemark: " << error << "\n";
        out.agent_exit_code = exec_status;
        return out;
    }
    out.target_ran = true;

    const int64_t attach_start = mono_us();
    const int64_t attach_end = config_.duration_s > 0
                                   ? attach_start + static_cast<int64_t>(config_.duration_s * 1e6) : INT64_MAX;
    const int64_t sample_every = static_cast<int64_t>(config_.interval_ms) * 1000;
    int64_t next_sample = sample_proc ? attach_start : INT64_MAX;
    int64_t next_flush = mono_us() + kFlushTickUs;
    int64_t next_detect = mono_us() + kDetectTickUs;
    std::vector<pollfd> fds;
    for (;;) {
        const int64_t now = mono_us();
        if (exit_ && (conns_.empty() || now >= drain_deadline_)) break;
        if (attaching_ && (stop_ || now >= attach_end || out.target_ended)) break;
        if (now >= next_sample) {
            proto::ProcessSample ps;
            ps.t_us = wall_us();
            ps.rss_bytes = target_rss_bytes(target);
            if (ps.rss_bytes > 0) recorder_.root_sample(ps);
            next_sample = now + sample_every;
        }

        fds.clear();
        fds.push_back({signals_.fd(), POLLIN, 0});
        fds.push_back({listener_.fd(), static_cast<short>(listener_.fd() >= 0 ? POLLIN : 0), 0});
        for (const auto& c : conns_) fds.push_back({c->fd, POLLIN, 0});
        const size_t polled = conns_.size();
        relay_.add_poll_fds(fds);
        int64_t wake = std::min({next_flush, next_detect, next_sample, attach_end});
        if (exit_) wake = std::min(wake, drain_deadline_);
        const int timeout_ms = static_cast<int>(std::max<int64_t>(0, (wake - now + 999) / 1000));
        const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
        if (ready < 0 && errno != EINTR) {
            err_ << "tidemark: poll failed: " << std::strerror(errno) << "\n";
            break;
        }

        if (ready > 0) {
            if (fds[0].revents) handle_signals();
            if (listener_.fd() >= 0 && (fds[1].revents & POLLIN)) accept_connections();
            std::vector<std::unique_ptr<Connection>> kept;
            kept.reserve(conns_.size());
            for (size_t i = 0; i < conns_.size(); ++i) {
                bool keep = true;
                if (i < polled && fds[i + 2].revents) service(*conns_[i], keep);
                if (keep) kept.push_back(std::move(conns_[i]));
            }
            conns_ = std::move(kept);
            relay_.on_poll(fds);
        } else if (!exit_) {
            handle_signals();  // a SIGCHLD that raced the poll still gets reaped
        }

        const int64_t after = mono_us();
        if (attaching_ && after >= next_flush && !target_alive(target)) {
            out.target_ended = true;
            recorder_.note("pid " + std::to_string(target) + " ended while tidemark was attached (an attacher "
                           "cannot learn its exit status)", wall_us());
        }
        if (after >= next_flush) {
            if (writer_ && !write_failed_)
                if (auto s = writer_->flush_if_due(wall_us()); !s.ok()) warn_write_failure(s);
            next_flush = after + kFlushTickUs;
        }
        // Findings are printed as soon as a detection tick (driven by record time) ran, and on
        // the timer in case the records stop.
        if (ticked_ || after >= next_detect) {
            ticked_ = false;
            note_coarsenings();
            live_.update(analysis_.engine(), err_);
            next_detect = after + kDetectTickUs;
        }
    }

    // Processes still connected (daemons the target left behind) are not waited for. Attached:
    // closing the connection is the detach (the tracker then undoes its changes).
    out.attached_s = attaching_ ? static_cast<double>(mono_us() - attach_start) / 1e6 : 0;
    if (attaching_ && config_.attach_inject && !recorder_.root_tracked()) {
        const std::string msg = "the tracker was loaded into pid " + std::to_string(target) +
                                " but never reported to the agent; the trace holds no samples of it";
        err_ << "tidemark: warning: " << msg << "\n";
        recorder_.note(msg, wall_us());
    }
    for (auto& c : conns_) {
        if (attaching_)
            recorder_.detach_connection(c->id, wall_us());
        else
            recorder_.close_connection(c->id, "still running when the target exited; recording of it stopped", wall_us());
        if (attaching_ && config_.attach_detach_wait_ms > 0 && !out.target_ended) {
            // The native tracker never reads: shutting our reading side makes its next send fail
            // (EPIPE), which is its detach; it closes its end once the slots are back (POLLHUP).
            ::shutdown(c->fd, SHUT_RD);
            const int64_t until = mono_us() + int64_t{config_.attach_detach_wait_ms} * 1000;
            bool closed = false;
            for (int64_t now = mono_us(); now < until && !closed; now = mono_us()) {
                // No events asked for: with our reading side shut, POLLIN would be ready at once;
                // POLLHUP comes only when the tracker's end is closed too.
                pollfd p{c->fd, 0, 0};
                const int n = ::poll(&p, 1, static_cast<int>((until - now + 999) / 1000));
                if (n < 0 && errno != EINTR) break;
                if (n > 0 && (p.revents & (POLLHUP | POLLERR))) closed = true;
            }
            if (!closed) out.detach_confirmed = false;
        }
        ::close(c->fd);
    }
    conns_.clear();
    if (exit_) recorder_.root_exited(*exit_, exit_wall_us_);
    listener_.close();

    out.status = exit_.value_or(ExitStatus{});
    out.processes = recorder_.processes_seen();
    out.streams = recorder_.streams_seen();
    if (writer_ && !write_failed_) {
        if (auto s = writer_->close(); !s.ok()) {
            warn_write_failure(s);
        } else {
            out.trace_complete = true;
        }
    }
    // Viewers get the index and footer, then the agent closes their connections.
    if (relay_.is_open()) relay_.finish(kLiveFinishMs);
    return out;
}

}  // namespace

std::string node_options_with_preload(const std::string& existing, const std::string& preload_path) {
    std::string quoted = "\"";
    for (char ch : preload_path) {
        if (ch == '"' || ch == '\\') quoted += '\\';
        quoted += ch;
    }
    quoted += '"';
    std::string opts = existing;
    if (!opts.empty() && opts.back() != ' ') opts += ' ';
    return opts + "--require " + quoted;
}

std::string ld_preload_with(const std::string& existing, const std::string& library_path) {
    // ld.so splits LD_PRELOAD at spaces and colons; a path holding either cannot be preloaded.
    return existing.empty() ? library_path : library_path + ":" + existing;
}

SessionOutcome run_session(const SessionConfig& config, model::Analysis& analysis, std::ostream& err) {
    Session session(config, analysis, err);
    return session.run();
}

}  // namespace tidemark::agent

// Per-connection decoding and id remapping into trace-global records (see recorder.h).
#include "recorder.h"

#include <type_traits>
#include <utility>

namespace tidemark::agent {

namespace {

// Past this many distinct strings new ones are still recorded but no longer deduplicated, so a
// tracker sending endless unique texts cannot grow the agent without bound.
constexpr size_t kMaxInternedStrings = 200'000;

// Record times are the tracker's wall clock, the same clock as the agent's. Allowed skew: a record
// may be stamped a little after it arrived (clock adjustments) or before the recording started
// (the tracker's own start-up), but not by more than this.
constexpr uint64_t kMaxFutureSkewUs = 5'000'000;
constexpr uint64_t kMaxPastSkewUs = 60'000'000;

}  // namespace

Recorder::Recorder(Sink sink) : sink_(std::move(sink)) {}

void Recorder::root_launched(pid_t pid, pid_t agent_pid, const std::string& cmdline, uint64_t t_us,
                             proto::Runtime runtime) {
    root_pid_ = pid;
    root_announced_ = true;
    start_us_ = t_us;
    proto::Hello h;
    h.t_us = t_us;
    h.pid = static_cast<uint32_t>(pid);
    h.ppid = static_cast<uint32_t>(agent_pid);
    h.runtime = runtime;
    h.cmdline = cmdline;
    h.proc = next_proc_++;
    emit(h);
}

void Recorder::root_sample(proto::ProcessSample sample) {
    sample.proc = 0;
    emit(sample);
}

void Recorder::root_exited(const ExitStatus& status, uint64_t t_us) {
    proto::ProcessExit e;
    e.t_us = t_us;
    e.proc = 0;
    e.code = status.signal ? -1 : status.code;
    e.signal = status.signal;
    emit(e);
}

ConnectionId Recorder::open_connection() {
    const ConnectionId id = next_conn_++;
    conns_.emplace(id, std::make_unique<Connection>());
    return id;
}

void Recorder::note(const std::string& text, uint64_t t_us) {
    proto::AgentNote n;
    n.t_us = t_us;
    n.text = text;
    emit(n);
}

std::string Recorder::describe(ConnectionId conn) const {
    auto it = conns_.find(conn);
    if (it == conns_.end() || !it->second->hello_seen) return "an unidentified client (no Hello yet)";
    const Connection& c = *it->second;
    std::string cmd = c.cmdline.size() > 60 ? c.cmdline.substr(0, 57) + "..." : c.cmdline;
    return (c.thread_id ? "worker thread " + std::to_string(c.thread_id) + " of " : std::string()) + "pid " +
           std::to_string(c.pid) + (cmd.empty() ? "" : " (" + cmd + ")");
}

bool Recorder::on_hello(Connection& c, proto::Hello hello, std::string& error) {
    if (hello.wire_version != proto::kWireVersion) {
        error = "its tracker speaks wire version " + std::to_string(hello.wire_version) +
                " but this agent speaks " + std::to_string(proto::kWireVersion) +
                "; use the tracker installed with this tidemark (TIDEMARK_LIB_DIR)";
        return false;
    }
    c.hello_seen = true;
    c.pid = hello.pid;
    c.thread_id = hello.thread_id;
    c.cmdline = hello.cmdline;
    // A worker thread (thread_id != 0) of the target shares its pid but is never the target
    // itself, even when it connects before the main thread: it gets a proc of its own, and the
    // target's end still comes from waitpid, not from a worker's connection.
    if (hello.thread_id == 0 && root_announced_ && !root_tracked_ && static_cast<pid_t>(hello.pid) == root_pid_) {
        // The target itself (or what it exec'd): it is process 0, announced at launch.
        c.is_root = true;
        root_tracked_ = true;
        c.proc = 0;
    } else {
        c.proc = next_proc_++;
    }
    hello.proc = c.proc;
    emit(hello);
    return true;
}

TraceStringId Recorder::map(Connection& c, WireStringId wire) {
    if (!wire) return {};
    auto it = c.strings.find(wire);
    return it == c.strings.end() ? TraceStringId{} : it->second;
}

TraceStreamId Recorder::map(Connection& c, WireStreamId wire) {
    if (!wire) return {};
    auto [it, inserted] = c.streams.try_emplace(wire, TraceStreamId{});
    if (inserted) it->second = TraceStreamId{next_stream_id_++};
    return it->second;
}

TracePipelineId Recorder::map(Connection& c, WirePipelineId wire) {
    auto [it, inserted] = c.pipelines.try_emplace(wire, TracePipelineId{});
    if (inserted) it->second = TracePipelineId{next_pipeline_id_++};
    return it->second;
}

bool Recorder::on_record(ConnectionId conn, const uint8_t* data, size_t size, uint64_t now_us,
                         std::string& error) {
    auto cit = conns_.find(conn);
    if (cit == conns_.end()) {
        error = "unknown connection";
        return false;
    }
    Connection& c = *cit->second;
    proto::Record rec;
    std::string decode_error;
    const bool decoded = c.codec.decode(data, size, rec, decode_error);
    if (decoded) {
        const uint64_t t = proto::record_time_us(rec);
        if (t > now_us + kMaxFutureSkewUs || t + kMaxPastSkewUs < start_us_) {
            error = "a record is stamped " + std::to_string(static_cast<int64_t>(t - now_us) / 1000) +
                    " ms away from the agent's clock";
            return false;
        }
    }
    if (!c.hello_seen) {
        if (!decoded || !std::holds_alternative<proto::Hello>(rec)) {
            error = "its first record was not a Hello" +
                    (decoded ? std::string() : " (" + decode_error + ")") +
                    "; is something other than the tidemark tracker connecting to TIDEMARK_SOCKET?";
            return false;
        }
        return on_hello(c, std::get<proto::Hello>(std::move(rec)), error);
    }
    if (!decoded) {
        error = "undecodable record: " + decode_error;
        return false;
    }

    return std::visit(
        [&](auto& x) -> bool {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, proto::Hello>) {
                error = "it sent a second Hello";
                return false;
            } else if constexpr (std::is_same_v<T, proto::StringDef>) {
                if (x.id == 0) return true;
                auto known = string_ids_.find(x.text);
                if (known != string_ids_.end()) {
                    c.strings[WireStringId{x.id}] = TraceStringId{known->second};
                    return true;
                }
                const uint32_t global = next_string_id_++;
                c.strings[WireStringId{x.id}] = TraceStringId{global};
                if (string_ids_.size() < kMaxInternedStrings) string_ids_.emplace(x.text, global);
                x.id = global;
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::ProcessSample> ||
                                 std::is_same_v<T, proto::Dropped> || std::is_same_v<T, proto::GcEvent> ||
                                 std::is_same_v<T, proto::NativeModules> || std::is_same_v<T, proto::NativeStack> ||
                                 std::is_same_v<T, proto::NativeSites> || std::is_same_v<T, proto::NativeStatus>) {
                // Native site ids are the process's own (one connection per process): (proc, site) is the key.
                x.proc = c.proc;
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::StreamCreated>) {
                x.proc = c.proc;
                x.id = map_stream(c, x.id);
                x.type_str = map_string(c, x.type_str);
                x.site_str = map_string(c, x.site_str);
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::StreamAggregate>) {
                // Keyed by (proc, type, site): trace string ids are interned by text, so the key
                // stays the same across this connection's records.
                x.proc = c.proc;
                x.type_str = map_string(c, x.type_str);
                x.site_str = map_string(c, x.site_str);
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::StreamSample>) {
                x.id = map_stream(c, x.id);
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::StreamEvent>) {
                const uint64_t wire_id = x.id;
                x.id = map_stream(c, x.id);
                if (x.kind != proto::StreamEventKind::DrainWait) x.other = map_stream(c, x.other);  // else a reason code
                x.str = map_string(c, x.str);
                emit(x);
                if (x.kind == proto::StreamEventKind::Gone) c.streams.erase(WireStreamId{wire_id});
                return true;
            } else if constexpr (std::is_same_v<T, proto::Pipeline>) {
                x.proc = c.proc;
                x.id = map(c, WirePipelineId{x.id}).value;
                x.site_str = map_string(c, x.site_str);
                for (auto& s : x.stages) s = map_stream(c, s);
                for (auto& s : x.stage_strs) s = map_string(c, s);
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::CallSite>) {
                x.id = map_stream(c, x.id);
                x.site_str = map_string(c, x.site_str);
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::Goodbye>) {
                x.proc = c.proc;
                c.goodbye_code = x.exit_code;
                emit(x);
                return true;
            } else {
                // ProcessExit and AgentNote are the agent's own; a tracker may not forge them.
                error = "it sent an agent-only record";
                return false;
            }
        },
        rec);
}

void Recorder::close_connection(ConnectionId conn, const std::string& reason, uint64_t now_us) {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    Connection& c = *it->second;
    if (!reason.empty()) note("dropped the connection from " + describe(conn) + ": " + reason, now_us);
    if (c.hello_seen && !c.is_root && reason.empty()) {
        // The root's end comes from waitpid; other processes only tell us through the socket
        // (a dropped connection says nothing about whether its process lives on).
        proto::ProcessExit e;
        e.t_us = now_us;
        e.proc = c.proc;
        if (c.goodbye_code) {
            e.code = *c.goodbye_code;
        } else if (c.thread_id) {
            note(describe(conn) + " closed its connection without a Goodbye (terminated with its "
                 "process, or it crashed); how it ended is unknown", now_us);
        } else {
            note("pid " + std::to_string(c.pid) + " closed its connection without a Goodbye "
                 "(killed, or it crashed); how it ended is unknown", now_us);
        }
        emit(e);
    }
    conns_.erase(it);
}

}  // namespace tidemark::agent

// Per-connection decoding and id remapping into trace-global records (see recorder.h).
#include "recorder.h"

#include "tidemark/model/native/symbols.h"

#include <cstdlib>
#include <string_view>
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
    c.runtime = hello.runtime;
    const uint32_t runtime_bit = 1u << static_cast<unsigned>(hello.runtime);
    const bool pairable = hello.thread_id == 0 &&
                          (hello.runtime == proto::Runtime::Node || hello.runtime == proto::Runtime::Native);
    // A node process under --native: its native tracker (preloaded, connects from its constructor)
    // and its JS tracker (connects once node runs the preload) are one process. The second to
    // arrive joins the proc of the first, as long as that connection is still open and of the
    // other runtime (a native program that exec()s reconnects as the same runtime: a new proc).
    if (pairable) {
        auto it = open_procs_.find(hello.pid);
        if (it != open_procs_.end() && it->second->open > 0 && !(it->second->runtimes & runtime_bit)) {
            c.share = it->second;
            c.share->runtimes |= runtime_bit;
            ++c.share->open;
            c.proc = c.share->proc;
            c.is_root = c.share->is_root;
            // The JS tracker's Hello says more (node's version, runtime Node); the native one's
            // would turn the process back into a native one.
            if (hello.runtime == proto::Runtime::Node) {
                hello.proc = c.proc;
                emit(hello);
            }
            return true;
        }
    }
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
    c.share = std::make_shared<ProcShare>();
    c.share->proc = c.proc;
    c.share->pid = hello.pid;
    c.share->runtimes = runtime_bit;
    c.share->open = 1;
    c.share->is_root = c.is_root;
    if (pairable) open_procs_[hello.pid] = c.share;
    hello.proc = c.proc;
    emit(hello);
    return true;
}

std::string Recorder::symbolize_site(const Connection& c, const std::string& text) const {
    static constexpr std::string_view kPrefix = "native:0x";
    if (c.runtime != proto::Runtime::Native || text.rfind(kPrefix, 0) != 0 || c.native_modules.empty()) return text;
    const uint64_t address = std::strtoull(text.c_str() + kPrefix.size(), nullptr, 16);
    if (address == 0) return text;
    const auto frames = model::shared_symbolizer().resolve(c.native_modules, c.pid, address, true);
    // Innermost first: skip the always-inlined wrappers of tidemark/native_streams.h.
    for (const auto& f : frames) {
        if (f.function.rfind("tidemark_stream_", 0) == 0 ||
            (f.file.size() >= 18 && f.file.compare(f.file.size() - 18, 18, "native_streams.h") == 0))
            continue;
        if (f.function.empty() && f.file.empty()) break;
        return f.label();
    }
    return text;
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
                x.text = symbolize_site(c, x.text);
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
            } else if constexpr (std::is_same_v<T, proto::ProcessSample>) {
                // A process with both trackers: the JS tracker's samples (heap, external, loop
                // delay) carry the native tracker's live bytes; the native tracker's own samples
                // (RSS only) would zero the heap series every other point.
                const bool paired = c.share && (c.share->runtimes & (1u << static_cast<unsigned>(proto::Runtime::Node))) &&
                                    (c.share->runtimes & (1u << static_cast<unsigned>(proto::Runtime::Native)));
                if (paired && c.runtime == proto::Runtime::Native) return true;
                if (paired && x.native_live_bytes == 0) x.native_live_bytes = c.share->native_live_bytes;
                x.proc = c.proc;
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::NativeModules>) {
                c.native_modules = x.modules;
                x.proc = c.proc;
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::NativeStatus>) {
                if (c.share) c.share->native_live_bytes = x.live_bytes;
                x.proc = c.proc;
                emit(x);
                return true;
            } else if constexpr (std::is_same_v<T, proto::Dropped> || std::is_same_v<T, proto::GcEvent> ||
                                 std::is_same_v<T, proto::NativeStack> || std::is_same_v<T, proto::NativeSites>) {
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
                if (c.share) c.share->goodbye_code = x.exit_code;
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

void Recorder::close_connection(ConnectionId conn, const std::string& reason, uint64_t now_us, bool ended) {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    Connection& c = *it->second;
    if (!reason.empty()) note("dropped the connection from " + describe(conn) + ": " + reason, now_us);
    // A proc shared by two trackers ends with its last connection.
    bool last = true;
    std::optional<int32_t> goodbye = c.goodbye_code;
    if (c.share) {
        if (c.share->open > 0) --c.share->open;
        last = c.share->open == 0;
        if (!goodbye) goodbye = c.share->goodbye_code;
        if (last) {
            auto p = open_procs_.find(c.share->pid);
            if (p != open_procs_.end() && p->second == c.share) open_procs_.erase(p);
        }
    }
    if (ended && c.hello_seen && !c.is_root && reason.empty() && last) {
        // The root's end comes from waitpid; other processes only tell us through the socket
        // (a dropped connection says nothing about whether its process lives on).
        proto::ProcessExit e;
        e.t_us = now_us;
        e.proc = c.proc;
        if (goodbye) {
            e.code = *goodbye;
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

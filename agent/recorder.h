// Turns what tracker connections send into trace records: decodes each connection's records with
// its own proto::Codec, gives each tracked process a trace-local index (proc), remaps the
// per-connection stream, pipeline and string ids to trace-global ids, and adds what only the agent
// knows (how processes ended, notes about misbehaving connections). Every resulting record goes to
// one sink, which `tidemark run` points at the TraceWriter and the live Timeline alike, so the
// file and the live view can never disagree.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "exit_status.h"
#include "typed_id.h"
#include "tidemark/protocol.h"

namespace tidemark::agent {

using ConnectionId = uint32_t;

class Recorder {
public:
    using Sink = std::function<void(const proto::Record&)>;

    explicit Recorder(Sink sink);

    // Announces the launched target as process 0 (its tracker's Hello, if any, later fills in
    // the runtime), so a target that is not Node still appears in the trace with its exit.
    // `tidemark attach` announces the attached process the same way (its parent as ppid); a
    // native target is announced as such (runtime), its samples then come from root_sample().
    void root_launched(pid_t pid, pid_t agent_pid, const std::string& cmdline, uint64_t t_us,
                       proto::Runtime runtime = proto::Runtime::Unknown);
    // A process sample of the root taken by the agent (from /proc; nothing injected).
    void root_sample(proto::ProcessSample sample);
    // How the target ended, from waitpid.
    void root_exited(const ExitStatus& status, uint64_t t_us);

    ConnectionId open_connection();
    // One framed record from a connection, received at now_us (wall clock). Returns false (error
    // says why) when the connection must be dropped: it did not start with Hello, sent something
    // undecodable, or stamped a record with a time that cannot be true (before the recording
    // began, or in the future), which would otherwise stretch the whole trace.
    bool on_record(ConnectionId conn, const uint8_t* data, size_t size, uint64_t now_us,
                   std::string& error);
    // The connection ended (EOF) or is being dropped (reason non-empty). Records how a process
    // other than the root ended: its Goodbye's code, or unknown when it vanished without one.
    void close_connection(ConnectionId conn, const std::string& reason, uint64_t now_us, bool ended = true);
    // The agent ends an attach: the connection goes, but its process or worker thread lives on
    // (no ProcessExit, no note; the tracker at the other end undoes its changes).
    void detach_connection(ConnectionId conn, uint64_t now_us) { close_connection(conn, "", now_us, false); }

    void note(const std::string& text, uint64_t t_us);

    // A description of a connection for messages: "pid 1234 (node app.js)", "worker thread 2 of
    // pid 1234 (node app.js)" or "an unidentified client (no Hello yet)".
    std::string describe(ConnectionId conn) const;

    // Trace-local process indexes handed out: processes and worker threads (each worker_threads
    // Worker connects on its own and is its own proc, sharing its process's pid).
    uint32_t processes_seen() const { return next_proc_; }
    uint64_t streams_seen() const { return next_stream_id_ - 1; }
    // The root's own tracker connected (its Hello arrived).
    bool root_tracked() const { return root_tracked_; }

private:
    // One tracked process as the trace's proc. A node process under `--native` has two trackers,
    // the JS one and the preloaded native one, each with its own connection: they share one proc
    // (see on_hello), so the trace shows one process.
    struct ProcShare {
        uint32_t proc = 0;
        uint32_t pid = 0;
        uint32_t runtimes = 0;      // bit per proto::Runtime of the connections that joined it
        uint32_t open = 0;          // connections still open
        bool is_root = false;
        std::optional<int32_t> goodbye_code;
        uint64_t native_live_bytes = 0;  // the native tracker's latest NativeStatus.live_bytes
    };
    struct Connection {
        proto::Codec codec;
        bool hello_seen = false;
        bool is_root = false;
        uint32_t proc = 0;
        uint32_t pid = 0;
        uint32_t thread_id = 0;  // worker_threads threadId; 0 = the process's main thread
        std::string cmdline;
        std::optional<int32_t> goodbye_code;
        proto::Runtime runtime = proto::Runtime::Unknown;
        std::shared_ptr<ProcShare> share;
        std::vector<proto::NativeModule> native_modules;  // the latest NativeModules (native tracker)
        std::unordered_map<WireStringId, TraceStringId, IdHash> strings;
        std::unordered_map<WireStreamId, TraceStreamId, IdHash> streams;
        std::unordered_map<WirePipelineId, TracePipelineId, IdHash> pipelines;
    };

    bool on_hello(Connection& c, proto::Hello hello, std::string& error);
    // Wire ids in, trace ids out: the record fields are plain integers, so the types make each
    // conversion explicit at the one place it happens. 0 (none) maps to 0.
    uint32_t map_string(Connection& c, uint32_t wire_id) { return map(c, WireStringId{wire_id}).value; }
    uint64_t map_stream(Connection& c, uint64_t wire_id) { return map(c, WireStreamId{wire_id}).value; }
    TraceStringId map(Connection& c, WireStringId wire);
    TraceStreamId map(Connection& c, WireStreamId wire);
    TracePipelineId map(Connection& c, WirePipelineId wire);
    void emit(const proto::Record& r) { sink_(r); }
    // A native tracker's call site "native:0x…" (a raw return address, tracker/native/streams.cpp)
    // as "function (file:line)", symbolized with the connection's module map; unchanged when it
    // cannot be resolved.
    std::string symbolize_site(const Connection& c, const std::string& text) const;

    Sink sink_;
    pid_t root_pid_ = -1;
    uint64_t start_us_ = 0;
    bool root_announced_ = false;
    bool root_tracked_ = false;
    uint32_t next_proc_ = 0;
    uint64_t next_stream_id_ = 1;
    uint64_t next_pipeline_id_ = 1;
    uint32_t next_string_id_ = 1;
    std::unordered_map<std::string, uint32_t> string_ids_;  // text → trace string id (interned)
    ConnectionId next_conn_ = 1;
    std::unordered_map<ConnectionId, std::unique_ptr<Connection>> conns_;
    std::unordered_map<uint32_t, std::shared_ptr<ProcShare>> open_procs_;  // pid → its open proc
};

}  // namespace tidemark::agent

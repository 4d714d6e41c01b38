// One open trace in the viewer — a recorded file, or a live session whose bytes a LiveClient is
// receiving into a private file. Never loads the trace whole (docs/VIEWER.md "Scale"):
//
//  - on open (the first frame): the header, the index's extent and keyframes, and the stream table
//    from the Summary chunks (TraceReader::read_summaries), so every stream is listed at once;
//  - the analysis thread reads the trace once, front to back (following a live file as it grows),
//    into a bounded model::Analysis (the same detectors `tidemark report` runs) and publishes, a few
//    times a second, the findings so far, every process's memory series (bounded and coarsened by
//    the Timeline) and the selected stream's buffer history as it kept it;
//  - the history thread reads the selected stream's whole buffered history from the file with the
//    model's window query (model::stream_series) when the analysis no longer holds it — it folded
//    the stream when it retired, or dropped it — or has not reached it yet; in pieces, published as
//    they come, and abandoned for a newer selection;
//  - the cursor thread answers "the state at time t": a seek to the keyframe before t and a decode
//    up to t (TraceReader::seek_exact) into a small Timeline; requests coalesce (the newest wins),
//    so scrubbing never queues work and a frame never waits for the disk. It also derives what the
//    views show of that state — the stream table's rows sorted and filtered, the pipeline graph's
//    layout — and rebuilds them when the user's sort, filter or selection or the findings change,
//    so a frame only swaps in a ready CursorView.
//
// The UI thread only calls the const accessors, request_*() and set_view_inputs(), all of which
// take a short lock and copy shared pointers; nothing here blocks a frame on I/O or on building.
// Old CursorViews are freed on the cursor thread (their last reference hands them over), so a
// CursorView must not outlive its Session (ViewState holds both and declares the Session first).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cursor_view.h"
#include "core/decimate.h"
#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/trace/reader.h"
#include "tidemark/model/trace/summary.h"

namespace tidemark::viewer {

class LiveClient;

// A process's memory as the analysis has read it so far (trace seconds).
struct ProcessView {
    uint32_t proc = 0;
    uint32_t pid = 0;
    uint32_t thread_id = 0;
    std::string cmdline;
    std::string runtime_version;
    Series rss, heap_used, heap_total, external, array_buffers, loop_delay_max_ms, stream_buffered;
    Series native_live;   // live bytes the native tracker sees (tidemark run --native; estimates when sampled)
    bool native = false;  // some sample carried native live bytes
    std::vector<double> major_gcs;  // times of major collections
    std::optional<int> exit_code, exit_signal;
};

// What the analysis thread has published: replaced whole, read through a shared pointer.
struct AnalysisView {
    bool done = false;          // the whole trace was read (or the live session ended)
    double read_until_s = 0;    // trace time reached
    double progress = 0;        // 0..1 of the extent (1 when done)
    std::string error;          // damage found while reading (what was read stays shown)
    std::string warning;        // e.g. the trace was not closed cleanly
    std::vector<model::Finding> findings;
    std::vector<ProcessView> processes;
    std::vector<model::PipeEdge> edges;
    std::vector<model::PipelineInfo> pipelines;
    uint64_t streams_seen = 0;
    std::vector<std::string> notes;
    // The selected stream's buffered lengths over its life (readable, writable), when requested.
    uint64_t series_id = 0;
    Series series_readable, series_writable;
    bool series_partial = false;  // the analysis had folded it: only its last point remained
    bool series_found = false;    // the analysis holds the stream (it may not have reached it yet)
    // The native sites' live-bytes series the analysis keeps (null: no native tracking). The same
    // pointer as the previous publish's while they have not changed.
    std::shared_ptr<const NativeHistory> native;
};

// The selected stream's buffered lengths over its life, read from the trace file by a window query
// (for a stream the analysis folded, dropped, or has not reached yet).
struct StreamHistory {
    uint64_t id = 0;
    double t0_s = 0, t1_s = 0;    // its life (as far as the trace shows it)
    double read_until_s = 0;      // read so far (t1_s when complete)
    bool complete = false;
    bool found = false;           // the trace has the stream
    Series readable, writable;    // one point per bucket: min, max and last of the bucket
    std::string error;
};

class Session {
public:
    struct Options {
        uint64_t analysis_budget_bytes = 160ull << 20;  // the analysis Timeline's memory budget
        double publish_every_s = 0.25;                  // wall seconds between analysis publishes
    };

    // Opens a trace file. On failure returns null and sets `error` (the message the viewer shows
    // and prints; exit 2 from the command line).
    static std::unique_ptr<Session> open(const std::string& path, std::string& error);
    static std::unique_ptr<Session> open(const std::string& path, const Options& options, std::string& error);
    // A live session: reads `client`'s file as it grows. Never fails: until the first bytes arrive
    // the session is empty and says it is waiting.
    static std::unique_ptr<Session> open_live(std::unique_ptr<LiveClient> client);
    static std::unique_ptr<Session> open_live(std::unique_ptr<LiveClient> client, const Options& options);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const std::string& path() const { return path_; }
    const std::string& title() const { return title_; }
    bool live() const { return live_client_ != nullptr; }
    // "live: receiving …", "session ended", "connection lost: …", or "" for a file.
    std::string live_status() const;
    bool live_ended() const;  // the live session ended or dropped (the viewer stays, and says so)

    // The time span in trace seconds (grows while live).
    double first_s() const;
    double last_s() const;
    double open_ms() const { return open_ms_; }

    // Every stream of the trace from its Summary chunks (empty until a live file has one).
    std::shared_ptr<const model::StreamTable> stream_table() const;
    std::shared_ptr<const AnalysisView> analysis() const;
    std::shared_ptr<const CursorView> cursor() const;
    // The history read from the file for the selected stream (null until one was needed).
    std::shared_ptr<const StreamHistory> history() const;

    // Asks for the state at t (coalesced: only the newest pending request is served).
    void request_cursor(double t_s);
    // Asks the analysis to publish this stream's history (0: none).
    void request_series(uint64_t stream_id);
    // The sort, filter and selection the next CursorViews are derived for (cheap when unchanged).
    void set_view_inputs(const ViewInputs& inputs);
    // Blocks until the cursor view for the latest request, view inputs and findings is in, or
    // timeout (tests, screenshots; never the interactive UI).
    bool wait_cursor(double timeout_s) const;
    // Blocks until the analysis is done, or timeout.
    bool wait_analysis(double timeout_s) const;
    // Blocks until the history read from the file for `stream_id` is complete, or timeout (tests).
    bool wait_history(uint64_t stream_id, double timeout_s) const;

private:
    Session() = default;
    bool start(const Options& options, std::string& error);
    void analysis_loop();
    void cursor_loop();
    void history_loop();
    bool history_needed() const;  // under mu_: the analysis lacks the selected stream's history
    bool open_header(std::string& error);
    bool cursor_current() const;  // under mu_: the published CursorView answers every input

    std::string path_, title_;
    Options options_;
    std::unique_ptr<LiveClient> live_client_;
    double open_ms_ = 0;

    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::shared_ptr<const model::StreamTable> table_;
    std::shared_ptr<const AnalysisView> analysis_;
    std::shared_ptr<const CursorView> cursor_;
    std::shared_ptr<const StreamHistory> history_;
    double first_s_ = 0, last_s_ = 0;
    uint64_t start_us_ = 0;
    std::optional<double> cursor_want_;
    uint64_t cursor_served_seq_ = 0, cursor_want_seq_ = 0;
    ViewInputs inputs_;
    uint64_t inputs_seq_ = 0, inputs_served_seq_ = 0;
    // The analysis and summaries the published CursorView was derived from.
    std::shared_ptr<const AnalysisView> derived_analysis_;
    std::shared_ptr<const model::StreamTable> derived_summaries_;
    std::atomic<uint64_t> series_want_{0};
    // CursorViews the UI let go of: freeing 10,000 streams' state and rows takes milliseconds, so
    // the last reference's deleter hands them to the cursor thread instead of freeing them in a
    // frame. (The deleter takes mu_: never drop a CursorView reference while holding it.)
    std::vector<const CursorView*> graveyard_;
    std::atomic<bool> stop_{false};
    std::thread analysis_thread_, cursor_thread_, history_thread_;
};

}  // namespace tidemark::viewer

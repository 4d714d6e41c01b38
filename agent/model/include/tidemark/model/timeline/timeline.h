// The in-memory timeline of a trace: every process and stream with its samples, edges, events and
// call sites, in trace seconds. Built incrementally from records (Timeline::apply), so the same
// object serves a replay (fed from a TraceReader) and a live session (fed by the agent as records
// arrive). Everything a report prints, the gate judges or the viewer shows is computed from this.
//
// Bounded for long sessions (docs/ARCHITECTURE.md "Long sessions"): history is kept at decreasing
// resolution with age (each series keeps at most Limits::max_points; when it overflows, the oldest
// half is merged pairwise, so old data is coarser than recent data), retired streams are folded
// (fold(): their samples leave memory, a summary stays, and past max_retired_detail only a
// per-(process, type, site) total), and enforce_budget() coarsens further when the estimated
// memory passes Limits::budget_bytes, saying so in notes() and coarsenings().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tidemark/protocol.h"

namespace tidemark::model {

using StreamId = uint64_t;  // trace-global stream id (the agent remaps per-process ids)

// One process sample, or (after coarsening) a bucket of merged samples: t_s and the values are
// the last sample's (so (t_s, value) pairs stay real samples for slopes), `first_t_s` the bucket's
// first sample time, `*_min` / `*_max` the extremes over the bucket, `merged` how many it holds.
struct ProcessPoint {
    double t_s = 0;
    uint64_t rss_bytes = 0;
    uint64_t heap_used_bytes = 0;
    uint64_t heap_total_bytes = 0;
    uint64_t external_bytes = 0;
    uint64_t array_buffers_bytes = 0;
    uint64_t loop_delay_mean_us = 0;
    uint64_t loop_delay_max_us = 0;
    uint64_t native_live_bytes = 0;
    uint32_t merged = 1;
    uint64_t heap_used_min = 0, heap_used_max = 0;
    uint64_t rss_min = 0, rss_max = 0;
    uint64_t external_min = 0, external_max = 0;
    uint64_t array_buffers_max = 0;
    double first_t_s = 0;
    // Bytes buffered in the process's streams (readable + writable lengths of the sides that are
    // not in object mode, of streams not yet collected) when this sample arrived. Kept by apply()
    // as samples arrive, so growth detection need not walk every stream's history.
    uint64_t stream_buffered_bytes = 0;
};

// Garbage collections of a process's main isolate (proto::GcEvent). A major collection is one
// point; minor ones arrive summed per sampling interval. Coarsened like the samples: merged
// neighbours keep the later point's heap/external after (the newer floor) and sum counts, pauses
// and bytes freed.
struct GcPoint {
    double t_s = 0;
    proto::GcKind kind = proto::GcKind::Major;
    uint32_t count = 1;
    uint64_t pause_us = 0;
    uint64_t heap_before = 0;
    uint64_t heap_after = 0;
    uint64_t freed_bytes = 0;
    uint64_t external_after = 0;
    bool requested = false;  // the tracker's GC probe asked for it
};

struct ProcessInfo {
    uint32_t proc = 0;  // trace-local index
    uint32_t pid = 0;
    uint32_t ppid = 0;
    // worker_threads threadId of the connection, 0 for a process's main thread. A worker thread of
    // pid P is its own ProcessInfo (its streams, drops and end), but it sends no ProcessSamples:
    // memory is process-wide and sampled by the main thread.
    uint32_t thread_id = 0;
    proto::Runtime runtime = proto::Runtime::Unknown;
    std::string runtime_version;
    std::string cmdline;
    uint32_t interval_ms = 0;
    double start_s = 0;
    std::vector<ProcessPoint> samples;  // bounded: coarsened with age (see Timeline::Limits)
    uint64_t sample_count = 0;          // samples received (before coarsening)
    uint64_t dropped_records = 0;
    // Collections, when the tracker observes them (gc_observed): majors one by one, minors summed
    // per interval; both bounded like samples. Totals count every collection ever received.
    bool gc_observed = false;
    std::vector<GcPoint> majors;
    std::vector<GcPoint> minors;
    uint64_t major_collections = 0, minor_collections = 0, requested_collections = 0;
    std::optional<int> exit_code;    // set when it exited normally
    std::optional<int> exit_signal;  // set when a signal ended it
    std::optional<double> end_s;

    bool worker() const { return thread_id != 0; }
};

// A stream's samples are stored as state changes: a run of identical samples is kept as its
// first and its last point (the last one's t_s advances), so an idle stream costs two points
// however long the trace is. Read a stream's state as holding from one point until the next.
// After coarsening, a point stands for a merged run: its state is the run's last one, except the
// buffered lengths, which are the run's maxima (a peak is never coarsened away).
struct StreamPoint {
    double t_s = 0;
    proto::StreamSample s;  // full state at t_s (deltas already applied)
};

struct CallSiteCount {
    proto::CallSiteKind kind;
    std::string site;  // "file:line" of the app's own frame, or of a library's / "node:…" when none
    uint64_t count = 0;
    double first_s = 0;
    std::string via;   // the library frame nearest the stream when one stood between ("ws/lib/sender.js:569")
};

// Sites arrive as "file:line" or "file:line via lib/file.js:line" (tracker/node/sites.js): the
// app's frame, and the library frame the call went through.
void split_site(const std::string& text, std::string& site, std::string& via);

// Code began waiting for this stream's 'drain' when it could not come (proto DrainWait).
struct DrainWait {
    double t_s = 0;
    proto::DrainWaitReason reason = proto::DrainWaitReason::NotNeedDrain;
    std::string site;  // the waiting code's "file:line"
    uint64_t count = 1;
    std::string via;
};

struct StreamInfo {
    StreamId id = 0;
    uint32_t proc = 0;
    uint32_t kind = 0;  // proto::StreamKind bits
    std::string type;   // constructor name
    std::string site;   // creation site "file:line" ("" if unknown)
    std::string site_via;  // the library frame its creation went through, if any
    uint64_t readable_hwm = 0;
    uint64_t writable_hwm = 0;
    double created_s = 0;
    std::optional<double> gone_s;       // collected / no longer seen
    std::optional<double> destroyed_s;  // destroy() called
    std::optional<double> error_s;      // first 'error'
    std::string error_message;
    std::optional<double> ended_s;      // 'end'
    std::optional<double> finished_s;   // 'finish'
    std::optional<double> closed_s;
    std::vector<StreamPoint> samples;
    std::vector<StreamId> piped_to;     // every destination ever piped to (history, no repeats)
    std::vector<StreamId> piped_from;
    std::vector<CallSiteCount> call_sites;
    std::vector<DrainWait> drain_waits;  // one per (reason, site), at most a few
    // Aggregates kept by apply() (cheap to read for reports over hours of samples):
    uint64_t sample_count = 0;          // samples received (before collapsing identical runs)
    uint64_t peak_readable_length = 0;
    uint64_t peak_writable_length = 0;
    uint8_t flowing_seen = 0;           // bit (1 << proto::Flowing value) per mode seen
    double last_seen_s = 0;             // time of the last record about this stream
    // Long-session bookkeeping:
    bool coarsened = false;  // some of its history was merged (older points are buckets)
    bool folded = false;     // retired and folded: only its last point remains; detectors judged it
                             // before the fold and do not look at it again
    std::optional<double> retired_s;  // when it reached a terminal state (gone, destroyed, closed,
                                      // or ended and finished)
    uint64_t buffered_counted = 0;    // its share of its process's stream_buffered_bytes now
    double changed_s = 0;             // when its sampled state last changed

    bool readable() const { return kind & proto::kKindReadable; }
    bool writable() const { return kind & proto::kKindWritable; }
    const proto::StreamSample* last() const { return samples.empty() ? nullptr : &samples.back().s; }
};

// Short-lived streams the tracker folded into one cumulative record per (process, type, creation
// site) instead of announcing each (proto::StreamAggregate). `latest` is the newest record of the
// key (trace-global string ids); the counters in it are cumulative, so it supersedes the earlier ones.
struct StreamAggregateInfo {
    uint32_t proc = 0;
    std::string type;  // constructor name
    std::string site;  // creation site "file:line" ("" if unknown)
    double first_s = 0;   // first record of the key
    double updated_s = 0; // time of `latest`
    proto::StreamAggregate latest;

    uint32_t kind() const { return latest.kind; }
};

// Tracked streams that retired and were folded past Limits::max_retired_detail, totalled per
// (process, type, site): what the report says about streams it no longer lists one by one.
struct RetiredStreams {
    uint32_t proc = 0;
    std::string type;
    std::string site;
    uint64_t count = 0;
    double first_created_s = 0;
    double last_retired_s = 0;
    uint64_t peak_readable_length = 0;
    uint64_t peak_writable_length = 0;
    uint64_t bytes_in = 0;       // written into them, in total
    uint64_t bytes_pushed = 0;   // pushed by them, in total
    uint64_t writes_after_false = 0;
    uint64_t pushes_after_false = 0;
    uint64_t errored = 0;
    double total_lifetime_s = 0;
    double max_lifetime_s = 0;
};

// One step of coarsening under the memory budget (Timeline::enforce_budget).
struct Coarsening {
    double t_s = 0;
    uint64_t estimated_bytes = 0;  // the estimate that passed the budget
    size_t max_points = 0;         // the per-series cap from then on
    size_t max_retired_detail = 0;
};

struct PipeEdge {
    StreamId src = 0;
    StreamId dst = 0;
    double piped_s = 0;
    std::optional<double> unpiped_s;
};

struct PipelineInfo {
    uint64_t id = 0;
    uint32_t proc = 0;
    double t_s = 0;
    std::string site;
    std::vector<StreamId> stages;            // 0 for a non-stream stage
    std::vector<std::string> stage_labels;   // description of non-stream stages
};

struct Note {
    double t_s = 0;
    std::string text;
};

// ---- native allocation sites (docs/NATIVE.md) --------------------------------------------------
// One point of a site's live bytes (estimated in sampled mode). Coarsened like other series: a
// merged point keeps the later point's time and value and the maximum of the pair.
struct NativePoint {
    double t_s = 0;
    uint64_t live_bytes = 0;
    uint64_t max_live_bytes = 0;
};

// One allocation site of one process: its stack (raw return addresses, innermost first) and its
// cumulative counters. Only the `Limits::max_native_series` sites with the most live bytes keep a
// series (`series`); the others keep their latest counters and are summed in NativeProcessInfo.
struct NativeSiteInfo {
    uint32_t proc = 0;
    uint32_t site = 0;
    std::vector<uint64_t> frames;
    proto::NativeSiteCounters latest;
    double first_s = 0;
    double updated_s = 0;
    uint64_t peak_live_bytes = 0;
    bool has_series = false;
    double series_from_s = 0;           // when its current series began (it may have been evicted before)
    std::vector<NativePoint> series;
};

struct NativeProcessInfo {
    uint32_t proc = 0;
    proto::NativeMode mode = proto::NativeMode::Off;
    uint64_t sample_interval_bytes = 0;
    uint64_t modules_generation = 0;
    std::vector<proto::NativeModule> modules;
    std::optional<proto::NativeStatus> status;  // the latest
    uint64_t peak_live_bytes = 0;
    uint64_t series_evictions = 0;              // sites that lost their series to bigger ones
};

class Timeline {
public:
    struct Limits {
        // Points per series (a stream's samples, a process's samples). When a series passes it,
        // its oldest half is merged pairwise. 0 = unbounded (tests that want raw history).
        size_t max_points = 1024;
        size_t max_process_points = 8192;
        // Folded streams kept with their summary (listed by reports); older ones are only counted
        // in retired(). 0 = unbounded.
        size_t max_retired_detail = 5000;
        // Estimated bytes the timeline may hold; past it enforce_budget() coarsens. 0 = none.
        uint64_t budget_bytes = 256ull << 20;
        // Notes kept (agent notes); older ones are counted, not kept.
        size_t max_notes = 1000;
        // Native sites that keep a live-bytes series (those with the most live bytes; the others
        // keep only their latest counters). 0 = every site.
        size_t max_native_series = 256;
    };
    static Limits unbounded() { return Limits{0, 0, 0, 0, 0, 0}; }

    Timeline() = default;
    explicit Timeline(const Limits& limits) : limits_(limits), requested_limits_(limits) {}
    const Limits& limits() const { return limits_; }                  // now (after any coarsening)
    const Limits& requested_limits() const { return requested_limits_; }  // as constructed

    // Wall-clock µs of trace time 0. Set from the trace header (or the first record when live).
    void set_start_us(uint64_t start_us) { start_us_ = start_us; }
    uint64_t start_us() const { return start_us_; }

    // Applies one record (trace-global ids, absolute wall-clock t_us). Unknown ids are tolerated:
    // a sample for a stream never announced creates a placeholder stream.
    void apply(const proto::Record& r);

    double to_seconds(uint64_t t_us) const {
        return t_us >= start_us_ ? static_cast<double>(t_us - start_us_) / 1e6
                                 : -static_cast<double>(start_us_ - t_us) / 1e6;
    }

    // Trace time of the last record applied.
    double end_s() const { return end_s_; }

    const std::vector<ProcessInfo>& processes() const { return processes_; }
    const std::vector<StreamInfo>& streams() const { return streams_; }
    const StreamInfo* stream(StreamId id) const;
    const ProcessInfo* process(uint32_t proc) const;
    const std::vector<PipeEdge>& edges() const { return edges_; }
    const std::vector<PipelineInfo>& pipelines() const { return pipelines_; }
    // One entry per (proc, type, site) key, in the order keys were first seen.
    const std::vector<StreamAggregateInfo>& aggregates() const { return aggregates_; }
    const std::vector<Note>& notes() const { return notes_; }
    uint64_t notes_dropped() const { return notes_dropped_; }
    // Native allocation tracking: one entry per process that sent native records, and every site.
    const std::vector<NativeProcessInfo>& native_processes() const { return native_; }
    const NativeProcessInfo* native_process(uint32_t proc) const;
    const std::vector<NativeSiteInfo>& native_sites() const { return native_sites_; }
    const std::string& string(uint32_t id) const;

    // ---- long sessions ----------------------------------------------------------------------
    // Streams touched by records since the last take_dirty() (samples, events, call sites, pipes:
    // both ends), in first-touched order. The incremental detector judges only these.
    std::vector<StreamId> take_dirty();
    // Streams retired at or before `t_s` and not folded yet, oldest first.
    std::vector<StreamId> retired_before(double t_s) const;
    // Folds retired streams: keeps each one's summary, call sites and last point, drops its
    // samples; past max_retired_detail the oldest folded streams leave streams() (with their pipes,
    // and their share of the buffered total), are totalled in retired(), and later records about
    // them are ignored. Ids that are not retired are ignored.
    void fold(const std::vector<StreamId>& ids);
    const std::vector<RetiredStreams>& retired() const { return retired_; }
    uint64_t retired_count() const { return retired_count_; }  // folded streams no longer listed
    // The estimated bytes held (series, streams, strings, edges); O(streams).
    uint64_t estimated_bytes() const;
    // When the estimate passes Limits::budget_bytes: folds every retired stream, halves the
    // per-series caps and the retired detail, and records a Coarsening and a note. Returns true
    // when it coarsened. Called by the detection engine on each tick; it estimates (O(streams))
    // only when 1/64 of the budget was appended since the last estimate or 4 s of trace time
    // passed, so the overshoot is bounded by that much.
    // `before_fold` is called with the retired streams it is about to fold early (the engine
    // judges them first).
    bool enforce_budget(const std::function<void(const std::vector<StreamId>&)>& before_fold = {});
    const std::vector<Coarsening>& coarsenings() const { return coarsenings_; }

private:
    void coarsen_stream(StreamInfo& s);
    void coarsen_process(ProcessInfo& p);
    void coarsen_gc(std::vector<GcPoint>& v);
    void mark_dirty(StreamInfo& s);
    void note_retired(StreamInfo& s, double t_s);
    void drop_oldest_folded();
    void rebuild_stream_index();
    void count_buffered(StreamInfo& s, uint64_t now_bytes);
    bool was_dropped(StreamId id) const;  // folded and no longer listed: late records are ignored
    void retire_process_streams(uint32_t proc, double t_s);
    StreamInfo& stream_mut(StreamId id, double t_s);
    ProcessInfo& process_mut(uint32_t proc);
    void apply_stream_event(const proto::StreamEvent& e, double t_s);
    void add_stream_sample(const proto::StreamSample& s, double t_s);
    void apply_aggregate(const proto::StreamAggregate& a, double t_s);
    NativeProcessInfo& native_mut(uint32_t proc);
    NativeSiteInfo& native_site_mut(uint32_t proc, uint32_t site, double t_s);
    void apply_native_sites(const proto::NativeSites& x, double t_s);
    void coarsen_native(NativeSiteInfo& s);

    Limits limits_;
    uint64_t start_us_ = 0;
    double end_s_ = 0;
    std::vector<StreamId> dirty_;
    std::unordered_set<StreamId> dirty_set_;  // ids queued in dirty_
    std::vector<std::pair<double, StreamId>> retire_queue_;  // (retired_s, id), not yet folded
    std::vector<StreamId> folded_order_;  // folded streams still listed, oldest fold first
    size_t folded_head_ = 0;              // folded_order_[folded_head_..] are still listed
    std::vector<RetiredStreams> retired_;
    std::map<std::tuple<uint32_t, std::string, std::string>, size_t> retired_index_;
    uint64_t retired_count_ = 0;
    std::vector<Coarsening> coarsenings_;
    uint64_t notes_dropped_ = 0;
    uint64_t appended_bytes_ = 0;   // point bytes appended since the last estimate
    double estimated_at_s_ = 0;
    std::unordered_map<uint32_t, uint64_t> proc_buffered_;  // proc → bytes buffered in its streams
    // Ids of streams dropped from the list, as disjoint ranges first → last (trace ids come from
    // one counter, so the ranges stay few).
    std::map<StreamId, StreamId> dropped_ids_;
    Limits requested_limits_;
    std::vector<ProcessInfo> processes_;
    std::vector<StreamInfo> streams_;
    std::unordered_map<StreamId, size_t> stream_index_;
    std::unordered_map<uint32_t, size_t> process_index_;
    std::vector<PipeEdge> edges_;
    std::map<std::pair<StreamId, StreamId>, size_t> latest_edge_;  // (src, dst) → newest edges_ index
    std::map<std::pair<StreamId, StreamId>, uint32_t> pipe_again_;  // (src, dst) → re-pipes after an unpipe
    std::unordered_map<uint64_t, size_t> pipeline_index_;
    std::vector<PipelineInfo> pipelines_;
    std::vector<Note> notes_;
    std::unordered_map<uint32_t, std::string> strings_;
    std::vector<StreamAggregateInfo> aggregates_;
    std::vector<NativeProcessInfo> native_;
    std::vector<NativeSiteInfo> native_sites_;
    std::map<std::pair<uint32_t, uint32_t>, size_t> native_site_index_;  // (proc, site) → index
    std::unordered_map<uint32_t, size_t> native_series_count_;          // proc → sites with a series
    std::map<std::tuple<uint32_t, std::string, std::string>, size_t> aggregate_index_;  // (proc, type, site)
};

}  // namespace tidemark::model

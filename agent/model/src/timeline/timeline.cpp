// Timeline::apply — folds records into the in-memory timeline (timeline.h). Amortized O(1) per
// record: hash lookups by id, appends to per-stream vectors, identical-sample runs collapsed.
// Applying the same record twice (a keyframe's copy of earlier state) changes nothing.
#include "tidemark/model/timeline/timeline.h"

#include <algorithm>
#include <type_traits>

namespace tidemark::model {
namespace {

bool same_state(const proto::StreamSample& a, const proto::StreamSample& b) {
    return a.flags == b.flags && a.readable_length == b.readable_length &&
           a.writable_length == b.writable_length && a.bytes_in == b.bytes_in &&
           a.bytes_pushed == b.bytes_pushed && a.writes_after_false == b.writes_after_false &&
           a.pushes_after_false == b.pushes_after_false && a.write_calls == b.write_calls &&
           a.push_calls == b.push_calls;
}

void set_once(std::optional<double>& slot, double t_s) {
    if (!slot || t_s < *slot) slot = t_s;
}

template <typename T>
void add_unique(std::vector<T>& v, const T& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

const std::string kEmpty;

}  // namespace

const StreamInfo* Timeline::stream(StreamId id) const {
    auto it = stream_index_.find(id);
    return it == stream_index_.end() ? nullptr : &streams_[it->second];
}

const ProcessInfo* Timeline::process(uint32_t proc) const {
    auto it = process_index_.find(proc);
    return it == process_index_.end() ? nullptr : &processes_[it->second];
}

const std::string& Timeline::string(uint32_t id) const {
    auto it = strings_.find(id);
    return it == strings_.end() ? kEmpty : it->second;
}

StreamInfo& Timeline::stream_mut(StreamId id, double t_s) {
    auto [it, inserted] = stream_index_.try_emplace(id, streams_.size());
    if (inserted) {
        StreamInfo info;
        info.id = id;
        info.created_s = t_s;  // placeholder until StreamCreated arrives
        info.last_seen_s = t_s;
        streams_.push_back(std::move(info));
    }
    StreamInfo& s = streams_[it->second];
    s.last_seen_s = std::max(s.last_seen_s, t_s);
    return s;
}

ProcessInfo& Timeline::process_mut(uint32_t proc) {
    auto [it, inserted] = process_index_.try_emplace(proc, processes_.size());
    if (inserted) {
        ProcessInfo info;
        info.proc = proc;
        processes_.push_back(std::move(info));
    }
    return processes_[it->second];
}

void Timeline::add_stream_sample(const proto::StreamSample& x, double t_s) {
    StreamInfo& s = stream_mut(x.id, t_s);
    auto& v = s.samples;
    if (!v.empty() && t_s < v.back().t_s) return;  // older than what we hold: a keyframe repeat
    if (!v.empty() && t_s == v.back().t_s) {       // same instant: the later report wins
        if (same_state(v.back().s, x)) return;
        v.back().s = x;
    } else if (v.size() >= 2 && same_state(v.back().s, x) && same_state(v[v.size() - 2].s, x)) {
        v.back().t_s = t_s;  // extend the run of identical state
        v.back().s.t_us = x.t_us;
    } else {
        v.push_back({t_s, x});
    }
    ++s.sample_count;
    s.peak_readable_length = std::max(s.peak_readable_length, x.readable_length);
    s.peak_writable_length = std::max(s.peak_writable_length, x.writable_length);
    s.flowing_seen |= static_cast<uint8_t>(1u << static_cast<unsigned>(x.flowing()));
    if (x.flags & proto::kFlagDestroyed) set_once(s.destroyed_s, t_s);
    if (x.flags & proto::kFlagErrored) set_once(s.error_s, t_s);
    if (x.flags & proto::kFlagReadableEnded) set_once(s.ended_s, t_s);
    if (x.flags & proto::kFlagFinished) set_once(s.finished_s, t_s);
    if (x.flags & proto::kFlagClosed) set_once(s.closed_s, t_s);
}

void Timeline::apply_stream_event(const proto::StreamEvent& e, double t_s) {
    using proto::StreamEventKind;
    StreamInfo& s = stream_mut(e.id, t_s);
    switch (e.kind) {
        case StreamEventKind::Pipe: {
            if (e.other == 0) break;
            add_unique(s.piped_to, e.other);
            add_unique(stream_mut(e.other, t_s).piped_from, e.id);
            // A pipe that is still open, or a pipe event older than the latest unpipe (a keyframe
            // repeating history), is not a new edge.
            auto [it, inserted] = latest_edge_.try_emplace(std::make_pair(e.id, e.other), edges_.size());
            if (!inserted) {
                const PipeEdge& last = edges_[it->second];
                if (!last.unpiped_s || t_s <= *last.unpiped_s) break;
                it->second = edges_.size();
            }
            edges_.push_back({e.id, e.other, t_s, std::nullopt});
            break;
        }
        case StreamEventKind::Unpipe: {
            auto it = latest_edge_.find(std::make_pair(e.id, e.other));
            if (it != latest_edge_.end() && !edges_[it->second].unpiped_s) edges_[it->second].unpiped_s = t_s;
            break;
        }
        case StreamEventKind::Error:
            if (!s.error_s || t_s < *s.error_s || s.error_message.empty()) {
                if (!s.error_s || t_s <= *s.error_s) s.error_s = t_s;
                if (s.error_message.empty()) s.error_message = string(e.str);
            }
            break;
        case StreamEventKind::Destroy: set_once(s.destroyed_s, t_s); break;
        case StreamEventKind::Gone: set_once(s.gone_s, t_s); break;
        case StreamEventKind::End: set_once(s.ended_s, t_s); break;
        case StreamEventKind::Finish: set_once(s.finished_s, t_s); break;
        case StreamEventKind::Close: set_once(s.closed_s, t_s); break;
    }
}

void Timeline::apply_aggregate(const proto::StreamAggregate& a, double t_s) {
    // Keyed by the strings' texts, not their ids: the agent stops deduplicating strings past a
    // limit, and one text under two ids is still one key.
    auto key = std::make_tuple(a.proc, string(a.type_str), string(a.site_str));
    auto [it, inserted] = aggregate_index_.try_emplace(key, aggregates_.size());
    if (inserted) {
        StreamAggregateInfo info;
        info.proc = a.proc;
        info.type = std::get<1>(key);
        info.site = std::get<2>(key);
        info.first_s = t_s;
        info.updated_s = t_s;
        info.latest = a;
        aggregates_.push_back(std::move(info));
        return;
    }
    StreamAggregateInfo& info = aggregates_[it->second];
    info.first_s = std::min(info.first_s, t_s);
    if (t_s < info.updated_s) return;  // older than what we hold: a keyframe repeat
    info.updated_s = t_s;              // cumulative totals: the latest record supersedes
    info.latest = a;
}

void Timeline::apply(const proto::Record& r) {
    const double t_s = to_seconds(proto::record_time_us(r));
    if (t_s > end_s_) end_s_ = t_s;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, proto::Hello>) {
                ProcessInfo& p = process_mut(x.proc);
                const bool first = p.pid == 0 && p.cmdline.empty();
                p.pid = x.pid;
                p.ppid = x.ppid;
                p.thread_id = x.thread_id;
                p.runtime = x.runtime;
                p.runtime_version = x.runtime_version;
                p.cmdline = x.cmdline;
                p.interval_ms = x.interval_ms;
                if (first || t_s < p.start_s) p.start_s = t_s;
            } else if constexpr (std::is_same_v<T, proto::StringDef>) {
                strings_[x.id] = x.text;
            } else if constexpr (std::is_same_v<T, proto::ProcessSample>) {
                ProcessInfo& p = process_mut(x.proc);
                if (p.samples.empty() && p.pid == 0) p.start_s = t_s;
                ProcessPoint pt{t_s, x.rss_bytes, x.heap_used_bytes, x.heap_total_bytes,
                                x.external_bytes, x.array_buffers_bytes, x.loop_delay_mean_us,
                                x.loop_delay_max_us, x.native_live_bytes};
                if (!p.samples.empty() && t_s < p.samples.back().t_s) return;  // keyframe repeat
                if (!p.samples.empty() && t_s == p.samples.back().t_s) p.samples.back() = pt;
                else p.samples.push_back(pt);
            } else if constexpr (std::is_same_v<T, proto::StreamCreated>) {
                const bool known = stream_index_.count(x.id) != 0;
                StreamInfo& s = stream_mut(x.id, t_s);
                s.proc = x.proc;
                s.kind = x.kind;
                s.type = string(x.type_str);
                s.site = string(x.site_str);
                s.readable_hwm = x.readable_hwm;
                s.writable_hwm = x.writable_hwm;
                if (!known || t_s < s.created_s) s.created_s = t_s;
            } else if constexpr (std::is_same_v<T, proto::StreamSample>) {
                add_stream_sample(x, t_s);
            } else if constexpr (std::is_same_v<T, proto::StreamEvent>) {
                apply_stream_event(x, t_s);
            } else if constexpr (std::is_same_v<T, proto::Pipeline>) {
                PipelineInfo info;
                info.id = x.id;
                info.proc = x.proc;
                info.t_s = t_s;
                info.site = string(x.site_str);
                info.stages = x.stages;
                for (size_t i = 0; i < x.stages.size(); ++i)
                    info.stage_labels.push_back(i < x.stage_strs.size() ? string(x.stage_strs[i]) : "");
                auto [it, inserted] = pipeline_index_.try_emplace(x.id, pipelines_.size());
                if (inserted) pipelines_.push_back(std::move(info));
                else if (t_s < pipelines_[it->second].t_s) pipelines_[it->second] = std::move(info);
            } else if constexpr (std::is_same_v<T, proto::CallSite>) {
                StreamInfo& s = stream_mut(x.id, t_s);
                const std::string& site = string(x.site_str);
                for (auto& c : s.call_sites) {
                    if (c.kind == x.kind && c.site == site) {
                        c.count = std::max(c.count, x.count);
                        c.first_s = std::min(c.first_s, t_s);
                        return;
                    }
                }
                s.call_sites.push_back({x.kind, site, x.count, t_s});
            } else if constexpr (std::is_same_v<T, proto::Dropped>) {
                ProcessInfo& p = process_mut(x.proc);
                p.dropped_records = std::max(p.dropped_records, x.records);
            } else if constexpr (std::is_same_v<T, proto::Goodbye>) {
                ProcessInfo& p = process_mut(x.proc);
                if (!p.exit_code && !p.exit_signal) p.exit_code = x.exit_code;
                if (!p.end_s) p.end_s = t_s;
            } else if constexpr (std::is_same_v<T, proto::ProcessExit>) {
                ProcessInfo& p = process_mut(x.proc);
                if (x.signal != 0) {
                    p.exit_signal = x.signal;
                    p.exit_code.reset();
                } else if (x.code >= 0) {
                    p.exit_code = x.code;
                    p.exit_signal.reset();
                }
                if (!p.end_s || t_s > *p.end_s) p.end_s = t_s;
            } else if constexpr (std::is_same_v<T, proto::AgentNote>) {
                notes_.push_back({t_s, x.text});
            } else if constexpr (std::is_same_v<T, proto::StreamAggregate>) {
                apply_aggregate(x, t_s);
            } else {
                static_assert(sizeof(T) == 0, "Timeline::apply does not handle this record type");
            }
        },
        r);
}

}  // namespace tidemark::model

// Timeline::apply — folds records into the in-memory timeline (timeline.h). Amortized O(1) per
// record: hash lookups by id, appends to per-stream vectors, identical-sample runs collapsed, a
// series that passes its cap merged pairwise in its oldest half (amortized O(1) too). Applying the
// same record twice (a keyframe's copy of earlier state) changes nothing. The long-session half
// (folding retired streams, the memory budget) is at the end of the file.
#include "tidemark/model/timeline/timeline.h"

#include <algorithm>
#include <cstdio>
#include <limits>
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

bool Timeline::was_dropped(StreamId id) const {
    auto it = dropped_ids_.upper_bound(id);
    if (it == dropped_ids_.begin()) return false;
    --it;
    return id >= it->first && id <= it->second;
}

// A process that ended takes its streams with it: they will get no Gone.
void Timeline::retire_process_streams(uint32_t proc, double t_s) {
    for (StreamInfo& s : streams_) {
        if (s.proc != proc || s.retired_s || s.folded) continue;
        s.retired_s = t_s;
        retire_queue_.emplace_back(t_s, s.id);
    }
}

// A stream's share of its process's buffered bytes (the sides not in object mode).
void Timeline::count_buffered(StreamInfo& s, uint64_t now_bytes) {
    uint64_t& total = proc_buffered_[s.proc];
    total = total - std::min(total, s.buffered_counted) + now_bytes;
    s.buffered_counted = now_bytes;
}

void Timeline::mark_dirty(StreamInfo& s) {
    if (dirty_set_.insert(s.id).second) dirty_.push_back(s.id);
}

std::vector<StreamId> Timeline::take_dirty() {
    std::vector<StreamId> out;
    out.swap(dirty_);
    dirty_set_.clear();
    return out;
}

// A stream is retired once nothing more can happen to it: collected, destroyed or closed, or every
// side it has is done (a readable that ended, a writable that finished).
void Timeline::note_retired(StreamInfo& s, double t_s) {
    if (s.retired_s || s.folded) return;
    bool done = s.gone_s || s.destroyed_s || s.closed_s;
    if (!done && (s.readable() || s.writable()))
        done = (!s.readable() || s.ended_s) && (!s.writable() || s.finished_s);
    if (!done) return;
    s.retired_s = t_s;
    retire_queue_.emplace_back(t_s, s.id);
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
    const bool same = !v.empty() && same_state(v.back().s, x);
    if (!v.empty() && t_s == v.back().t_s) {       // same instant: the later report wins
        if (same) return;
        v.back().s = x;
    } else if (v.size() >= 2 && same && same_state(v[v.size() - 2].s, x)) {
        v.back().t_s = t_s;  // extend the run of identical state
        v.back().s.t_us = x.t_us;
    } else {
        v.push_back({t_s, x});
        appended_bytes_ += sizeof(StreamPoint);
        if (limits_.max_points && v.size() > limits_.max_points) coarsen_stream(s);
    }
    // Only a change of state is news to the detectors; time passing is the engine's business.
    if (!same) {
        s.changed_s = t_s;
        mark_dirty(s);
    }
    if (!s.gone_s) {
        const bool r_obj = s.kind & proto::kKindReadableObjectMode, w_obj = s.kind & proto::kKindWritableObjectMode;
        count_buffered(s, (r_obj ? 0 : x.readable_length) + (w_obj ? 0 : x.writable_length));
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
    note_retired(s, t_s);
}

void split_site(const std::string& text, std::string& site, std::string& via) {
    const size_t at = text.rfind(" via ");
    if (at == std::string::npos) {
        site = text;
        via.clear();
        return;
    }
    site = text.substr(0, at);
    via = text.substr(at + 5);
}

void Timeline::apply_stream_event(const proto::StreamEvent& e, double t_s) {
    using proto::StreamEventKind;
    // The other end first: creating it may grow streams_, which must not happen while `s` is held.
    if (e.kind == StreamEventKind::Pipe && e.other != 0) stream_mut(e.other, t_s);
    StreamInfo& s = stream_mut(e.id, t_s);
    mark_dirty(s);
    switch (e.kind) {
        case StreamEventKind::Pipe: {
            if (e.other == 0) break;
            add_unique(s.piped_to, e.other);
            StreamInfo& other = stream_mut(e.other, t_s);
            add_unique(other.piped_from, e.id);
            mark_dirty(other);
            // A pipe that is still open, or a pipe event older than the latest unpipe (a keyframe
            // repeating history), is not a new edge.
            auto [it, inserted] = latest_edge_.try_emplace(std::make_pair(e.id, e.other), edges_.size());
            if (!inserted) {
                PipeEdge& last = edges_[it->second];
                if (!last.unpiped_s || t_s <= *last.unpiped_s) break;
                // Piped again after an unpipe. The history of one pair is kept as its first pipe
                // and its latest one: a pair that pipes and unpipes all day stays two edges.
                if (++pipe_again_[it->first] > 1) {
                    last.piped_s = t_s;
                    last.unpiped_s.reset();
                    break;
                }
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
        case StreamEventKind::Gone:
            set_once(s.gone_s, t_s);
            count_buffered(s, 0);  // collected: its buffers are gone with it
            break;
        case StreamEventKind::End: set_once(s.ended_s, t_s); break;
        case StreamEventKind::Finish: set_once(s.finished_s, t_s); break;
        case StreamEventKind::Close: set_once(s.closed_s, t_s); break;
        case StreamEventKind::DrainWait: {
            const auto reason = static_cast<proto::DrainWaitReason>(e.other);
            std::string site, via;
            split_site(string(e.str), site, via);
            auto it = std::find_if(s.drain_waits.begin(), s.drain_waits.end(),
                                   [&](const DrainWait& w) { return w.reason == reason && w.site == site; });
            if (it != s.drain_waits.end()) {
                if (t_s > it->t_s) ++it->count;  // a keyframe may repeat an earlier one
            } else if (s.drain_waits.size() < 8) {
                s.drain_waits.push_back({t_s, reason, std::move(site), 1, std::move(via)});
            }
            break;
        }
    }
    note_retired(s, t_s);
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
        std::string via;  // shown like a stream's creation site: the app's frame
        split_site(std::get<2>(key), info.site, via);
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
                                x.loop_delay_max_us, x.native_live_bytes, 1,
                                x.heap_used_bytes, x.heap_used_bytes, x.rss_bytes, x.rss_bytes,
                                x.external_bytes, x.external_bytes, x.array_buffers_bytes, t_s,
                                proc_buffered_[x.proc]};
                if (!p.samples.empty() && t_s < p.samples.back().t_s) return;  // keyframe repeat
                if (!p.samples.empty() && t_s == p.samples.back().t_s) {
                    p.samples.back() = pt;
                } else {
                    p.samples.push_back(pt);
                    appended_bytes_ += sizeof(ProcessPoint);
                    ++p.sample_count;
                    if (limits_.max_process_points && p.samples.size() > limits_.max_process_points)
                        coarsen_process(p);
                }
            } else if constexpr (std::is_same_v<T, proto::StreamCreated>) {
                if (was_dropped(x.id)) return;
                const bool known = stream_index_.count(x.id) != 0;
                StreamInfo& s = stream_mut(x.id, t_s);
                if (known && s.proc != x.proc) {  // its buffered share moves with it
                    const uint64_t share = s.buffered_counted;
                    count_buffered(s, 0);
                    s.proc = x.proc;
                    count_buffered(s, share);
                }
                s.proc = x.proc;
                s.kind = x.kind;
                s.type = string(x.type_str);
                split_site(string(x.site_str), s.site, s.site_via);
                s.readable_hwm = x.readable_hwm;
                s.writable_hwm = x.writable_hwm;
                if (!known || t_s < s.created_s) s.created_s = t_s;
                mark_dirty(s);
            } else if constexpr (std::is_same_v<T, proto::StreamSample>) {
                if (was_dropped(x.id)) return;
                add_stream_sample(x, t_s);
            } else if constexpr (std::is_same_v<T, proto::StreamEvent>) {
                // (a DrainWait's `other` is a reason code, not a stream)
                if (was_dropped(x.id) ||
                    (x.kind != proto::StreamEventKind::DrainWait && x.other && was_dropped(x.other)))
                    return;
                apply_stream_event(x, t_s);
            } else if constexpr (std::is_same_v<T, proto::Pipeline>) {
                PipelineInfo info;
                info.id = x.id;
                info.proc = x.proc;
                info.t_s = t_s;
                std::string via;
                split_site(string(x.site_str), info.site, via);
                info.stages = x.stages;
                for (size_t i = 0; i < x.stages.size(); ++i)
                    info.stage_labels.push_back(i < x.stage_strs.size() ? string(x.stage_strs[i]) : "");
                auto [it, inserted] = pipeline_index_.try_emplace(x.id, pipelines_.size());
                if (inserted) pipelines_.push_back(std::move(info));
                else if (t_s < pipelines_[it->second].t_s) pipelines_[it->second] = std::move(info);
            } else if constexpr (std::is_same_v<T, proto::CallSite>) {
                if (was_dropped(x.id)) return;
                StreamInfo& s = stream_mut(x.id, t_s);
                mark_dirty(s);
                std::string site, via;
                split_site(string(x.site_str), site, via);
                for (auto& c : s.call_sites) {
                    if (c.kind == x.kind && c.site == site && c.via == via) {
                        c.count = std::max(c.count, x.count);
                        c.first_s = std::min(c.first_s, t_s);
                        return;
                    }
                }
                s.call_sites.push_back({x.kind, std::move(site), x.count, t_s, std::move(via)});
            } else if constexpr (std::is_same_v<T, proto::Dropped>) {
                ProcessInfo& p = process_mut(x.proc);
                p.dropped_records = std::max(p.dropped_records, x.records);
            } else if constexpr (std::is_same_v<T, proto::Goodbye>) {
                ProcessInfo& p = process_mut(x.proc);
                if (!p.exit_code && !p.exit_signal) p.exit_code = x.exit_code;
                if (!p.end_s) p.end_s = t_s;
                retire_process_streams(x.proc, t_s);
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
                retire_process_streams(x.proc, t_s);
            } else if constexpr (std::is_same_v<T, proto::AgentNote>) {
                if (limits_.max_notes && notes_.size() >= limits_.max_notes) ++notes_dropped_;
                else notes_.push_back({t_s, x.text});
            } else if constexpr (std::is_same_v<T, proto::StreamAggregate>) {
                apply_aggregate(x, t_s);
            } else if constexpr (std::is_same_v<T, proto::GcEvent>) {
                ProcessInfo& p = process_mut(x.proc);
                auto& v = x.kind == proto::GcKind::Major ? p.majors : p.minors;
                if (!v.empty() && t_s <= v.back().t_s) return;  // a repeat (seek replays from a keyframe)
                p.gc_observed = true;
                v.push_back({t_s, x.kind, x.count, x.pause_us, x.heap_before, x.heap_after, x.freed_bytes,
                             x.external_after, x.requested});
                appended_bytes_ += sizeof(GcPoint);
                (x.kind == proto::GcKind::Major ? p.major_collections : p.minor_collections) += x.count;
                if (x.requested) ++p.requested_collections;
                if (limits_.max_process_points && v.size() > limits_.max_process_points) coarsen_gc(v);
            } else if constexpr (std::is_same_v<T, proto::NativeModules>) {
                NativeProcessInfo& n = native_mut(x.proc);
                if (x.generation < n.modules_generation) return;  // a keyframe repeat
                n.modules_generation = x.generation;
                n.modules = x.modules;
            } else if constexpr (std::is_same_v<T, proto::NativeStack>) {
                native_mut(x.proc);
                NativeSiteInfo& site = native_site_mut(x.proc, x.site, t_s);
                site.frames = x.frames;
            } else if constexpr (std::is_same_v<T, proto::NativeSites>) {
                apply_native_sites(x, t_s);
            } else if constexpr (std::is_same_v<T, proto::NativeStatus>) {
                NativeProcessInfo& n = native_mut(x.proc);
                n.mode = x.mode;
                n.sample_interval_bytes = x.sample_interval_bytes;
                n.status = x;
                n.peak_live_bytes = std::max(n.peak_live_bytes, x.live_bytes);
            } else {
                static_assert(sizeof(T) == 0, "Timeline::apply does not handle this record type");
            }
        },
        r);
}

// ---- native sites ---------------------------------------------------------------------------------

const NativeProcessInfo* Timeline::native_process(uint32_t proc) const {
    for (const auto& n : native_)
        if (n.proc == proc) return &n;
    return nullptr;
}

NativeProcessInfo& Timeline::native_mut(uint32_t proc) {
    for (auto& n : native_)
        if (n.proc == proc) return n;
    native_.push_back(NativeProcessInfo{});
    native_.back().proc = proc;
    return native_.back();
}

NativeSiteInfo& Timeline::native_site_mut(uint32_t proc, uint32_t site, double t_s) {
    auto [it, inserted] = native_site_index_.try_emplace({proc, site}, native_sites_.size());
    if (inserted) {
        NativeSiteInfo s;
        s.proc = proc;
        s.site = site;
        s.latest.site = site;
        s.first_s = t_s;
        s.updated_s = t_s;
        native_sites_.push_back(std::move(s));
    }
    return native_sites_[it->second];
}

// Counters are cumulative: the latest record of a site supersedes the earlier ones. A site with a
// series gets a point; one without gets a series when there is room, or when it now holds more
// live bytes than the smallest site that has one (which then loses its series).
void Timeline::apply_native_sites(const proto::NativeSites& x, double t_s) {
    NativeProcessInfo& n = native_mut(x.proc);
    size_t& with_series = native_series_count_[x.proc];
    const size_t cap = limits_.max_native_series;
    for (const proto::NativeSiteCounters& c : x.sites) {
        NativeSiteInfo& s = native_site_mut(x.proc, c.site, t_s);
        if (t_s < s.updated_s && s.latest.allocs >= c.allocs) continue;  // a keyframe repeat
        s.latest = c;
        s.updated_s = t_s;
        const uint64_t live = c.live_bytes();
        s.peak_live_bytes = std::max(s.peak_live_bytes, live);
        if (!s.has_series) {
            if (cap && with_series >= cap) {
                // Evict the smallest series holder of this process if this site is bigger now.
                NativeSiteInfo* smallest = nullptr;
                for (auto& o : native_sites_)
                    if (o.proc == x.proc && o.has_series && (!smallest || o.latest.live_bytes() < smallest->latest.live_bytes()))
                        smallest = &o;
                if (!smallest || smallest->latest.live_bytes() >= live) continue;
                smallest->has_series = false;
                smallest->series.clear();
                smallest->series.shrink_to_fit();
                ++n.series_evictions;
                --with_series;
            }
            s.has_series = true;
            s.series_from_s = t_s;
            ++with_series;
        }
        if (!s.series.empty() && t_s <= s.series.back().t_s) {
            s.series.back().live_bytes = live;
            s.series.back().max_live_bytes = std::max(s.series.back().max_live_bytes, live);
            continue;
        }
        s.series.push_back({t_s, live, live});
        appended_bytes_ += sizeof(NativePoint);
        if (limits_.max_points && s.series.size() > limits_.max_points) coarsen_native(s);
    }
}

void Timeline::coarsen_native(NativeSiteInfo& s) {
    const size_t half = s.series.size() / 2;
    std::vector<NativePoint> out;
    out.reserve(s.series.size() - half / 2);
    for (size_t i = 0; i + 1 < half; i += 2) {
        NativePoint m = s.series[i + 1];
        m.max_live_bytes = std::max(s.series[i].max_live_bytes, m.max_live_bytes);
        out.push_back(m);
    }
    if (half % 2) out.push_back(s.series[half - 1]);
    out.insert(out.end(), s.series.begin() + static_cast<std::ptrdiff_t>(half), s.series.end());
    s.series = std::move(out);
}

// ---- long sessions ------------------------------------------------------------------------------

namespace {

// Merges pairs of neighbours in the oldest half of `v` with `merge(earlier, later)`, which writes
// the merged bucket into `earlier`. The newest half is left as it is.
template <typename Point, typename Merge>
void merge_oldest_half(std::vector<Point>& v, Merge merge) {
    const size_t half = (v.size() / 2) & ~size_t{1};
    size_t out = 0;
    for (size_t i = 0; i + 1 < half; i += 2) {
        Point a = v[i];
        merge(a, v[i + 1]);
        v[out++] = a;
    }
    for (size_t i = half; i < v.size(); ++i) v[out++] = v[i];
    v.resize(out);
}

template <typename T>
void keep_min(T& a, T b) { a = std::min(a, b); }
template <typename T>
void keep_max(T& a, T b) { a = std::max(a, b); }

}  // namespace

void Timeline::coarsen_stream(StreamInfo& s) {
    const size_t cap = std::max<size_t>(limits_.max_points, 4);
    while (s.samples.size() > cap) {
        merge_oldest_half(s.samples, [](StreamPoint& a, const StreamPoint& b) {
            const uint64_t rl = std::max(a.s.readable_length, b.s.readable_length);
            const uint64_t wl = std::max(a.s.writable_length, b.s.writable_length);
            a.s = b.s;  // counters are cumulative: the later state says it all
            a.s.readable_length = rl;
            a.s.writable_length = wl;
        });
        s.coarsened = true;
    }
}

void Timeline::coarsen_process(ProcessInfo& p) {
    const size_t cap = std::max<size_t>(limits_.max_process_points, 4);
    while (p.samples.size() > cap) {
        merge_oldest_half(p.samples, [](ProcessPoint& a, const ProcessPoint& b) {
            ProcessPoint m = b;  // the last sample's time and values
            m.first_t_s = a.first_t_s;
            m.merged = a.merged + b.merged;
            keep_min(m.heap_used_min, a.heap_used_min);
            keep_max(m.heap_used_max, a.heap_used_max);
            keep_min(m.rss_min, a.rss_min);
            keep_max(m.rss_max, a.rss_max);
            keep_min(m.external_min, a.external_min);
            keep_max(m.external_max, a.external_max);
            keep_max(m.array_buffers_max, a.array_buffers_max);
            keep_max(m.loop_delay_max_us, a.loop_delay_max_us);
            a = m;
        });
    }
}

void Timeline::coarsen_gc(std::vector<GcPoint>& v) {
    const size_t cap = std::max<size_t>(limits_.max_process_points, 4);
    while (v.size() > cap) {
        merge_oldest_half(v, [](GcPoint& a, const GcPoint& b) {
            GcPoint m = b;  // the later floor
            m.count = a.count + b.count;
            m.pause_us = a.pause_us + b.pause_us;
            m.freed_bytes = a.freed_bytes + b.freed_bytes;
            m.requested = a.requested || b.requested;
            a = m;
        });
    }
}

std::vector<StreamId> Timeline::retired_before(double t_s) const {
    std::vector<StreamId> out;
    for (const auto& [when, id] : retire_queue_)
        if (when <= t_s) out.push_back(id);
    return out;
}

void Timeline::fold(const std::vector<StreamId>& ids) {
    if (ids.empty()) return;
    std::unordered_set<StreamId> folding;
    for (StreamId id : ids) {
        auto it = stream_index_.find(id);
        if (it == stream_index_.end()) continue;
        StreamInfo& s = streams_[it->second];
        if (s.folded || !s.retired_s) continue;
        s.folded = true;
        if (s.samples.size() > 1) {
            StreamPoint last = s.samples.back();
            s.samples.assign(1, last);
            s.samples.shrink_to_fit();
        }
        folded_order_.push_back(id);
        folding.insert(id);
    }
    if (folding.empty()) return;
    std::erase_if(retire_queue_, [&](const auto& e) { return folding.count(e.second) != 0; });
    drop_oldest_folded();
}

// Past max_retired_detail listed folded streams, the oldest leave streams() and are totalled per
// (process, type, site); their pipes and pipelines go with them.
void Timeline::drop_oldest_folded() {
    const size_t listed = folded_order_.size() - folded_head_;
    // Dropped in batches (down to the limit once it is passed by an eighth): each drop rebuilds
    // the stream index, so one per fold would cost O(streams) per tick.
    if (!limits_.max_retired_detail || listed <= limits_.max_retired_detail + limits_.max_retired_detail / 8) return;
    std::unordered_set<StreamId> gone;
    while (folded_order_.size() - folded_head_ > limits_.max_retired_detail) {
        const StreamId id = folded_order_[folded_head_++];
        auto it = stream_index_.find(id);
        if (it == stream_index_.end()) continue;
        const StreamInfo& s = streams_[it->second];
        auto key = std::make_tuple(s.proc, s.type, s.site);
        auto [rit, inserted] = retired_index_.try_emplace(key, retired_.size());
        if (inserted) {
            RetiredStreams r;
            r.proc = s.proc;
            r.type = s.type;
            r.site = s.site;
            r.first_created_s = s.created_s;
            retired_.push_back(std::move(r));
        }
        RetiredStreams& r = retired_[rit->second];
        ++r.count;
        r.first_created_s = std::min(r.first_created_s, s.created_s);
        const double retired_at = s.retired_s.value_or(s.last_seen_s);
        r.last_retired_s = std::max(r.last_retired_s, retired_at);
        keep_max(r.peak_readable_length, s.peak_readable_length);
        keep_max(r.peak_writable_length, s.peak_writable_length);
        if (const proto::StreamSample* last = s.last()) {
            r.bytes_in += last->bytes_in;
            r.bytes_pushed += last->bytes_pushed;
            r.writes_after_false += last->writes_after_false;
            r.pushes_after_false += last->pushes_after_false;
        }
        r.errored += s.error_s ? 1 : 0;
        const double life = std::max(0.0, retired_at - s.created_s);
        r.total_lifetime_s += life;
        r.max_lifetime_s = std::max(r.max_lifetime_s, life);
        ++retired_count_;
        gone.insert(id);
        count_buffered(streams_[it->second], 0);  // its share leaves its process's total
        // Remember the id as a range, merged with its neighbours.
        auto next = dropped_ids_.lower_bound(id);
        StreamId first = id, last = id;
        if (next != dropped_ids_.begin()) {
            auto prev = std::prev(next);
            if (prev->second + 1 >= id) {
                first = prev->first;
                last = std::max(prev->second, id);
                next = dropped_ids_.erase(prev);
            }
        }
        if (next != dropped_ids_.end() && next->first <= last + 1) {
            last = std::max(last, next->second);
            dropped_ids_.erase(next);
        }
        dropped_ids_[first] = last;
    }
    if (folded_head_ > 4096 && folded_head_ * 2 > folded_order_.size()) {
        folded_order_.erase(folded_order_.begin(), folded_order_.begin() + static_cast<std::ptrdiff_t>(folded_head_));
        folded_head_ = 0;
    }
    if (gone.empty()) return;
    std::erase_if(streams_, [&](const StreamInfo& s) { return gone.count(s.id) != 0; });
    rebuild_stream_index();
    // Pipes and pipelines that no longer touch a listed stream leave too.
    auto listed_id = [&](StreamId id) { return stream_index_.count(id) != 0; };
    std::erase_if(edges_, [&](const PipeEdge& e) { return !listed_id(e.src) || !listed_id(e.dst); });
    latest_edge_.clear();
    for (size_t i = 0; i < edges_.size(); ++i) latest_edge_[{edges_[i].src, edges_[i].dst}] = i;
    std::erase_if(pipe_again_, [&](const auto& e) { return !latest_edge_.count(e.first); });
    std::erase_if(pipelines_, [&](const PipelineInfo& p) {
        return std::none_of(p.stages.begin(), p.stages.end(), [&](StreamId id) { return id && listed_id(id); }) &&
               std::any_of(p.stages.begin(), p.stages.end(), [](StreamId id) { return id != 0; });
    });
    // Pipelines of no stream at all (generators and functions only) are kept up to the listed
    // detail, the newest.
    const size_t streamless = static_cast<size_t>(std::count_if(pipelines_.begin(), pipelines_.end(), [](const PipelineInfo& p) {
        return std::none_of(p.stages.begin(), p.stages.end(), [](StreamId id) { return id != 0; });
    }));
    if (streamless > limits_.max_retired_detail) {
        size_t excess = streamless - limits_.max_retired_detail;
        std::erase_if(pipelines_, [&](const PipelineInfo& p) {
            if (!excess || std::any_of(p.stages.begin(), p.stages.end(), [](StreamId id) { return id != 0; })) return false;
            --excess;
            return true;
        });
    }
    pipeline_index_.clear();
    for (size_t i = 0; i < pipelines_.size(); ++i) pipeline_index_[pipelines_[i].id] = i;
    for (StreamInfo& s : streams_) {
        std::erase_if(s.piped_to, [&](StreamId id) { return gone.count(id) != 0; });
        std::erase_if(s.piped_from, [&](StreamId id) { return gone.count(id) != 0; });
    }
}

void Timeline::rebuild_stream_index() {
    stream_index_.clear();
    stream_index_.reserve(streams_.size());
    for (size_t i = 0; i < streams_.size(); ++i) stream_index_[streams_[i].id] = i;
}

uint64_t Timeline::estimated_bytes() const {
    uint64_t n = sizeof(Timeline);
    for (const StreamInfo& s : streams_) {
        n += sizeof(StreamInfo) + s.samples.capacity() * sizeof(StreamPoint) + s.type.capacity() +
             s.site.capacity() + s.error_message.capacity() +
             (s.piped_to.capacity() + s.piped_from.capacity()) * sizeof(StreamId);
        for (const auto& c : s.call_sites) n += sizeof(CallSiteCount) + c.site.capacity();
    }
    n += stream_index_.size() * (sizeof(StreamId) + sizeof(size_t) + 16);
    for (const ProcessInfo& p : processes_)
        n += sizeof(ProcessInfo) + p.samples.capacity() * sizeof(ProcessPoint) + p.cmdline.capacity() +
             (p.majors.capacity() + p.minors.capacity()) * sizeof(GcPoint);
    n += edges_.capacity() * sizeof(PipeEdge) + latest_edge_.size() * 64;
    for (const auto& p : pipelines_) n += sizeof(PipelineInfo) + p.stages.capacity() * 8 + p.stage_labels.size() * 40;
    for (const auto& [id, text] : strings_) n += 48 + text.capacity();
    n += aggregates_.capacity() * sizeof(StreamAggregateInfo) + aggregate_index_.size() * 96;
    n += retired_.capacity() * sizeof(RetiredStreams) + retired_index_.size() * 96;
    n += folded_order_.capacity() * sizeof(StreamId) + retire_queue_.capacity() * 16;
    for (const auto& note : notes_) n += sizeof(Note) + note.text.capacity();
    return n;
}

bool Timeline::enforce_budget(const std::function<void(const std::vector<StreamId>&)>& before_fold) {
    if (!limits_.budget_bytes) return false;
    if (appended_bytes_ < limits_.budget_bytes / 64 && end_s_ - estimated_at_s_ < 4.0) return false;
    appended_bytes_ = 0;
    estimated_at_s_ = end_s_;
    const uint64_t estimate = estimated_bytes();
    if (estimate <= limits_.budget_bytes) return false;
    constexpr size_t kFloorPoints = 16, kFloorProcessPoints = 256, kFloorDetail = 64;
    const bool at_floor = limits_.max_points == kFloorPoints && limits_.max_process_points == kFloorProcessPoints &&
                          limits_.max_retired_detail == kFloorDetail;
    const std::vector<StreamId> retired_now = retired_before(std::numeric_limits<double>::infinity());
    if (before_fold && !retired_now.empty()) before_fold(retired_now);
    fold(retired_now);
    if (at_floor) return false;  // said so once, when the floor was reached
    auto halve = [](size_t v, size_t floor) { return v == 0 || v / 2 < floor ? floor : v / 2; };
    limits_.max_points = halve(limits_.max_points, kFloorPoints);
    limits_.max_process_points = halve(limits_.max_process_points, kFloorProcessPoints);
    limits_.max_retired_detail = halve(limits_.max_retired_detail, kFloorDetail);
    for (StreamInfo& s : streams_)
        if (s.samples.size() > limits_.max_points) coarsen_stream(s);
    for (ProcessInfo& p : processes_) {
        if (p.samples.size() > limits_.max_process_points) coarsen_process(p);
        if (p.majors.size() > limits_.max_process_points) coarsen_gc(p.majors);
        if (p.minors.size() > limits_.max_process_points) coarsen_gc(p.minors);
    }
    drop_oldest_folded();
    for (StreamInfo& s : streams_) s.samples.shrink_to_fit();
    for (ProcessInfo& p : processes_) p.samples.shrink_to_fit();
    Coarsening c{end_s_, estimate, limits_.max_points, limits_.max_retired_detail};
    coarsenings_.push_back(c);
    char text[256];
    std::snprintf(text, sizeof text,
                  "memory budget of %.0f MiB reached (estimated %.0f MiB): history coarsened to at most %zu "
                  "points per stream, %zu retired streams listed%s",
                  static_cast<double>(limits_.budget_bytes) / 1048576.0, static_cast<double>(estimate) / 1048576.0,
                  limits_.max_points, limits_.max_retired_detail,
                  limits_.max_points == kFloorPoints ? " (the floor: it coarsens no further)" : "");
    notes_.push_back({end_s_, text});
    return true;
}

}  // namespace tidemark::model

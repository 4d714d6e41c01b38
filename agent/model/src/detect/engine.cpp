// DetectionEngine (engine.h): incremental ticks over what changed, a last judgement before a
// retired stream is folded, and the process-wide rules on their own cadence.
#include "tidemark/model/detect/engine.h"

#include <algorithm>
#include <limits>

#include "detect/util.h"

namespace tidemark::model {
namespace {

// Whether time passing alone can still change what the detectors say about this stream: it holds
// data or a pending write (a stall, an overfill that lasts), or it errored (left open).
bool needs_watch(const StreamInfo& s) {
    if (s.folded) return false;
    const proto::StreamSample* last = s.last();
    if (!last) return false;
    return last->readable_length > 0 || last->writable_length > 0 || (last->flags & proto::kFlagWriting) ||
           (last->flags & proto::kFlagNeedDrain) || s.error_s.has_value();
}

}  // namespace

DetectionEngine::DetectionEngine(const DetectorOptions& detector, const EngineOptions& engine)
    : detector_(detector), engine_(engine) {}

bool DetectionEngine::observe(Timeline& timeline) {
    const double now = timeline.end_s();
    if (!started_) {
        started_ = true;
        next_tick_s_ = now + engine_.tick_s;
        next_global_s_ = now + engine_.global_every_s;
        return false;
    }
    if (now < next_tick_s_) return false;
    tick(timeline);
    return true;
}

void DetectionEngine::keep(const Finding& f, bool replace) {
    const std::string key = finding_key(f);
    auto [it, inserted] = stream_findings_.try_emplace(key, f);
    if (!inserted) {
        if (!replace && f.severity < it->second.severity) return;  // never downgrade a kept one
        it->second = f;
    }
    if (inserted && f.stream) keys_of_stream_[f.stream->id].push_back(key);
}

void DetectionEngine::judge(Timeline& timeline, const std::vector<StreamId>& ids) {
    if (ids.empty()) return;
    detail::StreamList list;
    list.reserve(ids.size());
    for (StreamId id : ids)
        if (const StreamInfo* s = timeline.stream(id); s && !s->folded) list.push_back(s);
    if (list.empty()) return;
    stats_.streams_judged += list.size();
    const std::vector<ChainView> chain_views =
        timeline.edges().empty() && timeline.pipelines().empty() ? std::vector<ChainView>{} : chains(timeline, detector_);
    std::vector<Finding> found;
    detail::detect_ignored_backpressure(timeline, detector_, chain_views, list, found);
    detail::detect_readable_buffers(timeline, detector_, chain_views, list, found);
    detail::detect_stalls(timeline, detector_, list, found);
    // A stream judged with its raw history is judged afresh: what it no longer shows goes. One
    // whose older history was coarsened keeps what it showed while it was raw.
    for (const StreamInfo* s : list) {
        if (s->coarsened) continue;
        auto it = keys_of_stream_.find(s->id);
        if (it == keys_of_stream_.end()) continue;
        for (const std::string& key : it->second) stream_findings_.erase(key);
        keys_of_stream_.erase(it);
    }
    for (const Finding& f : found) {
        const StreamInfo* s = f.stream ? timeline.stream(f.stream->id) : nullptr;
        keep(f, !(s && s->coarsened));  // coarsened: never downgraded
    }
    const double now = timeline.end_s();
    for (const StreamInfo* s : list) {
        if (!needs_watch(*s)) {
            watch_.erase(s->id);
            continue;
        }
        const bool settled = now - s->changed_s >= engine_.settle_s;
        double next = now + (settled ? engine_.settled_every_s : 0.0);
        if (s->samples.size() > engine_.long_history_points) next = std::max(next, now + engine_.long_history_every_s);
        watch_[s->id] = next;
    }
}

void DetectionEngine::add_repeated(const Finding& found) {
    const std::string group = std::string(finding_kind_name(found.kind)) + "|" +
                              (found.stream ? found.stream->type + "|" + found.stream->created_at : "|") + "|" +
                              found.site;
    auto [g, inserted] = repeated_findings_.try_emplace(group, Repeated{found, 0});
    ++g->second.streams;
    if (!inserted && found.severity > g->second.first.severity) g->second.first.severity = found.severity;
}

// Streams dropped from the timeline's list take their findings into one finding per (kind, type,
// creation site, offending site) that counts them, so a mistake repeated on every request is one
// line that says how often, not one line per stream forever.
void DetectionEngine::fold_findings_of_dropped(const Timeline& timeline) {
    if (timeline.retired_count() == dropped_seen_) return;
    dropped_seen_ = timeline.retired_count();
    for (auto it = keys_of_stream_.begin(); it != keys_of_stream_.end();) {
        if (timeline.stream(it->first)) {
            ++it;
            continue;
        }
        for (const std::string& key : it->second) {
            auto f = stream_findings_.find(key);
            if (f == stream_findings_.end()) continue;
            add_repeated(f->second);
            stream_findings_.erase(f);
        }
        it = keys_of_stream_.erase(it);
    }
    // Streams left open after an error, the same way.
    for (auto it = latched_findings_.begin(); it != latched_findings_.end();) {
        const Finding& found = it->second;
        if (!found.stream || timeline.stream(found.stream->id)) {
            ++it;
            continue;
        }
        add_repeated(found);
        it = latched_findings_.erase(it);
    }
}

void DetectionEngine::run_global(const Timeline& timeline) {
    ++stats_.global_runs;
    std::vector<Finding> left_open;
    detail::detect_left_open(timeline, detector_, left_open);
    for (Finding& f : left_open) {
        const std::string key = finding_key(f);
        auto [it, inserted] = latched_findings_.try_emplace(key, f);
        if (!inserted && f.severity >= it->second.severity) it->second = std::move(f);
    }
    growth_findings_.clear();
    detail::detect_growth(timeline, detector_, growth_findings_);
}

void DetectionEngine::tick(Timeline& timeline) {
    ++stats_.ticks;
    const double now = timeline.end_s();
    next_tick_s_ = now + engine_.tick_s;

    // What changed, with its pipe and pipeline neighbours (their messages quote each other). A
    // stream with a long history that changed is judged on its own cadence (deferred_).
    std::vector<StreamId> ids;
    for (StreamId id : timeline.take_dirty()) {
        const StreamInfo* s = timeline.stream(id);
        if (s && s->samples.size() > engine_.long_history_points && !s->retired_s) {
            Deferral& d = deferred_[id];
            if (d.next_s > now) {
                d.pending = true;  // judged when its turn comes
                continue;
            }
            d.next_s = now + engine_.long_history_every_s;
            d.pending = false;
        }
        ids.push_back(id);
    }
    for (auto it = deferred_.begin(); it != deferred_.end();) {
        Deferral& d = it->second;
        if (d.pending && d.next_s <= now) {
            ids.push_back(it->first);
            d.next_s = now + engine_.long_history_every_s;
            d.pending = false;
        } else if (!d.pending && d.next_s + engine_.long_history_every_s < now) {
            it = deferred_.erase(it);  // quiet for a while: forget it
            continue;
        }
        ++it;
    }
    std::unordered_set<StreamId> chosen(ids.begin(), ids.end());
    auto add = [&](StreamId id) {
        if (id && chosen.insert(id).second) ids.push_back(id);
    };
    const size_t changed = ids.size();
    if (!timeline.edges().empty() || !timeline.pipelines().empty()) {
        std::unordered_map<StreamId, std::vector<StreamId>> partners;
        for (const PipelineInfo& p : timeline.pipelines())
            for (StreamId a : p.stages)
                for (StreamId b : p.stages)
                    if (a && b && a != b) partners[a].push_back(b);
        for (size_t i = 0; i < changed; ++i) {
            if (const StreamInfo* s = timeline.stream(ids[i])) {
                for (StreamId o : s->piped_to) add(o);
                for (StreamId o : s->piped_from) add(o);
            }
            if (auto it = partners.find(ids[i]); it != partners.end())
                for (StreamId o : it->second) add(o);
        }
    }
    for (const auto& [id, due] : watch_)
        if (due <= now) add(id);
    // Retired long enough: judged one last time, then folded.
    const std::vector<StreamId> to_fold = timeline.retired_before(now - engine_.linger_s);
    for (StreamId id : to_fold) add(id);
    judge(timeline, ids);

    if (now >= next_global_s_) {
        run_global(timeline);
        next_global_s_ = now + engine_.global_every_s;
    }
    if (!to_fold.empty()) {
        timeline.fold(to_fold);
        fold_findings_of_dropped(timeline);
        stats_.streams_folded += to_fold.size();
        for (StreamId id : to_fold) {
            watch_.erase(id);
            deferred_.erase(id);
        }
    }
    {
        if (timeline.enforce_budget([&](const std::vector<StreamId>& early) { judge(timeline, early); })) {
            fold_findings_of_dropped(timeline);
            // It may have folded streams too: stop watching them.
            std::erase_if(watch_, [&](const auto& entry) {
                const StreamInfo* s = timeline.stream(entry.first);
                return !s || s->folded;
            });
        }
    }
}

void DetectionEngine::finish(Timeline& timeline) {
    ++stats_.ticks;
    timeline.take_dirty();
    std::vector<StreamId> ids;
    ids.reserve(timeline.streams().size());
    for (const StreamInfo& s : timeline.streams())
        if (!s.folded) ids.push_back(s.id);
    judge(timeline, ids);
    run_global(timeline);
    next_tick_s_ = timeline.end_s() + engine_.tick_s;
    next_global_s_ = timeline.end_s() + engine_.global_every_s;
}

void DetectionEngine::append_repeated(std::vector<Finding>& out) const {
    for (const auto& [group, r] : repeated_findings_) {
        Finding f = r.first;
        if (r.streams > 1) {
            f.message += " The same finding was made on " + std::to_string(r.streams) +
                         " streams of this type and creation site that have since retired (the first is quoted).";
            f.evidence.emplace_back("streams_with_this_finding", static_cast<double>(r.streams));
        }
        out.push_back(std::move(f));
    }
}

void DetectionEngine::append_kept(std::vector<Finding>& out) const {
    out.reserve(out.size() + stream_findings_.size() + latched_findings_.size() + repeated_findings_.size());
    for (const auto& [key, f] : stream_findings_) out.push_back(f);
    for (const auto& [key, f] : latched_findings_)
        if (!stream_findings_.count(key)) out.push_back(f);
    append_repeated(out);
}

std::vector<Finding> DetectionEngine::findings() const {
    std::vector<Finding> out;
    append_kept(out);
    for (const Finding& f : growth_findings_) out.push_back(f);
    // detect() emits per-stream rules in stream order; keep a deterministic order before sorting.
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        const StreamId ia = a.stream ? a.stream->id : std::numeric_limits<StreamId>::max();
        const StreamId ib = b.stream ? b.stream->id : std::numeric_limits<StreamId>::max();
        return ia < ib;
    });
    sort_findings(out);
    return out;
}

std::vector<Finding> DetectionEngine::findings(const Timeline& timeline, const DetectorOptions& growth_options) const {
    std::vector<Finding> out;
    append_kept(out);
    detail::detect_growth(timeline, growth_options, out);
    sort_findings(out);
    return out;
}

}  // namespace tidemark::model

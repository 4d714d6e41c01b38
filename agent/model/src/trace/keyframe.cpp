// KeyframeState (trace_keyframe.h): the live state a keyframe chunk repeats.
#include "tidemark/model/trace/keyframe.h"

#include <algorithm>
#include <type_traits>

namespace tidemark::model {

KeyframeState::Stream& KeyframeState::stream(uint64_t id) { return streams_[id]; }

void KeyframeState::apply(const proto::Record& record) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            using proto::StreamEventKind;
            if constexpr (std::is_same_v<T, proto::Hello>) {
                processes_[x.proc].hello = x;
            } else if constexpr (std::is_same_v<T, proto::StringDef>) {
                strings_[x.id] = x;
            } else if constexpr (std::is_same_v<T, proto::ProcessSample>) {
                processes_[x.proc].sample = x;
            } else if constexpr (std::is_same_v<T, proto::StreamCreated>) {
                Stream& s = stream(x.id);
                s.created = x;
                s.has_created = true;
            } else if constexpr (std::is_same_v<T, proto::StreamSample>) {
                stream(x.id).sample = x;
            } else if constexpr (std::is_same_v<T, proto::StreamEvent>) {
                if (x.kind == StreamEventKind::Gone) {
                    streams_.erase(x.id);
                    return;
                }
                Stream& s = stream(x.id);
                if (x.kind == StreamEventKind::Pipe) {
                    s.pipes_to.try_emplace(x.other, x);
                } else if (x.kind == StreamEventKind::Unpipe) {
                    s.pipes_to.erase(x.other);
                } else {
                    // One of each lifecycle kind is enough: the first error, the first destroy…
                    for (const auto& e : s.lifecycle)
                        if (e.kind == x.kind) return;
                    s.lifecycle.push_back(x);
                }
            } else if constexpr (std::is_same_v<T, proto::Pipeline>) {
                pipelines_[x.id] = x;
            } else if constexpr (std::is_same_v<T, proto::CallSite>) {
                Stream& s = stream(x.id);
                for (auto& c : s.call_sites) {
                    if (c.kind == x.kind && c.site_str == x.site_str) {
                        c.count = x.count;
                        return;
                    }
                }
                s.call_sites.push_back(x);
            } else if constexpr (std::is_same_v<T, proto::Dropped>) {
                processes_[x.proc].dropped = x;
            } else if constexpr (std::is_same_v<T, proto::Goodbye>) {
                processes_[x.proc].goodbye = x;
            } else if constexpr (std::is_same_v<T, proto::ProcessExit>) {
                processes_[x.proc].exit = x;
            } else if constexpr (std::is_same_v<T, proto::StreamAggregate>) {
                auto [it, inserted] = aggregates_.try_emplace({x.proc, x.type_str, x.site_str}, x);
                if (!inserted && x.t_us >= it->second.t_us) it->second = x;
            } else if constexpr (std::is_same_v<T, proto::NativeModules>) {
                native_[x.proc].modules = x;
            } else if constexpr (std::is_same_v<T, proto::NativeStatus>) {
                native_[x.proc].status = x;
            } else if constexpr (std::is_same_v<T, proto::NativeStack>) {
                native_[x.proc].stacks[x.site] = x;
            } else if constexpr (std::is_same_v<T, proto::NativeSites>) {
                Native& n = native_[x.proc];
                for (const auto& c : x.sites) n.sites[c.site] = c;
                n.sites_t_us = x.t_us;
            }
            // AgentNote: free text of the moment, not state.
        },
        record);
}

std::vector<proto::Record> KeyframeState::snapshot() {
    std::vector<proto::Record> out;
    for (const auto& [id, s] : strings_) out.emplace_back(s);
    for (const auto& [proc, p] : processes_)
        if (p.hello) out.emplace_back(*p.hello);
    for (const auto& [proc, p] : processes_) {
        if (p.dropped) out.emplace_back(*p.dropped);
        if (p.goodbye) out.emplace_back(*p.goodbye);
        if (p.exit) out.emplace_back(*p.exit);
    }
    std::vector<uint64_t> ids;
    ids.reserve(streams_.size());
    for (const auto& [id, s] : streams_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (uint64_t id : ids) {
        const Stream& s = streams_[id];
        if (s.has_created) out.emplace_back(s.created);
        if (s.sample) out.emplace_back(*s.sample);
        for (const auto& e : s.lifecycle) out.emplace_back(e);
        for (const auto& c : s.call_sites) out.emplace_back(c);
    }
    for (uint64_t id : ids)
        for (const auto& [dst, e] : streams_[id].pipes_to)
            if (streams_.count(dst)) out.emplace_back(e);
    // Pipelines are kept while one of their stages is alive.
    for (auto it = pipelines_.begin(); it != pipelines_.end();) {
        const auto& stages = it->second.stages;
        const bool alive = std::any_of(stages.begin(), stages.end(),
                                       [&](uint64_t id) { return id != 0 && streams_.count(id); });
        if (alive) {
            out.emplace_back(it->second);
            ++it;
        } else {
            it = pipelines_.erase(it);
        }
    }
    for (const auto& [key, a] : aggregates_) out.emplace_back(a);
    for (const auto& [proc, n] : native_) {
        if (n.modules) out.emplace_back(*n.modules);
        for (const auto& [site, st] : n.stacks) out.emplace_back(st);
        proto::NativeSites batch;
        batch.proc = proc;
        batch.t_us = n.sites_t_us;
        for (const auto& [site, c] : n.sites) {
            batch.sites.push_back(c);
            if (batch.sites.size() == proto::kMaxNativeSitesPerRecord) {
                out.emplace_back(batch);
                batch.sites.clear();
            }
        }
        if (!batch.sites.empty()) out.emplace_back(batch);
        if (n.status) out.emplace_back(*n.status);
    }
    for (const auto& [proc, p] : processes_)
        if (p.sample) out.emplace_back(*p.sample);
    return out;
}

}  // namespace tidemark::model

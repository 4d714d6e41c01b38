// Builds synthetic timelines for the detector unit tests through Timeline::apply, the way the
// agent feeds a live session: proto records with absolute wall-clock times.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tidemark/model/detect/detectors.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::test {

namespace proto = tidemark::proto;

class TimelineBuilder {
public:
    static constexpr uint64_t kStartUs = 1'700'000'000'000'000ull;

    TimelineBuilder() {
        tl.set_start_us(kStartUs);
        records.reserve(1024);
        proto::Hello h;
        h.t_us = kStartUs;
        h.pid = 4242;
        h.runtime = proto::Runtime::Node;
        h.interval_ms = 100;
        h.proc = 0;
        put(h);
    }

    static uint64_t us(double t_s) { return kStartUs + static_cast<uint64_t>(t_s * 1e6 + 0.5); }

    uint32_t str(const std::string& s) {
        auto it = strings_.find(s);
        if (it != strings_.end()) return it->second;
        const uint32_t id = next_str_++;
        strings_[s] = id;
        put(proto::StringDef{kStartUs, id, s});
        return id;
    }

    void process(double t, uint64_t heap, uint64_t external, uint64_t rss = 0, uint64_t array_buffers = 0) {
        proto::ProcessSample p;
        p.t_us = us(t);
        p.heap_used_bytes = heap;
        p.heap_total_bytes = heap * 2;
        p.external_bytes = external;
        p.array_buffers_bytes = array_buffers ? array_buffers : external / 2;
        p.rss_bytes = rss ? rss : 40'000'000 + heap + external;
        put(p);
    }

    // A major collection that left the heap at heap_after and external memory at external_after.
    void major_gc(double t, uint64_t heap_after, uint64_t external_after, uint64_t heap_before = 0) {
        proto::GcEvent g;
        g.t_us = us(t);
        g.kind = proto::GcKind::Major;
        g.heap_before = heap_before ? heap_before : heap_after;
        g.heap_after = heap_after;
        g.freed_bytes = g.heap_before - heap_after;
        g.external_after = external_after;
        put(g);
    }
    void created(uint64_t id, uint32_t kind, const std::string& type, const std::string& site, double t = 0,
                 uint64_t readable_hwm = 16384, uint64_t writable_hwm = 16384) {
        proto::StreamCreated c;
        c.t_us = us(t);
        c.id = id;
        c.kind = kind;
        c.type_str = str(type);
        c.site_str = str(site);
        c.readable_hwm = readable_hwm;
        c.writable_hwm = writable_hwm;
        put(c);
    }

    // A sample: start from the stream's last state and change what the caller sets.
    proto::StreamSample& state(uint64_t id) {
        auto& s = last_[id];
        s.id = id;
        return s;
    }
    void sample(double t, uint64_t id) {
        proto::StreamSample s = state(id);
        s.t_us = us(t);
        put(s);
    }

    void event(double t, uint64_t id, proto::StreamEventKind kind, uint64_t other = 0, const std::string& text = "") {
        proto::StreamEvent e;
        e.t_us = us(t);
        e.id = id;
        e.kind = kind;
        e.other = other;
        e.str = text.empty() ? 0 : str(text);
        put(e);
    }

    void call_site(double t, uint64_t id, proto::CallSiteKind kind, const std::string& site, uint64_t count) {
        proto::CallSite c;
        c.t_us = us(t);
        c.id = id;
        c.kind = kind;
        c.site_str = str(site);
        c.count = count;
        put(c);
    }

    void pipeline(double t, uint64_t id, const std::vector<uint64_t>& stages, const std::string& site) {
        proto::Pipeline p;
        p.t_us = us(t);
        p.id = id;
        p.site_str = str(site);
        p.stages = stages;
        p.stage_strs.assign(stages.size(), 0);
        put(p);
    }

    // Another connection of the same pid: a worker_threads Worker (its own proc, no samples).
    void worker(double t, uint32_t proc, uint32_t thread_id) {
        proto::Hello h;
        h.t_us = us(t);
        h.pid = 4242;
        h.runtime = proto::Runtime::Node;
        h.interval_ms = 100;
        h.proc = proc;
        h.thread_id = thread_id;
        put(h);
    }

    // created() for a stream of another proc (a worker thread's).
    void created_in(uint32_t proc, uint64_t id, uint32_t kind, const std::string& type, const std::string& site,
                    double t = 0, uint64_t readable_hwm = 16384, uint64_t writable_hwm = 16384) {
        proto::StreamCreated c;
        c.t_us = us(t);
        c.proc = proc;
        c.id = id;
        c.kind = kind;
        c.type_str = str(type);
        c.site_str = str(site);
        c.readable_hwm = readable_hwm;
        c.writable_hwm = writable_hwm;
        put(c);
    }

    void exit(double t, int code = 0) {
        proto::ProcessExit x;
        x.t_us = us(t);
        x.code = code;
        put(x);
    }

    // Raw history (no coarsening): the detector tests judge exactly the samples they wrote.
    model::Timeline tl{model::Timeline::unbounded()};
    // Every record applied, in order: replayable through a model::Analysis or a TraceWriter.
    std::vector<proto::Record> records;

private:
    template <typename T>
    void put(const T& record) {
        tl.apply(record);
        records.emplace_back(record);
    }

    uint32_t next_str_ = 1;
    std::unordered_map<std::string, uint32_t> strings_;
    std::unordered_map<uint64_t, proto::StreamSample> last_;
};

inline std::vector<model::Finding> of_kind(const std::vector<model::Finding>& all, const std::string& kind) {
    std::vector<model::Finding> out;
    for (const auto& f : all)
        if (model::finding_kind_name(f.kind) == kind) out.push_back(f);
    return out;
}

inline double evidence(const model::Finding& f, const std::string& name) {
    for (const auto& [k, v] : f.evidence)
        if (k == name) return v;
    return -1;
}

inline size_t warnings_or_errors(const std::vector<model::Finding>& all) {
    size_t n = 0;
    for (const auto& f : all) n += f.severity != model::Severity::Info;
    return n;
}

}  // namespace tidemark::test

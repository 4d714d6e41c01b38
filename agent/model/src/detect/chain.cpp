// chains(): the pipe-chain view. Every chain made by pipe() or pipeline() (history included),
// source first, with per-stage pressure (reached its highWaterMark / went far past it) and the
// link where the pressure stops: the downstream stage went far past its highWaterMark while the
// upstream stage kept flowing — with working backpressure the upstream stage would have paused.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "detect/util.h"

namespace tidemark::model {
namespace {

using detail::Side;

struct Link {
    StreamId src = 0;
    StreamId dst = 0;
    std::optional<uint64_t> pipeline_id;
};

std::string short_label(const StreamInfo* s, StreamId id) {
    if (!s) return "stream #" + std::to_string(id);
    std::string out = (s->type.empty() ? std::string("stream") : s->type) + " #" + std::to_string(id);
    if (!s->site.empty()) out += " (" + s->site + ")";
    return out;
}

// Fraction of [from, to] during which the stream's readable side was flowing (true).
double flowing_fraction(const StreamInfo& s, double from, double to) {
    if (to <= from || s.samples.empty()) return 0;
    double flowing = 0;
    const auto& pts = s.samples;
    for (size_t i = 0; i < pts.size(); ++i) {
        const double a = std::max(from, pts[i].t_s);
        const double b = std::min(to, i + 1 < pts.size() ? pts[i + 1].t_s : to);
        if (b > a && pts[i].s.flowing() == proto::Flowing::Flowing) flowing += b - a;
    }
    return flowing / (to - from);
}

ChainStage make_stage(const Timeline& timeline, StreamId id, const DetectorOptions& o) {
    ChainStage st;
    st.id = id;
    const StreamInfo* s = timeline.stream(id);
    st.label = short_label(s, id);
    if (!s) return st;
    const Side side = s->writable() ? Side::Writable : Side::Readable;
    st.high_water_mark = detail::side_hwm(*s, side);
    st.peak_buffered = s->peak_readable_length + s->peak_writable_length;
    st.backed_up = (s->writable() && s->peak_writable_length >= detail::side_hwm(*s, Side::Writable)) ||
                   (s->readable() && s->peak_readable_length >= detail::side_hwm(*s, Side::Readable));
    st.overfilled = (s->writable() && s->peak_writable_length >= detail::overfill_threshold(*s, Side::Writable, o)) ||
                    (s->readable() && s->peak_readable_length >= detail::overfill_threshold(*s, Side::Readable, o));
    return st;
}

// Where the pressure stops: walking from the sink, the first overfilled stage whose upstream
// neighbour was not overfilled and kept flowing (>= 80 % of the time) while it was.
void find_break(const Timeline& timeline, ChainView& c, const DetectorOptions& o) {
    for (size_t i = c.stages.size(); i-- > 1;) {
        const ChainStage& down = c.stages[i];
        const ChainStage& up = c.stages[i - 1];
        if (!down.overfilled || up.overfilled || down.id == 0 || up.id == 0) continue;
        const StreamInfo* d = timeline.stream(down.id);
        const StreamInfo* u = timeline.stream(up.id);
        if (!d || !u) continue;
        const Side side = d->writable() ? Side::Writable : Side::Readable;
        const uint64_t thr = detail::overfill_threshold(*d, side, o);
        double from = -1, to = -1;
        for (const auto& p : d->samples) {
            if (detail::side_length(p.s, side) < thr) continue;
            if (from < 0) from = p.t_s;
            to = p.t_s;
        }
        if (from < 0) continue;
        if (to <= from) to = detail::observed_until(timeline, *d);
        if (flowing_fraction(*u, from, to) >= 0.8) {
            c.broken_after = static_cast<int>(i - 1);
            return;
        }
    }
}

void summarize(ChainView& c) {
    std::string s;
    for (size_t i = 0; i < c.stages.size(); ++i) s += (i ? " → " : "") + c.stages[i].label;
    if (c.pipeline_id) s += " [pipeline()" + (c.site.empty() ? std::string() : " at " + c.site) + "]";
    else if (c.uses_pipe) s += " [pipe()]";
    s += ": ";
    if (c.broken_after >= 0) {
        const auto& up = c.stages[static_cast<size_t>(c.broken_after)];
        const auto& down = c.stages[static_cast<size_t>(c.broken_after) + 1];
        s += "pressure stops between " + up.label + " and " + down.label + " — " + down.label +
             " went far past its highWaterMark (peak " + format_bytes(static_cast<double>(down.peak_buffered)) +
             ") while " + up.label + " kept flowing: that link is broken.";
    } else if (std::any_of(c.stages.begin(), c.stages.end(), [](const ChainStage& st) { return st.overfilled; })) {
        s += "a stage went far past its highWaterMark although its upstream paused: the extra data was "
             "written into it from outside the chain.";
    } else if (std::any_of(c.stages.begin(), c.stages.end(), [](const ChainStage& st) { return st.backed_up; })) {
        s += "backpressure holds (stages reached their highWaterMark and upstream paused).";
    } else {
        s += "no stage backed up.";
    }
    c.summary = std::move(s);
}

}  // namespace

std::vector<ChainView> chains(const Timeline& timeline, const DetectorOptions& options) {
    constexpr size_t kMaxChains = 256;
    constexpr size_t kMaxDepth = 64;
    std::vector<ChainView> out;
    // Links between streams; pipelines with a non-stream stage become chains of their own.
    std::map<std::pair<StreamId, StreamId>, Link> links;
    for (const PipelineInfo& p : timeline.pipelines()) {
        const bool all_streams = std::none_of(p.stages.begin(), p.stages.end(), [](StreamId id) { return id == 0; });
        if (all_streams) {
            for (size_t i = 0; i + 1 < p.stages.size(); ++i)
                links[{p.stages[i], p.stages[i + 1]}] = Link{p.stages[i], p.stages[i + 1], p.id};
            continue;
        }
        ChainView c;
        c.pipeline_id = p.id;
        c.site = p.site;
        for (size_t i = 0; i < p.stages.size(); ++i) {
            if (p.stages[i] != 0) {
                c.stages.push_back(make_stage(timeline, p.stages[i], options));
            } else {
                ChainStage st;
                st.label = i < p.stage_labels.size() && !p.stage_labels[i].empty() ? p.stage_labels[i] : "function";
                c.stages.push_back(st);
            }
        }
        find_break(timeline, c, options);
        summarize(c);
        out.push_back(std::move(c));
    }
    for (const PipeEdge& e : timeline.edges()) links.try_emplace({e.src, e.dst}, Link{e.src, e.dst, std::nullopt});

    std::map<StreamId, std::vector<const Link*>> outgoing;
    std::set<StreamId> has_incoming, nodes;
    for (const auto& [key, link] : links) {
        outgoing[link.src].push_back(&link);
        has_incoming.insert(link.dst);
        nodes.insert(link.src);
        nodes.insert(link.dst);
    }
    std::vector<StreamId> sources;
    for (StreamId n : nodes)
        if (!has_incoming.count(n)) sources.push_back(n);
    if (sources.empty() && !nodes.empty()) sources.push_back(*nodes.begin());  // a pure cycle

    std::vector<const Link*> path;
    std::vector<StreamId> visiting;
    auto emit = [&](StreamId first) {
        ChainView c;
        c.stages.push_back(make_stage(timeline, first, options));
        std::set<uint64_t> pipeline_ids;
        bool all_in_pipeline = true;
        for (const Link* l : path) {
            c.stages.push_back(make_stage(timeline, l->dst, options));
            if (l->pipeline_id) pipeline_ids.insert(*l->pipeline_id);
            else all_in_pipeline = false;
        }
        c.uses_pipe = !all_in_pipeline;
        if (all_in_pipeline && pipeline_ids.size() == 1) {
            c.pipeline_id = *pipeline_ids.begin();
            for (const PipelineInfo& p : timeline.pipelines())
                if (p.id == c.pipeline_id) c.site = p.site;
        }
        find_break(timeline, c, options);
        summarize(c);
        out.push_back(std::move(c));
    };
    std::function<void(StreamId, StreamId)> walk = [&](StreamId first, StreamId cur) {
        if (out.size() >= kMaxChains) return;
        auto it = outgoing.find(cur);
        bool extended = false;
        if (it != outgoing.end() && path.size() < kMaxDepth) {
            for (const Link* l : it->second) {
                if (std::find(visiting.begin(), visiting.end(), l->dst) != visiting.end()) continue;
                extended = true;
                path.push_back(l);
                visiting.push_back(l->dst);
                walk(first, l->dst);
                visiting.pop_back();
                path.pop_back();
            }
        }
        if (!extended) emit(first);
    };
    for (StreamId s : sources) {
        visiting = {s};
        walk(s, s);
    }
    return out;
}

namespace detail {

std::string chain_sentence(const Timeline& timeline, const std::vector<ChainView>& chain_views, StreamId id) {
    (void)timeline;
    for (const auto& c : chain_views)
        for (const auto& st : c.stages)
            if (st.id == id && c.stages.size() > 1) return "Chain: " + c.summary;
    return {};
}

}  // namespace detail
}  // namespace tidemark::model

// external-growth and heap-growth. When the tracker observed garbage collections (Node), growth
// is judged on what survives them: the heap (external) right after each major collection must
// keep rising (timeline/gc_floors.h — no absolute rate, so a slow leak is caught once its floor
// has risen far enough, and a cache that filled and then plateaued is not). Without collection
// records (older traces, other runtimes) it falls back on the samples: a Theil–Sen slope (the
// median of pairwise slopes: GC saw-teeth and one-off spikes barely move it) whose lower 95 %
// bound must clear an absolute rate, whose total over the window must clear both an absolute size
// and a fraction of the starting level, which must hold in both halves of the window, and which
// visible collections (drops) must confirm. external-growth also keys on the sum of stream buffer
// lengths (live data, no GC in it) — never on RSS alone, since untouched Buffer pages never show.
#include <algorithm>
#include <cmath>

#include "detect/util.h"
#include "tidemark/model/timeline/gc_floors.h"
#include "tidemark/model/util/stats.h"

namespace tidemark::model::detail {
namespace {

struct Trend {
    stats::SlopeEstimate est;
    double start_level = 0;
    double end_level = 0;
    double total = 0;
    double onset_s = 0;
    double from_s = 0;  // start of the window the trend was found in
};

std::optional<Trend> steady_growth(const std::vector<stats::TimePoint>& pts, double min_slope,
                                   double min_relative, const DetectorOptions& o) {
    if (pts.size() < 8) return std::nullopt;
    const double span = pts.back().t_s - pts.front().t_s;
    if (span < o.growth_min_window_s) return std::nullopt;
    const auto est = stats::theil_sen(pts, 0.95, o.growth_max_points);
    if (!est || est->lower < min_slope) return std::nullopt;
    Trend t;
    t.est = *est;
    t.from_s = pts.front().t_s;
    t.start_level = std::max(0.0, est->intercept + est->slope * pts.front().t_s);
    t.end_level = est->intercept + est->slope * pts.back().t_s;
    t.total = est->slope * span;
    if (t.total < std::max(o.growth_min_total_bytes, min_relative * t.start_level)) return std::nullopt;
    if (!both_halves_rise(pts, est->slope, o.growth_max_points)) return std::nullopt;
    t.onset_s = floor_onset(pts, t.total);  // the start of the rise
    return t;
}

// Checks the whole post-warm-up window and the trailing 30 s (a leak that began late).
std::optional<Trend> growth_in(const std::vector<stats::TimePoint>& pts, double min_slope, double min_relative,
                               const DetectorOptions& o) {
    if (auto t = steady_growth(pts, min_slope, min_relative, o)) return t;
    if (pts.empty() || pts.back().t_s - pts.front().t_s < 60) return std::nullopt;
    const double from = pts.back().t_s - 30;
    std::vector<stats::TimePoint> tail;
    for (const auto& p : pts)
        if (p.t_s >= from) tail.push_back(p);
    return steady_growth(tail, min_slope, min_relative, o);
}

double slope_of(const std::vector<stats::TimePoint>& pts, const DetectorOptions& o) {
    const auto e = stats::theil_sen(pts, 0.95, o.growth_max_points);
    return e ? e->slope : 0;
}

// Sum of binary stream buffers of one process at each of the given times.
struct Buffered {
    std::vector<stats::TimePoint> series;
    std::vector<std::pair<double, const StreamInfo*>> growth;  // per stream, over the window
};

Buffered buffered_series(const Timeline& timeline, uint32_t proc, const std::vector<double>& times) {
    Buffered out;
    out.series.resize(times.size());
    for (size_t i = 0; i < times.size(); ++i) out.series[i] = {times[i], 0};
    if (times.empty()) return out;
    for (const StreamInfo& s : timeline.streams()) {
        if (s.proc != proc || s.samples.empty()) continue;
        const bool r_obj = side_object_mode(s, Side::Readable);
        const bool w_obj = side_object_mode(s, Side::Writable);
        if (r_obj && w_obj) continue;
        auto value = [&](const proto::StreamSample& x) {
            return static_cast<double>((r_obj ? 0 : x.readable_length) + (w_obj ? 0 : x.writable_length));
        };
        size_t k = 0;
        double first = 0, last = 0;
        for (size_t i = 0; i < times.size(); ++i) {
            const double t = times[i];
            while (k + 1 < s.samples.size() && s.samples[k + 1].t_s <= t) ++k;
            double v = 0;
            if (s.samples[k].t_s <= t && !(s.gone_s && t >= *s.gone_s)) v = value(s.samples[k].s);
            out.series[i].value += v;
            if (i == 0) first = v;
            last = v;
        }
        if (last - first > 0) out.growth.emplace_back(last - first, &s);
    }
    std::sort(out.growth.begin(), out.growth.end(), [](auto& a, auto& b) { return a.first > b.first; });
    return out;
}

// Garbage that V8 has not collected yet climbs exactly like a leak until the next collection, so
// a heap (or external) climb only counts once collections confirm it: within the window some
// sample dropped by >= 15 % and >= 2 MiB (a collection ran), and the lowest value from the first
// such drop to now still sits far above the floor before the window. Scavenges also drop the heap
// but leave old-generation garbage, so only the lowest point since the first collection counts:
// a major collection of a healthy saw-tooth brings it back near the old floor; retained memory
// never comes back down.
struct Retention {
    bool confirmed = false;
    double baseline = 0;  // lowest value before the window
    double floor = 0;     // lowest value since the first collection in the window
    int collections = 0;
};

Retention retention(const ProcessInfo& p, double from, uint64_t ProcessPoint::*field, double min_total,
                    double min_relative) {
    Retention r;
    const auto& xs = p.samples;
    bool have_base = false;
    size_t first_collection = 0;
    // A collection ran between samples k-1 and k: the value dropped by >= 15 % and >= 2 MiB.
    auto collected = [&](size_t k) {
        const double prev = static_cast<double>(xs[k - 1].*field), v = static_cast<double>(xs[k].*field);
        return v <= 0.85 * prev && prev - v >= 2.0 * 1024 * 1024;
    };
    for (size_t k = 0; k < xs.size(); ++k) {
        const double v = static_cast<double>(xs[k].*field);
        if (xs[k].t_s < from) {
            r.baseline = have_base ? std::min(r.baseline, v) : v;
            have_base = true;
            continue;
        }
        if (!have_base) { r.baseline = v; have_base = true; }
        if (k == 0) continue;
        if (xs[k - 1].t_s >= from && collected(k)) {
            if (r.collections++ == 0) first_collection = k;
        }
    }
    if (r.collections == 0) return r;
    r.floor = static_cast<double>(xs[first_collection].*field);
    for (size_t k = first_collection; k < xs.size(); ++k) r.floor = std::min(r.floor, static_cast<double>(xs[k].*field));
    r.confirmed = r.floor - r.baseline >= std::max(min_total, min_relative * r.baseline);
    // A floor far above the one before the window can also be a bounded cache that filled during
    // warm-up and then stays flat. When collections ran in both halves of the window, what
    // survives them must keep rising: the lowest point after a collection in the second half sits
    // above the lowest in the first half.
    if (r.confirmed) {
        const double mid_s = (xs[first_collection].t_s + xs.back().t_s) / 2;
        double floor1 = -1, floor2 = -1;
        bool collected_late = false;
        for (size_t k = first_collection; k < xs.size(); ++k) {
            const double v = static_cast<double>(xs[k].*field);
            if (xs[k].t_s < mid_s) {
                floor1 = floor1 < 0 ? v : std::min(floor1, v);
                continue;
            }
            if (collected(k)) collected_late = true;
            if (collected_late) floor2 = floor2 < 0 ? v : std::min(floor2, v);
        }
        if (collected_late && floor1 >= 0 && floor2 >= 0 &&
            floor2 - floor1 < std::max(2.0 * 1024 * 1024, 0.05 * floor1))
            r.confirmed = false;
    }
    return r;
}

// When the growth began: where the fitted line leaves the floor seen before the window (a leak
// running since start-up began at start-up, not at the end of the warm-up), never later than the
// window's own estimate.
double onset_from_baseline(const Trend& t, double baseline, double process_start_s) {
    if (t.est.slope <= 0) return t.onset_s;
    const double crossing = (baseline - t.est.intercept) / t.est.slope;
    return std::min(t.onset_s, std::max(process_start_s, crossing));
}

constexpr const char* kHeapFix =
    "Take two heap snapshots some time apart (node --inspect, or v8.writeHeapSnapshot()) and "
    "compare what is retained; bound or evict the collection that only grows, and remove "
    "listeners and timers you no longer need.";

// Too few floors to judge (floor_growth's rules): do the ones there are — the last major
// collection before the window and those in it — agree with growth? Each at or above the one
// before (within 2 %), the latest above the first by max(min_total, min_relative × first).
bool few_floors_agree(const ProcessInfo& p, double from, FloorMetric metric, double min_total, double min_relative) {
    std::vector<double> v;
    for (const GcPoint& g : p.majors) {
        const double x = static_cast<double>(metric == FloorMetric::Heap ? g.heap_after : g.external_after);
        if (g.t_s < from) {
            v.assign(1, x);  // keep only the last one before the window
            continue;
        }
        v.push_back(x);
    }
    if (v.size() < 2) return true;  // nothing to contradict the samples
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] < 0.98 * v[i - 1]) return false;
    return v.back() - v.front() >= std::max(min_total, min_relative * v.front());
}

// Whether the floors decide alone (the sample rules stay silent): collections were observed and
// either the floors can be judged, or the few there are do not agree with growth.
bool decided_by_floors(const ProcessInfo& p, double from, FloorMetric metric, const std::optional<FloorGrowth>& g,
                       double min_total, double min_relative) {
    if (!p.gc_observed) return false;
    return (g && g->judged) || !few_floors_agree(p, from, metric, min_total, min_relative);
}

// When floor growth began: where the fitted floor line leaves the lowest value the metric had
// before the first floor judged (never before the process started, never after that floor).
double floor_onset(const ProcessInfo& p, const FloorGrowth& g, uint64_t ProcessPoint::*field) {
    double base = -1;
    for (const ProcessPoint& x : p.samples) {
        if (x.t_s >= g.from_s) break;
        const double v = static_cast<double>(x.*field);
        base = base < 0 ? v : std::min(base, v);
    }
    if (base < 0 || g.est.slope <= 0) return g.from_s;
    const double crossing = (base - g.est.intercept) / g.est.slope;
    return std::min(g.from_s, std::max(p.start_s, crossing));
}

std::string rate(double bytes_per_s) {
    return (bytes_per_s >= 0 ? "+" : "-") + format_bytes(std::abs(bytes_per_s)) + "/s";
}

void process_growth(const Timeline& timeline, const ProcessInfo& p, const DetectorOptions& o,
                    std::vector<Finding>& out) {
    const double from = p.start_s + o.warmup_s;
    std::vector<stats::TimePoint> heap, external, arrays, rss, buffered_total;
    std::vector<double> times;
    const auto window = stats::downsample(
        [&] {
            std::vector<stats::TimePoint> idx;
            for (size_t i = 0; i < p.samples.size(); ++i)
                if (p.samples[i].t_s >= from) idx.push_back({p.samples[i].t_s, static_cast<double>(i)});
            return idx;
        }(),
        std::max<size_t>(o.growth_max_points, 16));
    for (const auto& w : window) {
        const ProcessPoint& x = p.samples[static_cast<size_t>(w.value)];
        heap.push_back({x.t_s, static_cast<double>(x.heap_used_bytes)});
        external.push_back({x.t_s, static_cast<double>(x.external_bytes)});
        arrays.push_back({x.t_s, static_cast<double>(x.array_buffers_bytes)});
        rss.push_back({x.t_s, static_cast<double>(x.rss_bytes)});
        buffered_total.push_back({x.t_s, static_cast<double>(x.stream_buffered_bytes)});
        times.push_back(x.t_s);
    }
    if (times.size() < 8) return;
    const std::string who = "process " + std::to_string(p.pid);

    // heap-growth
    const std::optional<FloorGrowth> heap_floors =
        p.gc_observed ? floor_growth(gc_floors(p, FloorMetric::Heap, from)) : std::nullopt;
    // With collections observed, the floors decide. While there are too few to judge (a short
    // run), the sample rules may still speak, but only when the floors there are agree: each at
    // or above the one before and the latest far above the first (the sample rules' own margins)
    // — a cache that filled during warm-up and then evicts has floors that barely move, however
    // steep the samples look between two collections.
    const bool heap_judged_on_floors =
        decided_by_floors(p, from, FloorMetric::Heap, heap_floors, o.growth_min_total_bytes, o.heap_min_relative);
    if (heap_floors && heap_floors->rising) {
        const FloorGrowth& g = *heap_floors;
        Finding f;
        f.kind = FindingKind::HeapGrowth;
        f.severity = Severity::Error;
        f.onset_s = floor_onset(p, g, &ProcessPoint::heap_used_bytes);
        f.message = "The JS heap of " + who + " keeps more after every garbage collection: right after each of its " +
                    std::to_string(g.floors) + " major collections since warm-up the heap was left higher, from " +
                    format_bytes(g.first) + " to " + format_bytes(g.last) + " over " + seconds(g.to_s - g.from_s) +
                    " (" + rate(g.est.slope) + ", Theil–Sen over the post-collection floors" +
                    (g.floors >= 6 ? ", 95 % lower bound " + rate(g.est.lower) : std::string()) +
                    "). What survives collection is retained: something only grows (a cache, a Map, an array, "
                    "listeners, closures, timers).";
        if (p.requested_collections > 0)
            f.message += " (" + std::to_string(p.requested_collections) +
                         (p.requested_collections == 1 ? " collection was" : " collections were") +
                         " requested by tidemark's GC probe while memory climbed uncollected.)";
        f.fix = kHeapFix;
        f.evidence = {
            {"heap_floor_growth_bytes_per_s", g.est.slope},
            {"heap_floor_growth_lower_bound_bytes_per_s", g.est.lower},
            {"heap_floor_first_bytes", g.first},
            {"heap_floor_last_bytes", g.last},
            {"major_collections", static_cast<double>(g.floors)},
            {"window_s", g.to_s - g.from_s},
            {"heap_growth_bytes_per_s", slope_of(heap, o)},
            {"rss_growth_bytes_per_s", slope_of(rss, o)},
        };
        out.push_back(std::move(f));
    }
    const auto heap_trend = heap_judged_on_floors ? std::nullopt : growth_in(heap, o.heap_min_slope_bytes_per_s, o.heap_min_relative, o);
    const Retention heap_kept = heap_trend ? retention(p, heap_trend->from_s, &ProcessPoint::heap_used_bytes, o.growth_min_total_bytes,
                                                       o.heap_min_relative)
                                           : Retention{};
    if (const auto& t = heap_trend; t && heap_kept.confirmed) {
        Finding f;
        f.kind = FindingKind::HeapGrowth;
        f.severity = Severity::Error;
        f.onset_s = onset_from_baseline(*t, heap_kept.baseline, p.start_s);
        f.message = "The JS heap of " + who + " climbs steadily after warm-up: heapUsed " + rate(t->est.slope) +
                    " (Theil–Sen, 95 % lower bound " + rate(t->est.lower) + "), from about " +
                    format_bytes(t->start_level) + " to " + format_bytes(t->end_level) + " over " +
                    seconds(t->est.span_s) + ", and garbage collection does not bring it back: since its first "
                    "collection in the window it never fell below " + format_bytes(heap_kept.floor) + " (" +
                    format_bytes(heap_kept.baseline) + " before). Objects are being retained: something only grows "
                    "(a cache, a Map, an array, listeners, closures).";
        f.fix = kHeapFix;
        f.evidence = {
            {"heap_growth_bytes_per_s", t->est.slope},
            {"heap_growth_lower_bound_bytes_per_s", t->est.lower},
            {"heap_start_bytes", t->start_level},
            {"heap_end_bytes", t->end_level},
            {"window_s", t->est.span_s},
            {"rss_growth_bytes_per_s", slope_of(rss, o)},
            {"heap_floor_after_gc_bytes", heap_kept.floor},
            {"heap_floor_before_bytes", heap_kept.baseline},
            {"collections_seen", static_cast<double>(heap_kept.collections)},
        };
        out.push_back(std::move(f));
    }

    // external-growth
    // The buffered total is kept by the timeline at each process sample; which streams grew is
    // worked out (walking their histories) only when there is a finding to word.
    auto ext = growth_in(external, o.external_min_slope_bytes_per_s, o.external_min_relative, o);
    auto ab = growth_in(arrays, o.external_min_slope_bytes_per_s, o.external_min_relative, o);
    auto buf = growth_in(buffered_total, o.external_min_slope_bytes_per_s, o.external_min_relative, o);
    // Stream buffer lengths are live data (no GC in them); external/arrayBuffers need collections
    // to tell retained Buffers from uncollected ones: with collection records, what survives them
    // decides (and may reveal a slow leak the sample slope is too small for); without, a visible drop.
    const std::optional<FloorGrowth> ext_floors =
        p.gc_observed ? floor_growth(gc_floors(p, FloorMetric::External, from)) : std::nullopt;
    std::optional<FloorGrowth> floor_lead;
    const bool ext_on_floors =
        decided_by_floors(p, from, FloorMetric::External, ext_floors, o.growth_min_total_bytes, o.external_min_relative);
    if (ext_on_floors) {
        if (ext_floors && ext_floors->rising) {
            floor_lead = ext_floors;
            if (!ext) {  // a rise the sample slope alone would not call: word it from the floors
                Trend t;
                t.est = ext_floors->est;
                t.est.span_s = ext_floors->to_s - ext_floors->from_s;
                t.start_level = ext_floors->first;
                t.end_level = ext_floors->last;
                t.total = ext_floors->rise;
                t.from_s = ext_floors->from_s;
                t.onset_s = floor_onset(p, *ext_floors, &ProcessPoint::external_bytes);
                ext = t;
            }
        } else {
            ext.reset();
            ab.reset();
        }
    } else if ((ext || ab) && !buf) {
        const Retention kept = retention(p, ext ? ext->from_s : ab->from_s,
                                         ext ? &ProcessPoint::external_bytes : &ProcessPoint::array_buffers_bytes,
                                         o.growth_min_total_bytes, o.external_min_relative);
        if (!kept.confirmed) {
            ext.reset();
            ab.reset();
        }
    }
    if (!ext && !ab && !buf) return;
    const Buffered buffered = buffered_series(timeline, p.proc, times);
    const Trend& lead = ext ? *ext : ab ? *ab : *buf;
    const double heap_slope = slope_of(heap, o);
    const double rss_slope = slope_of(rss, o);
    const double ext_slope = slope_of(external, o);
    const double ab_slope = slope_of(arrays, o);
    const double buf_slope = slope_of(buffered_total, o);
    const bool heap_flat = heap_slope < 0.1 * lead.est.slope;
    Finding f;
    f.kind = FindingKind::ExternalGrowth;
    f.severity = Severity::Error;
    f.onset_s = std::min({ext ? ext->onset_s : 1e300, ab ? ab->onset_s : 1e300, buf ? buf->onset_s : 1e300});
    f.message = "Memory outside the JS heap of " + who + " climbs steadily after warm-up: external " + rate(ext_slope) +
                ", arrayBuffers " + rate(ab_slope) + ", stream buffers " + rate(buf_slope) + " (Theil–Sen over " +
                seconds(lead.est.span_s) + "), while the JS heap " +
                (heap_flat ? "stays flat (" + rate(heap_slope) + ")" : "grows too (" + rate(heap_slope) + ")") + ".";
    if (rss_slope > 0.25 * lead.est.slope && heap_flat)
        f.message += " RSS climbs (" + rate(rss_slope) +
                     ") while the heap is flat: Buffer memory that heap snapshots will not show.";
    else if (rss_slope <= 0.25 * lead.est.slope)
        f.message += " RSS barely moves (" + rate(rss_slope) +
                     "): the Buffers are allocated but not yet touched, and will count once they are.";
    if (!buffered.growth.empty()) {
        const StreamInfo& top = *buffered.growth.front().second;
        f.stream = stream_ref(top);
        if (const CallSiteCount* c = user_call_site(top, proto::CallSiteKind::WriteAfterFalse)) set_site(f, *c);
        else if (const CallSiteCount* c2 = user_call_site(top, proto::CallSiteKind::PushAfterFalse)) set_site(f, *c2);
        f.message += " The stream buffers that grew most: ";
        for (size_t i = 0; i < buffered.growth.size() && i < 3; ++i)
            f.message += (i ? ", " : "") + stream_label(*buffered.growth[i].second) + " +" +
                         format_bytes(buffered.growth[i].first);
        f.message += ".";
    }
    if (floor_lead)
        f.message += " Garbage collection does not take it back: right after each of " + std::to_string(floor_lead->floors) +
                     " major collections external memory was left higher, from " + format_bytes(floor_lead->first) +
                     " to " + format_bytes(floor_lead->last) + " (" + rate(floor_lead->est.slope) + ").";
    f.fix = "Find the stream whose buffer grows (see the ignored-backpressure / unbounded-readable findings and "
            "the chain view) and restore backpressure: respect write()'s and push()'s return values or use "
            "pipeline(). Drop references to Buffers you no longer need. Monitor "
            "process.memoryUsage().external and .arrayBuffers, not heapUsed alone.";
    f.evidence = {
        {"external_growth_bytes_per_s", ext_slope},
        {"array_buffers_growth_bytes_per_s", ab_slope},
        {"stream_buffers_growth_bytes_per_s", buf_slope},
        {"heap_growth_bytes_per_s", heap_slope},
        {"rss_growth_bytes_per_s", rss_slope},
        {"growth_lower_bound_bytes_per_s", lead.est.lower},
        {"start_bytes", lead.start_level},
        {"end_bytes", lead.end_level},
        {"window_s", lead.est.span_s},
    };
    if (floor_lead) {
        f.evidence.push_back({"external_floor_growth_bytes_per_s", floor_lead->est.slope});
        f.evidence.push_back({"external_floor_first_bytes", floor_lead->first});
        f.evidence.push_back({"external_floor_last_bytes", floor_lead->last});
        f.evidence.push_back({"major_collections", static_cast<double>(floor_lead->floors)});
    }
    out.push_back(std::move(f));
}

}  // namespace

void detect_growth(const Timeline& timeline, const DetectorOptions& options, std::vector<Finding>& out) {
    for (const ProcessInfo& p : timeline.processes()) process_growth(timeline, p, options, out);
    detect_native_leaks(timeline, options, out);
}

}  // namespace tidemark::model::detail

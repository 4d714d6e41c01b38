// native-leak: an allocation site whose live bytes climb steadily after warm-up. Judged per site on
// its live-bytes series (Timeline::native_sites(), estimates in sampled mode): a Theil–Sen slope
// whose 95 % lower bound is above zero; growth over the window of at least
// native_min_growth_bytes and native_min_relative × the level at the window's start (so a large
// steady cache that wobbles is not a leak); rising in at least native_rising_fraction of eight
// equal time slices (the series' last value in a slice above the one before) and in both halves
// (so a ring that filled and then plateaued, or a one-off burst, is not). A leak that began late
// is found by judging the trailing half and quarter of the window as well. The finding names the
// stack, symbolized in the agent (model/native/symbols.h): `frames` holds the top frames and
// `site` the first frame that is not the allocator or the C/C++ runtime.
#include <algorithm>
#include <cmath>

#include "detect/util.h"
#include "tidemark/model/native/symbols.h"
#include "tidemark/model/util/stats.h"

namespace tidemark::model::detail {
namespace {

constexpr size_t kFramesShown = 8;

struct LeakTrend {
    stats::SlopeEstimate est;
    double from_s = 0, to_s = 0;
    double start_bytes = 0, end_bytes = 0;
    double rising_fraction = 0;
    double onset_s = 0;
};

double rising_fraction(const std::vector<stats::TimePoint>& pts) {
    constexpr int kSlices = 8;
    const double t0 = pts.front().t_s, span = pts.back().t_s - t0;
    double last[kSlices];
    bool have[kSlices] = {};
    for (const auto& p : pts) {
        int k = static_cast<int>((p.t_s - t0) / span * kSlices);
        k = std::clamp(k, 0, kSlices - 1);
        last[k] = p.value;
        have[k] = true;
    }
    int steps = 0, rising = 0;
    double prev = -1;
    for (int k = 0; k < kSlices; ++k) {
        if (!have[k]) continue;
        if (prev >= 0) {
            ++steps;
            if (last[k] > prev) ++rising;
        }
        prev = last[k];
    }
    return steps ? static_cast<double>(rising) / steps : 0;
}

std::optional<LeakTrend> steady_rise(const std::vector<stats::TimePoint>& pts, const DetectorOptions& o) {
    if (pts.size() < o.native_min_points) return std::nullopt;
    const double span = pts.back().t_s - pts.front().t_s;
    if (span < o.growth_min_window_s) return std::nullopt;
    const auto est = stats::theil_sen(pts, 0.95, o.growth_max_points);
    if (!est || est->slope <= 0 || est->lower <= 0) return std::nullopt;
    LeakTrend t;
    t.est = *est;
    t.from_s = pts.front().t_s;
    t.to_s = pts.back().t_s;
    t.start_bytes = std::max(0.0, est->intercept + est->slope * t.from_s);
    t.end_bytes = est->intercept + est->slope * t.to_s;
    const double growth = est->slope * span;
    if (growth < std::max(o.native_min_growth_bytes, o.native_min_relative * t.start_bytes)) return std::nullopt;
    t.rising_fraction = rising_fraction(pts);
    if (t.rising_fraction < o.native_rising_fraction) return std::nullopt;
    if (!both_halves_rise(pts, est->slope, o.growth_max_points)) return std::nullopt;
    t.onset_s = floor_onset(pts, growth);
    return t;
}

std::optional<LeakTrend> leak_in(const std::vector<stats::TimePoint>& pts, const DetectorOptions& o) {
    if (auto t = steady_rise(pts, o)) return t;
    if (pts.size() < 16) return std::nullopt;
    for (const double share : {0.5, 0.25}) {
        const double from = pts.back().t_s - share * (pts.back().t_s - pts.front().t_s);
        std::vector<stats::TimePoint> tail;
        for (const auto& p : pts)
            if (p.t_s >= from) tail.push_back(p);
        if (auto t = steady_rise(tail, o)) return t;
    }
    return std::nullopt;
}

std::string rate(double bytes_per_s) { return "+" + format_bytes(bytes_per_s) + "/s"; }

}  // namespace

void detect_native_leaks(const Timeline& timeline, const DetectorOptions& o, std::vector<Finding>& out) {
    struct Candidate {
        const NativeSiteInfo* site;
        LeakTrend trend;
    };
    for (const NativeProcessInfo& np : timeline.native_processes()) {
        const ProcessInfo* p = timeline.process(np.proc);
        const double from = (p ? p->start_s : 0) + o.warmup_s;
        std::vector<Candidate> found;
        for (const NativeSiteInfo& s : timeline.native_sites()) {
            if (s.proc != np.proc || !s.has_series || s.series.size() < o.native_min_points) continue;
            std::vector<stats::TimePoint> pts;
            for (const NativePoint& x : s.series)
                if (x.t_s >= from) pts.push_back({x.t_s, static_cast<double>(x.live_bytes)});
            // The series only gets a point when the site changes: its value holds until the end.
            if (!pts.empty() && timeline.end_s() > pts.back().t_s + 0.5)
                pts.push_back({timeline.end_s(), pts.back().value});
            if (auto t = leak_in(pts, o)) found.push_back({&s, *t});
        }
        std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) { return a.trend.est.slope > b.trend.est.slope; });
        if (found.size() > o.native_max_findings) found.resize(o.native_max_findings);
        const uint32_t pid = p ? p->pid : 0;
        for (const Candidate& c : found) {
            const NativeSiteInfo& s = *c.site;
            const LeakTrend& t = c.trend;
            const auto frames = shared_symbolizer().resolve_stack(np.modules, pid, s.frames);
            Finding f;
            f.kind = FindingKind::NativeLeak;
            f.severity = Severity::Error;
            f.onset_s = t.onset_s;
            const SymbolFrame* user = attribution_frame(frames);
            if (user && user == &frames.front() && is_allocator_frame(*user)) user = nullptr;
            for (size_t i = 0; i < frames.size() && f.frames.size() < kFramesShown; ++i) f.frames.push_back(frames[i].label());
            const std::string where = user ? user->label() : frames.empty() ? "an unknown site" : frames.front().label();
            if (user) f.site = user->where();
            const bool sampled = np.mode == proto::NativeMode::Sampled;
            const uint64_t live_allocs = s.latest.allocs > s.latest.frees ? s.latest.allocs - s.latest.frees : 0;
            f.message = "Native allocations made in " + where + " keep growing: live bytes " + rate(t.est.slope) +
                        " (Theil–Sen, 95 % lower bound " + rate(t.est.lower) + "), from about " +
                        format_bytes(t.start_bytes) + " to " + format_bytes(t.end_bytes) + " over " +
                        seconds(t.to_s - t.from_s) + ", rising in " + std::to_string(static_cast<int>(std::lround(t.rising_fraction * 100))) +
                        " % of the time; " + std::to_string(live_allocs) + " of its " + std::to_string(s.latest.allocs) +
                        " allocations are still live" +
                        (sampled ? " (estimated from sampled allocations, mean interval " +
                                       format_bytes(static_cast<double>(np.sample_interval_bytes)) + ")"
                                 : std::string()) +
                        ". Memory allocated there is not freed.";
            f.fix = "Follow what " + (user ? user->function : std::string("this site")) +
                    " allocates to where it should be released: free it (or bound the container that keeps it), "
                    "and check the error paths. `tidemark report --format collapsed` gives the live bytes by stack "
                    "for a flame graph.";
            f.evidence = {
                {"growth_bytes_per_s", t.est.slope},
                {"growth_lower_bound_bytes_per_s", t.est.lower},
                {"start_bytes", t.start_bytes},
                {"end_bytes", t.end_bytes},
                {"window_s", t.to_s - t.from_s},
                {"rising_fraction", t.rising_fraction},
                {"live_bytes", static_cast<double>(s.latest.live_bytes())},
                {"live_allocations", static_cast<double>(live_allocs)},
                {"allocations", static_cast<double>(s.latest.allocs)},
                {"site", static_cast<double>(s.site)},
            };
            out.push_back(std::move(f));
        }
    }
}

}  // namespace tidemark::model::detail

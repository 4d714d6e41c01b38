#include "tidemark/model/timeline/gc_floors.h"

#include <algorithm>
#include <cmath>

namespace tidemark::model {

std::vector<stats::TimePoint> gc_floors(const ProcessInfo& process, FloorMetric metric, double from_s) {
    std::vector<stats::TimePoint> out;
    for (const GcPoint& g : process.majors) {
        if (g.t_s < from_s) continue;
        out.push_back({g.t_s, static_cast<double>(metric == FloorMetric::Heap ? g.heap_after : g.external_after)});
    }
    return out;
}

namespace {

double slope_between(const std::vector<stats::TimePoint>& pts, size_t a, size_t b, double confidence) {
    if (b <= a) return 0;
    if (b == a + 1) {
        const double dt = pts[b].t_s - pts[a].t_s;
        return dt > 0 ? (pts[b].value - pts[a].value) / dt : 0;
    }
    const std::vector<stats::TimePoint> sub(pts.begin() + static_cast<std::ptrdiff_t>(a),
                                            pts.begin() + static_cast<std::ptrdiff_t>(b + 1));
    const auto e = stats::theil_sen(sub, confidence);
    return e ? e->slope : 0;
}

}  // namespace

std::optional<FloorGrowth> floor_growth(const std::vector<stats::TimePoint>& floors, const FloorRules& rules) {
    if (floors.size() < 2) return std::nullopt;
    const auto est = stats::theil_sen(floors, rules.confidence);
    if (!est) return std::nullopt;
    FloorGrowth g;
    g.est = *est;
    g.floors = floors.size();
    g.from_s = floors.front().t_s;
    g.to_s = floors.back().t_s;
    g.first = std::max(0.0, est->intercept + est->slope * g.from_s);
    g.last = est->intercept + est->slope * g.to_s;
    g.rise = g.last - g.first;
    g.lowest = floors.front().value;
    for (const auto& f : floors) g.lowest = std::min(g.lowest, f.value);
    auto fail = [&](const char* why) {
        g.why_not = why;
        return g;
    };
    if (floors.size() < rules.min_floors) return fail("too few collections");
    const double need_span = floors.size() >= rules.many_floors ? rules.min_span_many_s : rules.min_span_s;
    if (g.to_s - g.from_s < need_span) return fail("collections cover too short a time");
    g.judged = true;
    if (est->slope <= 0) return fail("floors do not rise");
    const double first_floor = floors.front().value;
    if (g.rise < std::max(rules.min_total_bytes, rules.min_relative * std::max(first_floor, g.first)))
        return fail("floors rise too little");
    if (floors.size() >= 6) {
        if (est->lower <= 0) return fail("floor slope not certain");
    } else {
        for (size_t i = 1; i < floors.size(); ++i) {
            const double prev = floors[i - 1].value;
            if (floors[i].value < prev - std::max(512.0 * 1024, 0.02 * prev)) return fail("floors fell back");
        }
    }
    const size_t h = floors.size() / 2;
    const double first_half = slope_between(floors, 0, h, rules.confidence);
    const double second_half = slope_between(floors, h, floors.size() - 1, rules.confidence);
    if (first_half < 0.25 * est->slope || second_half < 0.25 * est->slope) return fail("floors rose in one step, then held");
    g.rising = true;
    return g;
}

}  // namespace tidemark::model

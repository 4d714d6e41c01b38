// find_overfill(): the shared core of ignored-backpressure and unbounded-readable — a buffer far
// past its highWaterMark for at least sustain_s while writes/pushes after false keep arriving.
#include <algorithm>

#include "detect/util.h"

namespace tidemark::model::detail {

std::optional<Overfill> find_overfill(const StreamInfo& stream, Side side, double until,
                                      const DetectorOptions& options,
                                      uint64_t (*counter)(const proto::StreamSample&),
                                      const CallSiteCount* site,
                                      const std::function<bool(const StreamInfo&, const Run&)>& eligible) {
    const auto& pts = stream.samples;
    if (pts.empty()) return std::nullopt;
    const uint64_t hwm = side_hwm(stream, side);
    const uint64_t threshold = overfill_threshold(stream, side, options);
    std::optional<Overfill> out;
    for (const Run& r : runs(stream, until, [&](const proto::StreamSample& s) {
             return side_length(s, side) >= threshold;
         })) {
        if (r.end_s - r.start_s < options.sustain_s) continue;
        if (eligible && !eligible(stream, r)) continue;
        // The stretch above the hwm that contains this run: where the offending calls began.
        size_t base = r.first;
        while (base > 0 && side_length(pts[base - 1].s, side) >= hwm) --base;
        const uint64_t base_count = base > 0 ? counter(pts[base - 1].s) : 0;
        const uint64_t episode_calls = counter(pts[r.last].s) - std::min(base_count, counter(pts[r.last].s));
        if (episode_calls < options.min_offending_calls) continue;
        // Offending calls must keep arriving, not come in one burst that then drains: they must
        // still arrive once the overfill has lasted half the sustain time, and between the run's
        // start and the last of them, intervals with new offending calls must cover at least
        // kActiveFraction of the time (a Transform pushing one chunk's worth of lines at a time,
        // with its callback held until they drain, refills in rare steps: bounded by design).
        constexpr double kActiveFraction = 0.3;
        double late_s = -1, active_s = 0, last_call_s = r.start_s;
        for (size_t k = r.first + 1; k <= r.last; ++k) {
            if (counter(pts[k].s) <= counter(pts[k - 1].s)) continue;
            active_s += pts[k].t_s - pts[k - 1].t_s;
            last_call_s = pts[k].t_s;
            if (late_s < 0 && pts[k].t_s >= r.start_s + 0.5 * options.sustain_s) late_s = pts[k].t_s;
        }
        if (late_s < 0) continue;
        const double active_window = last_call_s - pts[r.first].t_s;
        if (active_window <= 0 || active_s / active_window < kActiveFraction) continue;
        double onset = pts[r.first].t_s;
        for (size_t j = base; j <= r.last; ++j) {
            if (counter(pts[j].s) > base_count) { onset = pts[j].t_s; break; }
        }
        const double floor_s = base > 0 ? pts[base - 1].t_s : stream.created_s - 1e-9;
        if (site && site->first_s > floor_s && site->first_s < onset) onset = site->first_s;
        uint64_t peak = 0;
        for (size_t k = r.first; k <= r.last; ++k) peak = std::max(peak, side_length(pts[k].s, side));
        // Severity: did the buffer climb while the offending calls arrived (unbounded), or sit on a
        // plateau (a producer matched to its consumer, ignoring false but bounded)? And is it still
        // climbing now (the episode's last two seconds)?
        size_t last_call = r.first;
        for (size_t k = r.first; k <= r.last; ++k)
            if (pts[k].t_s <= last_call_s) last_call = k;
        double active_lower = 0;
        const double active_slope = length_slope(stream, side, base, last_call, &active_lower);
        size_t recent = base;
        while (recent + 3 <= r.last && pts[recent].t_s < r.end_s - 2.0) ++recent;
        double recent_lower = 0;
        length_slope(stream, side, recent, r.last, &recent_lower);
        if (!out) {
            out = Overfill{};
            out->onset_s = onset;
            out->detected_s = std::max(r.start_s + options.sustain_s, late_s);
        }
        out->end_s = r.end_s;
        out->open = r.open;
        out->peak = std::max(out->peak, peak);
        out->slope = active_slope;
        out->growing = out->growing || active_lower > 0;
        out->climbed = out->climbed || (active_lower > 0 && active_slope * std::max(0.0, last_call_s - pts[base].t_s) >=
                                                                0.5 * static_cast<double>(peak));
        out->still_growing = r.open && recent_lower > 0;
    }
    if (out) {
        out->now = side_length(pts.back().s, side);
        out->offending = counter(pts.back().s);
    }
    return out;
}

std::vector<std::pair<std::string, double>> overfill_evidence(const Overfill& o, uint64_t hwm, double ratio,
                                                              bool objects, const std::string& offending_name) {
    const std::string unit = objects ? "_objects" : "_bytes";
    return {
        {"peak_buffered" + unit, static_cast<double>(o.peak)},
        {"buffered_now" + unit, static_cast<double>(o.now)},
        {"high_water_mark" + unit, static_cast<double>(hwm)},
        {"peak_to_hwm_ratio", ratio},
        {offending_name, static_cast<double>(o.offending)},
        {"growth" + unit + "_per_s", o.slope},
        {"duration_s", o.end_s - o.onset_s},
        {"detected_at_s", o.detected_s},
    };
}

}  // namespace tidemark::model::detail

// find_overfill(): the shared core of ignored-backpressure and unbounded-readable — a buffer far
// past its highWaterMark for at least sustain_s while writes/pushes after false keep arriving.
#include <algorithm>

#include "model/detectors_util.h"

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
        // Offending calls must still arrive once the overfill has lasted half the sustain time:
        // a one-off burst that then drains is not "keeps writing after false".
        bool late = false;
        double late_s = 0;
        for (size_t k = std::max<size_t>(r.first, 1); k <= r.last; ++k) {
            if (pts[k].t_s >= r.start_s + 0.5 * options.sustain_s && counter(pts[k].s) > counter(pts[k - 1].s)) {
                late = true;
                late_s = pts[k].t_s;
                break;
            }
        }
        if (!late) continue;
        double onset = pts[r.first].t_s;
        for (size_t j = base; j <= r.last; ++j) {
            if (counter(pts[j].s) > base_count) { onset = pts[j].t_s; break; }
        }
        const double floor_s = base > 0 ? pts[base - 1].t_s : stream.created_s - 1e-9;
        if (site && site->first_s > floor_s && site->first_s < onset) onset = site->first_s;
        uint64_t peak = 0;
        for (size_t k = r.first; k <= r.last; ++k) peak = std::max(peak, side_length(pts[k].s, side));
        // "Still growing" is judged on the episode's last two seconds, not its whole history.
        size_t recent = base;
        while (recent + 3 <= r.last && pts[recent].t_s < r.end_s - 2.0) ++recent;
        double lower = 0;
        const double slope = length_slope(stream, side, recent, r.last, &lower);
        if (!out) {
            out = Overfill{};
            out->onset_s = onset;
            out->detected_s = std::max(r.start_s + options.sustain_s, late_s);
        }
        out->end_s = r.end_s;
        out->open = r.open;
        out->peak = std::max(out->peak, peak);
        out->slope = slope;
        out->growing = r.open && lower > 0 &&
                       static_cast<double>(side_length(pts[r.last].s, side)) >= 0.5 * static_cast<double>(peak);
    }
    if (out) {
        out->now = side_length(pts.back().s, side);
        out->offending = counter(pts.back().s);
    }
    return out;
}

}  // namespace tidemark::model::detail

// Helpers shared by the detectors (detectors_util.h): stream state as intervals, overfill
// thresholds, user call sites and the wording of messages.
#include "detect/util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tidemark/model/util/stats.h"

namespace tidemark::model::detail {

double observed_until(const Timeline& timeline, const StreamInfo& stream) {
    double until = timeline.end_s();
    if (const ProcessInfo* p = timeline.process(stream.proc); p && p->end_s) until = std::min(until, *p->end_s);
    if (stream.gone_s) until = std::min(until, *stream.gone_s);
    if (!stream.samples.empty()) until = std::max(until, stream.samples.back().t_s);
    return until;
}

uint64_t side_length(const proto::StreamSample& s, Side side) {
    return side == Side::Readable ? s.readable_length : s.writable_length;
}

bool side_object_mode(const StreamInfo& stream, Side side) {
    return stream.kind & (side == Side::Readable ? proto::kKindReadableObjectMode
                                                 : proto::kKindWritableObjectMode);
}

uint64_t side_hwm(const StreamInfo& stream, Side side) {
    const uint64_t hwm = side == Side::Readable ? stream.readable_hwm : stream.writable_hwm;
    if (hwm > 0) return hwm;
    return side_object_mode(stream, side) ? 16 : 16 * 1024;  // Node's defaults
}

uint64_t overfill_threshold(const StreamInfo& stream, Side side, const DetectorOptions& options) {
    const uint64_t hwm = side_hwm(stream, side);
    const uint64_t margin = side_object_mode(stream, side) ? options.overfill_min_objects
                                                           : options.overfill_min_bytes;
    const auto scaled = static_cast<uint64_t>(std::ceil(options.overfill_factor * static_cast<double>(hwm)));
    return std::max(scaled, hwm + margin);
}

std::vector<Run> runs(const StreamInfo& stream, double until,
                      const std::function<bool(const proto::StreamSample&)>& holds) {
    std::vector<Run> out;
    const auto& pts = stream.samples;
    for (size_t i = 0; i < pts.size(); ++i) {
        if (!holds(pts[i].s)) continue;
        Run r;
        r.first = i;
        while (i + 1 < pts.size() && holds(pts[i + 1].s)) ++i;
        r.last = i;
        r.start_s = pts[r.first].t_s;
        r.open = i + 1 == pts.size();
        r.end_s = r.open ? std::max(until, pts[i].t_s) : pts[i + 1].t_s;
        out.push_back(r);
    }
    return out;
}

double length_slope(const StreamInfo& stream, Side side, size_t first, size_t last,
                    double* lower_bound) {
    std::vector<stats::TimePoint> pts;
    pts.reserve(last - first + 1);
    for (size_t i = first; i <= last && i < stream.samples.size(); ++i)
        pts.push_back({stream.samples[i].t_s, static_cast<double>(side_length(stream.samples[i].s, side))});
    const auto est = stats::theil_sen(pts);
    if (!est) {
        if (lower_bound) *lower_bound = 0;
        if (pts.size() == 2 && pts[1].t_s > pts[0].t_s) {
            const double s = (pts[1].value - pts[0].value) / (pts[1].t_s - pts[0].t_s);
            if (lower_bound) *lower_bound = s;
            return s;
        }
        return 0;
    }
    if (lower_bound) *lower_bound = est->lower;
    return est->slope;
}

bool is_user_site(const std::string& site) {
    return !site.empty() && site.rfind("node:", 0) != 0 && site.rfind("internal/", 0) != 0;
}

std::string site_words(const CallSiteCount& c) {
    return c.via.empty() ? c.site : c.site + " (via " + c.via + ")";
}

void set_site(Finding& f, const CallSiteCount& c) {
    f.site = c.site;
    f.site_via = c.via;
}

const CallSiteCount* user_call_site(const StreamInfo& stream, proto::CallSiteKind kind) {
    const CallSiteCount* best = nullptr;
    for (const auto& c : stream.call_sites) {
        if (c.kind != kind || !is_user_site(c.site)) continue;
        // The app's own frame before a library's (a site captured with no app frame on the stack,
        // e.g. a write a library deferred), then the earliest.
        const bool app = c.site.find("/node_modules/") == std::string::npos;
        const bool best_app = best && best->site.find("/node_modules/") == std::string::npos;
        if (!best || (app && !best_app) || (app == best_app && c.first_s < best->first_s)) best = &c;
    }
    return best;
}

std::string stream_label(const StreamInfo& stream) {
    std::string s = stream.type.empty() ? std::string("stream") : stream.type;
    s += " #" + std::to_string(stream.id);
    if (!stream.site.empty()) s += " (created at " + stream.site + ")";
    return s;
}

FindingStream stream_ref(const StreamInfo& stream) {
    return FindingStream{stream.id, stream.type, stream.site};
}


std::string amount(double value, bool object_mode) {
    if (!object_mode) return format_bytes(value);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.0f objects", value);
    return buf;
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

bool both_halves_rise(const std::vector<stats::TimePoint>& pts, double slope, size_t max_points) {
    const size_t half = pts.size() / 2;
    const std::vector<stats::TimePoint> a(pts.begin(), pts.begin() + static_cast<std::ptrdiff_t>(half + 1));
    const std::vector<stats::TimePoint> b(pts.begin() + static_cast<std::ptrdiff_t>(half), pts.end());
    for (const auto* h : {&a, &b}) {
        const auto e = stats::theil_sen(*h, 0.95, max_points / 2);
        if (!e || e->slope < 0.25 * slope) return false;
    }
    return true;
}

double floor_onset(const std::vector<stats::TimePoint>& pts, double growth) {
    double lowest = pts.front().value;
    for (const auto& p : pts) lowest = std::min(lowest, p.value);
    double onset = pts.front().t_s;
    for (const auto& p : pts)
        if (p.value <= lowest + 0.1 * growth) onset = p.t_s;
    return onset;
}

}  // namespace tidemark::model::detail

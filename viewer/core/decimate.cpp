#include "core/decimate.h"

#include <algorithm>
#include <cmath>

namespace tidemark::viewer {

std::optional<size_t> index_at(const Series& s, double t) {
    auto it = std::upper_bound(s.t.begin(), s.t.end(), t);
    if (it == s.t.begin()) return std::nullopt;
    return static_cast<size_t>(it - s.t.begin()) - 1;
}

std::optional<double> value_at(const Series& s, double t) {
    auto i = index_at(s, t);
    if (!i) return std::nullopt;
    return s.v[*i];
}

std::vector<Column> decimate(const Series& s, double t0, double t1, size_t columns) {
    std::vector<Column> out;
    if (s.empty() || columns == 0 || !(t1 > t0)) return out;
    double width = (t1 - t0) / static_cast<double>(columns);
    size_t i = static_cast<size_t>(std::lower_bound(s.t.begin(), s.t.end(), t0) - s.t.begin());
    out.reserve(std::min(columns, s.size() - std::min(i, s.size())));
    for (; i < s.size() && s.t[i] <= t1; ++i) {
        size_t c = std::min(columns - 1, static_cast<size_t>((s.t[i] - t0) / width));
        if (out.empty() || out.back().t0 != t0 + static_cast<double>(c) * width) {
            Column col;
            col.t0 = t0 + static_cast<double>(c) * width;
            col.t1 = col.t0 + width;
            col.lo = s.lo[i];
            col.hi = s.hi[i];
            col.last = s.v[i];
            col.count = 1;
            out.push_back(col);
            continue;
        }
        Column& col = out.back();
        col.lo = std::min(col.lo, s.lo[i]);
        col.hi = std::max(col.hi, s.hi[i]);
        col.last = s.v[i];
        ++col.count;
    }
    return out;
}

double max_in(const Series& s, double t0, double t1) {
    double m = 0;
    if (auto i = index_at(s, t0)) m = s.hi[*i];
    size_t i = static_cast<size_t>(std::lower_bound(s.t.begin(), s.t.end(), t0) - s.t.begin());
    for (; i < s.size() && s.t[i] <= t1; ++i) m = std::max(m, s.hi[i]);
    return m;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    std::vector<double> out;
    if (!(hi > lo) || target < 1) return out;
    double raw = (hi - lo) / target;
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9 && out.size() < 64; v += step)
        out.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
    return out;
}

}  // namespace tidemark::viewer

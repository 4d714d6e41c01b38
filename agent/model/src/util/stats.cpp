// Theil–Sen slope with Sen's confidence interval, and order statistics (see stats.h).
#include "tidemark/model/util/stats.h"

#include <algorithm>
#include <cmath>

namespace tidemark::model::stats {

std::optional<double> median(std::vector<double> xs) { return quantile(std::move(xs), 0.5); }

std::optional<double> quantile(std::vector<double> xs, double q) {
    if (xs.empty()) return std::nullopt;
    q = std::clamp(q, 0.0, 1.0);
    const double pos = q * static_cast<double>(xs.size() - 1);
    const auto lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, xs.size() - 1);
    std::nth_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(lo), xs.end());
    const double a = xs[lo];
    if (hi == lo) return a;
    const double b = *std::min_element(xs.begin() + static_cast<std::ptrdiff_t>(lo) + 1, xs.end());
    return a + (b - a) * (pos - static_cast<double>(lo));
}

std::vector<TimePoint> downsample(std::span<const TimePoint> points, size_t max_points) {
    if (points.size() <= max_points || max_points < 2) return {points.begin(), points.end()};
    std::vector<TimePoint> out;
    out.reserve(max_points);
    const double step = static_cast<double>(points.size() - 1) / static_cast<double>(max_points - 1);
    for (size_t i = 0; i < max_points; ++i) {
        const auto idx = static_cast<size_t>(std::llround(step * static_cast<double>(i)));
        out.push_back(points[std::min(idx, points.size() - 1)]);
    }
    return out;
}

namespace {
double z_for(double confidence) {
    if (std::abs(confidence - 0.90) < 1e-9) return 1.6449;
    if (std::abs(confidence - 0.99) < 1e-9) return 2.5758;
    return 1.9600;
}
}  // namespace

std::optional<SlopeEstimate> theil_sen(std::span<const TimePoint> points, double confidence,
                                       size_t max_points) {
    const std::vector<TimePoint> pts = downsample(points, std::max<size_t>(max_points, 3));
    const size_t n = pts.size();
    if (n < 3) return std::nullopt;
    std::vector<double> slopes;
    slopes.reserve(n * (n - 1) / 2);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j) {
            const double dt = pts[j].t_s - pts[i].t_s;
            if (dt > 0) slopes.push_back((pts[j].value - pts[i].value) / dt);
            else if (dt < 0) slopes.push_back((pts[i].value - pts[j].value) / -dt);
        }
    if (slopes.empty()) return std::nullopt;
    // Three order statistics (the median and Sen's rank bounds) by selection: O(N), not O(N log N).
    const size_t big_n = slopes.size();
    const auto kth = [&](size_t k) {
        std::nth_element(slopes.begin(), slopes.begin() + static_cast<std::ptrdiff_t>(k), slopes.end());
        return slopes[k];
    };
    SlopeEstimate est;
    est.slope = big_n % 2 ? kth(big_n / 2) : 0.5 * (kth(big_n / 2 - 1) + kth(big_n / 2));
    // Sen (1968): rank bounds from the variance of Kendall's S (no tie correction).
    const double nd = static_cast<double>(n);
    const double c = z_for(confidence) * std::sqrt(nd * (nd - 1) * (2 * nd + 5) / 18.0);
    const double m1 = (static_cast<double>(big_n) - c) / 2.0;
    const double m2 = (static_cast<double>(big_n) + c) / 2.0;
    const auto clamp_rank = [&](double r) {
        const double idx = std::round(r);
        if (idx < 0) return size_t{0};
        return std::min(static_cast<size_t>(idx), big_n - 1);
    };
    est.lower = kth(clamp_rank(m1 - 1));  // M1-th smallest, 1-based
    est.upper = kth(clamp_rank(m2));      // (M2+1)-th smallest, 1-based
    std::vector<double> residual;
    residual.reserve(n);
    for (const auto& p : pts) residual.push_back(p.value - est.slope * p.t_s);
    est.intercept = *median(std::move(residual));
    est.points = n;
    est.span_s = pts.back().t_s - pts.front().t_s;
    return est;
}

}  // namespace tidemark::model::stats

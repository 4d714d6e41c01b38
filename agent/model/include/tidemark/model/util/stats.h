// Robust trend statistics shared by the growth detectors and the CI gate: a Theil–Sen slope (the
// median of pairwise slopes, insensitive to GC saw-teeth and one-off spikes) with Sen's
// distribution-free confidence interval, plus the small helpers both need (median, quantile,
// bounded downsampling). Pure functions, no Timeline dependency.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace tidemark::model::stats {

struct TimePoint {
    double t_s = 0;   // seconds
    double value = 0; // any unit (bytes, objects…)
};

struct SlopeEstimate {
    double slope = 0;      // value units per second (median of pairwise slopes)
    double lower = 0;      // lower confidence bound of the slope
    double upper = 0;      // upper confidence bound of the slope
    double intercept = 0;  // median of (value - slope * t): value at t = 0 on the fitted line
    size_t points = 0;     // points actually used (after downsampling)
    double span_s = 0;     // time covered by the points used
};

// Median of a copy of xs (nullopt when empty).
std::optional<double> median(std::vector<double> xs);

// q in [0, 1], linear interpolation between order statistics (nullopt when empty).
std::optional<double> quantile(std::vector<double> xs, double q);

// Keeps at most max_points points, evenly spaced in index, always keeping the first and the last.
std::vector<TimePoint> downsample(std::span<const TimePoint> points, size_t max_points);

// Theil–Sen slope of value over t_s with a two-sided confidence interval at `confidence`
// (0.90, 0.95 or 0.99; other values fall back to 0.95). Points beyond max_points are downsampled
// first, so the cost is bounded by max_points² / 2 pairs. nullopt with fewer than 3 points or when
// all points share one time.
std::optional<SlopeEstimate> theil_sen(std::span<const TimePoint> points, double confidence = 0.95,
                                       size_t max_points = 160);

}  // namespace tidemark::model::stats

// What survives garbage collection: the heap (or external memory) right after each major
// collection of a process, and whether that floor keeps rising. Shared by the growth detectors
// (heap-growth, external-growth) and the CI gate's growth budgets, so `--check` and the findings
// judge growth on the same evidence. docs/DETECTORS.md ("Growth judged on what survives
// collections") gives the reasoning and the blind spots.
#pragma once

#include <optional>
#include <vector>

#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/util/stats.h"

namespace tidemark::model {

enum class FloorMetric { Heap, External };

// (time, value right after the collection) of every major collection at or after from_s.
std::vector<stats::TimePoint> gc_floors(const ProcessInfo& process, FloorMetric metric, double from_s);

struct FloorRules {
    size_t min_floors = 3;          // collections needed before floors are judged at all
    double min_span_s = 8.0;        // time they must cover…
    size_t many_floors = 6;         // …or, with this many (a busy process collects often),
    double min_span_many_s = 3.0;   // this much
    double min_total_bytes = 4.0 * 1024 * 1024;  // the fitted rise must clear both this…
    double min_relative = 0.25;     // …and this fraction of the first floor
    double confidence = 0.95;
};

struct FloorGrowth {
    stats::SlopeEstimate est;  // Theil–Sen over the floors (bytes/s)
    double first = 0;          // fitted floor at the first and the last collection
    double last = 0;
    double rise = 0;           // last - first
    double lowest = 0;         // lowest floor seen
    size_t floors = 0;
    double from_s = 0;         // time of the first and last floor judged
    double to_s = 0;
    bool judged = false;       // enough floors over enough time to judge at all
    bool rising = false;       // the verdict (see floor_growth)
    const char* why_not = "";  // when not rising: the rule that failed
};

// The floors keep rising when: there are min_floors of them over min_span_s (or many_floors over
// min_span_many_s) — then they are `judged`; the fitted rise
// clears min_total_bytes and min_relative × the first floor; the slope is positive with
// confidence (its lower bound > 0 from 6 floors on; below that every floor must sit at or above
// the one before, within 2 % or 512 KiB); and both halves of the floors rise at >= 1/4 of the
// overall slope (a cache that filled and then plateaued rises in its first half only).
// nullopt when there are fewer than three floors (no slope to fit).
std::optional<FloorGrowth> floor_growth(const std::vector<stats::TimePoint>& floors, const FloorRules& rules = {});

}  // namespace tidemark::model

// Frame timings for --frame-stats (the scale benchmark, docs/VIEWER.md "Scale"): per phase of a
// frame (update, building the UI, each view, GL submission, swap) the milliseconds of every frame,
// summarised as p50 / p99 / max. Plain data, so the summary is tested without a window.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tidemark::viewer {

// The p-quantile (0..1) of v, nearest rank; 0 for an empty v.
double percentile(std::vector<double> v, double p);

class FrameStats {
public:
    using Clock = std::chrono::steady_clock;

    void add(const std::string& phase, double ms) { phases_[phase].push_back(ms); }
    void add_count(const std::string& what, double n) { counts_[what].push_back(n); }
    const std::vector<double>& samples(const std::string& phase) const;

    // {"<phase>": {"p50": …, "p99": …, "max": …, "n": …}, …}, counts as {"<what>": {"p50", "max"}}.
    nlohmann::json summary() const;

    // Adds the time from construction to destruction to `phase` (null stats: does nothing).
    class Scope {
    public:
        Scope(FrameStats* stats, const char* phase) : stats_(stats), phase_(phase), t0_(Clock::now()) {}
        ~Scope() {
            if (stats_) stats_->add(phase_, std::chrono::duration<double, std::milli>(Clock::now() - t0_).count());
        }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        FrameStats* stats_;
        const char* phase_;
        Clock::time_point t0_;
    };

private:
    std::map<std::string, std::vector<double>> phases_, counts_;
};

}  // namespace tidemark::viewer

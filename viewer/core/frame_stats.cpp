#include "core/frame_stats.h"

#include <algorithm>

namespace tidemark::viewer {

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
    return v[i];
}

const std::vector<double>& FrameStats::samples(const std::string& phase) const {
    static const std::vector<double> none;
    auto it = phases_.find(phase);
    return it == phases_.end() ? none : it->second;
}

nlohmann::json FrameStats::summary() const {
    nlohmann::json j = nlohmann::json::object();
    auto round3 = [](double x) { return static_cast<double>(static_cast<long long>(x * 1000 + 0.5)) / 1000; };
    for (const auto& [name, v] : phases_)
        j[name] = {{"p50", round3(percentile(v, 0.5))}, {"p99", round3(percentile(v, 0.99))},
                   {"max", round3(v.empty() ? 0 : *std::max_element(v.begin(), v.end()))}, {"n", v.size()}};
    for (const auto& [name, v] : counts_)
        j[name] = {{"p50", percentile(v, 0.5)}, {"max", v.empty() ? 0 : *std::max_element(v.begin(), v.end())}};
    return j;
}

}  // namespace tidemark::viewer

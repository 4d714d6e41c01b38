// --memory-budget (memory_budget.h).
#include "memory_budget.h"

#include "tidemark/model/gate/units.h"

namespace tidemark::agent {

void add_memory_budget_option(CLI::App& cmd, std::string& text) {
    text = kDefaultMemoryBudget;
    cmd.add_option("--memory-budget", text,
                   "Memory the analysis may use for history (SIZE, e.g. 256MiB, 1GB); past it the history "
                   "is coarsened further and the report says so")
        ->capture_default_str();
}

bool timeline_limits(const std::string& text, model::Timeline::Limits& limits, std::string& error) {
    uint64_t bytes = 0;
    if (!model::parse_size(text, bytes, error)) {
        error = "--memory-budget: " + error;
        return false;
    }
    if (bytes < (16ull << 20)) {
        error = "--memory-budget: '" + text + "' is too small; give at least 16MiB";
        return false;
    }
    limits = model::Timeline::Limits{};
    limits.budget_bytes = bytes;
    return true;
}

}  // namespace tidemark::agent

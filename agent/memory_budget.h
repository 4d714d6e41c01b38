// `--memory-budget SIZE` for `run`, `report` and `check`: how much memory the model's timeline may
// hold (docs/CLI.md). Past it the timeline coarsens its history further and says so in the report
// (and, live, in the trace); it never grows without bound.
#pragma once

#include <cstdint>
#include <string>

#include "cli.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::agent {

inline constexpr const char* kDefaultMemoryBudget = "256MiB";

// Adds the option to cmd, storing the text in `text` (default kDefaultMemoryBudget).
void add_memory_budget_option(CLI::App& cmd, std::string& text);

// The timeline limits for a budget text ("256MiB", "1GB"); false with a message when it is not a
// size or below 16 MiB.
bool timeline_limits(const std::string& text, model::Timeline::Limits& limits, std::string& error);

}  // namespace tidemark::agent

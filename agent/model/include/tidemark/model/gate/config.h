// From what the user wrote to Budgets: the gate's settings as text (command-line options and a
// budget file with the same keys), merged (the command line wins), then parsed and checked. Every
// error names where the value came from, the bad value, and an example of a good one.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tidemark/model/gate/gate.h"

namespace tidemark::model {

// Keys (option names without "--"): max-peak-rss, max-peak-heap, max-peak-external, max-growth,
// warmup, fail-on, allow, tolerance, baseline.
struct GateSetting {
    std::vector<std::string> values;  // list keys (max-growth, fail-on, allow) may hold several
    std::string source;               // "--max-peak-rss" or "budget file ci/budget.json, key max-peak-rss"
};
using GateSettings = std::map<std::string, GateSetting>;

const std::vector<std::string>& gate_setting_keys();

// Parses a budget file's JSON object into settings. Keys may use '-' or '_'; values are strings,
// numbers (bytes for sizes, seconds for warmup, percent for tolerance), arrays of strings for the
// list keys, and for max-growth also an object {"heap": "1MB/min", …}. Unknown keys are errors.
bool read_budget_json(std::string_view json_text, const std::string& file_label, GateSettings& out,
                      std::string& error);

// Overlays cli on file: a key set on the command line replaces the file's, except allow, whose
// lists are joined.
GateSettings merge_settings(const GateSettings& file, const GateSettings& cli);

// Parses and checks every setting into budgets (defaults for the rest). baseline is not read
// here: its path is returned in baseline_path ("" when none).
bool build_budgets(const GateSettings& settings, Budgets& budgets, std::string& baseline_path,
                   std::string& error);

}  // namespace tidemark::model

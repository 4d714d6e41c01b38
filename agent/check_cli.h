// The CI gate's command-line face: budget options shared by `tidemark check` and `run --check`
// (and `attach --check`), and the one function that judges a timeline and prints the verdict.
// The judging itself lives in tidemark_model (model/gate.h) so every front end agrees.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tidemark/model/detect/analysis.h"

namespace tidemark::agent {

struct CheckOptions {
    std::string max_peak_rss;       // SIZE, e.g. 512MB
    std::string max_peak_heap;
    std::string max_peak_external;
    std::string max_growth;         // RATE, e.g. 2MB/min
    std::string max_native_growth;  // RATE of native live bytes (--native), e.g. 1MB/min
    std::string warmup;             // DURATION, e.g. 5s
    std::vector<std::string> fail_on;  // finding kinds; empty = every error-severity finding
    std::vector<std::string> allow;    // KIND or KIND@SITE
    std::string budget_file;        // JSON with the same keys
    std::string baseline;           // a baseline trace
    std::string junit_path;         // write JUnit XML here
    std::string format = "text";    // text|json|markdown|junit (junit prints the XML to out)
    std::string tolerance;          // baseline tolerance, e.g. 10% (default 10%)
};

// Adds the budget options (--max-peak-rss … --baseline, --junit, --format where not present) to cmd.
void add_budget_options(CLI::App& cmd, CheckOptions& options, bool add_format_and_junit = true);

// Judges the analysed timeline (its findings, with the growth rules re-run under the gate's
// warm-up) against the budgets; prints the verdict to out, problems to err.
// Returns 0 when the gate passes, 1 when it fails, 2 for a usage error or unreadable input.
int run_check(const model::Analysis& analysis, const CheckOptions& options, std::ostream& out,
              std::ostream& err);

}  // namespace tidemark::agent

// The CI gate's judgement: budgets (peaks, growth rates, which findings fail, which are allowed, a
// baseline) applied to a Timeline and its findings, giving one result per budget and one verdict
// per finding. Pure: no I/O, no options parsing (gate_config.h), no printing (gate_report.h).
// The statistics behind a growth verdict are described in docs/CI.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::model {

enum class Metric { Rss, HeapUsed, External };
inline constexpr Metric kAllMetrics[] = {Metric::Rss, Metric::HeapUsed, Metric::External};

const char* metric_name(Metric m);    // "rss", "heap_used", "external"
const char* metric_option(Metric m);  // "rss", "heap", "external" (as in --max-peak-heap)
// Accepts rss, heap, heap_used, heapUsed, external.
std::optional<Metric> parse_metric(const std::string& name);

// The finding kinds PRODUCT.md defines (for validating --fail-on and --allow).
const std::vector<std::string>& known_finding_kinds();

struct SizeBudget {
    uint64_t bytes = 0;
    std::string text;  // as the user wrote it, for messages
};

struct RateBudget {
    double bytes_per_s = 0;
    double unit_s = 60;
    std::string unit_name = "min";
    std::string text;
};

struct AllowRule {
    std::string kind;
    std::string site;  // "" = any site; else matches a finding's site or stream creation site,
                       // exactly or as a path suffix ("upload.js:42" matches "/srv/app/upload.js:42")
    std::string text;  // as written
};

struct Budgets {
    std::map<Metric, SizeBudget> max_peak;
    std::map<Metric, RateBudget> max_growth;
    // Native live bytes (ProcessSample.native_live_bytes, from `run --native`): judged like
    // max_growth, on the robust slope after warm-up of every process that tracked them.
    std::optional<RateBudget> max_native_growth;
    double warmup_s = 2.0;
    // Empty: every error-severity finding fails. Else the kinds listed fail (any severity).
    std::vector<std::string> fail_on;
    bool fail_on_none = false;  // --fail-on none: findings never fail the gate
    std::vector<AllowRule> allow;
    double tolerance = 0.10;    // baseline comparison
    double confidence = 0.95;   // growth confidence interval
};

// The robust slope of one metric of one process after warm-up (docs/CI.md, "Growth").
struct GrowthEstimate {
    double slope = 0;       // bytes/s, Theil–Sen
    double lower = 0;       // bytes/s, the bound a failure must clear: min(sen_lower, slope - band/span)
    double upper = 0;       // bytes/s: max(Sen's upper bound, slope + band/span)
    double sen_lower = 0;   // Sen's distribution-free bound alone
    double noise_band = 0;  // bytes: the wider of the residuals' 5th–95th percentile spread around
                            // the line and the largest fall inside the window (one GC's reclaim)
    double start_s = 0;     // window judged (trace seconds)
    double end_s = 0;
    size_t points = 0;
    bool post_gc_floors = false;  // judged on the values right after major collections, not on samples
};

// Needs at least 8 samples spanning at least 1 s after warm-up; nullopt otherwise.
std::optional<GrowthEstimate> estimate_growth(const ProcessInfo& process, Metric metric,
                                              double warmup_s, double confidence = 0.95);

struct BudgetResult {
    std::string name;       // "max-peak-rss", "max-growth-heap", "baseline-peak-rss", …
    bool judged = true;     // false: not enough data to judge (does not fail; message says why)
    bool passed = true;
    double measured = 0;    // bytes (peaks) or bytes/s (growth: the slope)
    double limit = 0;       // same unit
    std::string unit;       // "bytes" or "bytes/s"
    std::optional<GrowthEstimate> growth;
    std::optional<double> at_s;  // where: the peak's time, or the start of the growth window
    uint32_t pid = 0;
    std::string message;    // "412.0 MB > 256 MB budget (peak at t=12.4 s, pid 4242)"
};

enum class FindingOutcome { Fails, Allowed, NotGating };

struct FindingVerdict {
    Finding finding;
    FindingOutcome outcome = FindingOutcome::NotGating;
    std::string reason;  // why it fails / is allowed / does not gate
};

struct GateResult {
    std::vector<BudgetResult> budgets;
    std::vector<FindingVerdict> findings;
    double duration_s = 0;
    double warmup_s = 0;
    size_t processes = 0;  // processes tracked (worker threads not counted: they share a pid)
    size_t samples = 0;

    size_t failures() const;
    bool passed() const { return failures() == 0; }
};

// True when rule suppresses finding f.
bool allow_matches(const AllowRule& rule, const Finding& f);

// Judges timeline (and its findings, from detect()) against budgets; baseline, when given, adds
// the baseline-* comparisons.
GateResult judge(const Timeline& timeline, const std::vector<Finding>& findings,
                 const Budgets& budgets, const Timeline* baseline = nullptr);

}  // namespace tidemark::model

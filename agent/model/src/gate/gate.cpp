// The gate's judgement (see gate.h): peaks, robust growth after warm-up, finding filters, baseline.
#include "tidemark/model/gate/gate.h"
#include "tidemark/model/timeline/gc_floors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tidemark/model/gate/units.h"
#include "tidemark/model/util/stats.h"

namespace tidemark::model {
namespace {

uint64_t metric_value(const ProcessPoint& p, Metric m) {
    switch (m) {
        case Metric::Rss: return p.rss_bytes;
        case Metric::HeapUsed: return p.heap_used_bytes;
        case Metric::External: return p.external_bytes;
    }
    return 0;
}

struct Peak {
    double bytes = 0;
    double t_s = 0;
    uint32_t pid = 0;
    bool any = false;
};

Peak peak_of(const Timeline& t, Metric m) {
    Peak peak;
    for (const auto& proc : t.processes())
        for (const auto& s : proc.samples) {
            const auto v = static_cast<double>(metric_value(s, m));
            if (!peak.any || v > peak.bytes) peak = {v, s.t_s, proc.pid, true};
        }
    return peak;
}

struct WorstGrowth {
    GrowthEstimate est;
    uint32_t pid = 0;
};

// The process whose growth is most certainly fastest (highest lower bound).
std::optional<WorstGrowth> worst_growth(const Timeline& t, Metric m, double warmup_s, double confidence) {
    std::optional<WorstGrowth> worst;
    for (const auto& proc : t.processes()) {
        const auto est = estimate_growth(proc, m, warmup_s, confidence);
        if (est && (!worst || est->lower > worst->est.lower)) worst = WorstGrowth{*est, proc.pid};
    }
    return worst;
}

std::string percent(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", fraction * 100.0);
    return buf;
}

std::string where_peak(const Peak& p) {
    return "peak at t=" + format_seconds(p.t_s) + ", pid " + std::to_string(p.pid);
}

std::string window_text(const GrowthEstimate& g, uint32_t pid) {
    return "from t=" + format_seconds(g.start_s) + " to t=" + format_seconds(g.end_s) + ", " +
           std::to_string(g.points) + (g.post_gc_floors ? " post-collection floors, pid " : " samples, pid ") +
           std::to_string(pid);
}

std::string not_enough_samples(const Timeline& t, double warmup_s) {
    size_t samples = 0;
    for (const auto& p : t.processes()) samples += p.samples.size();
    return "not judged: needs at least 8 samples over 1 s after the " + format_seconds(warmup_s) +
           " warm-up; the trace has " + std::to_string(samples) + " samples over " +
           format_seconds(t.end_s());
}

BudgetResult peak_budget(const Timeline& t, Metric m, const SizeBudget& b) {
    BudgetResult r;
    r.name = std::string("max-peak-") + metric_option(m);
    r.unit = "bytes";
    r.limit = static_cast<double>(b.bytes);
    const Peak p = peak_of(t, m);
    if (!p.any) {
        r.judged = false;
        r.message = "not judged: the trace has no memory samples";
        return r;
    }
    r.measured = p.bytes;
    r.at_s = p.t_s;
    r.pid = p.pid;
    r.passed = p.bytes <= r.limit;
    if (r.passed) {
        r.message = format_bytes(p.bytes, SizeUnits::Decimal) + " <= " + b.text + " budget (" + where_peak(p) + ")";
    } else {
        const double over = p.bytes - r.limit;
        r.message = format_bytes(p.bytes, SizeUnits::Decimal) + " > " + b.text + " budget, " + format_bytes(over, SizeUnits::Decimal) + " over" +
                    (r.limit > 0 ? " (+" + percent(over / r.limit) + ")" : "") + " (" + where_peak(p) + ")";
    }
    return r;
}

BudgetResult growth_budget(const Timeline& t, Metric m, const RateBudget& b, const Budgets& budgets) {
    BudgetResult r;
    r.name = std::string("max-growth-") + metric_option(m);
    r.unit = "bytes/s";
    r.limit = b.bytes_per_s;
    const auto worst = worst_growth(t, m, budgets.warmup_s, budgets.confidence);
    if (!worst) {
        r.judged = false;
        r.message = not_enough_samples(t, budgets.warmup_s);
        return r;
    }
    const GrowthEstimate& g = worst->est;
    r.measured = g.slope;
    r.growth = g;
    r.at_s = g.start_s;
    r.pid = worst->pid;
    r.passed = g.lower <= r.limit;
    const auto rate = [&](double v) { return format_rate(v, b.unit_s, b.unit_name); };
    const std::string conf = percent(budgets.confidence);
    if (r.passed) {
        r.message = std::string(metric_name(m)) + " slope " + rate(g.slope) + " (" + conf +
                    " lower bound " + rate(g.lower) + ") within " + b.text + " budget (" +
                    window_text(g, worst->pid) + ")";
    } else {
        r.message = std::string(metric_name(m)) + " grows " + rate(g.slope) + ", at least " +
                    rate(g.lower) + " at " + conf + " confidence > " + b.text + " budget (" +
                    window_text(g, worst->pid) + ")";
    }
    return r;
}

// The sampling error, in bytes, of a sampled estimate of `live` bytes at mean interval T: each
// block of s bytes is sampled with p = 1 - exp(-s/T) and weighted s/p, a variance of
// s²(1-p)/p = s·T·x/(eˣ-1) with x = s/T, at most s·T; summed over the live blocks, at most live·T.
double sampled_sigma(double live, double interval) { return std::sqrt(std::max(live, 0.0) * interval); }

// --max-native-growth: the Theil–Sen slope of native live bytes after warm-up, per process; the
// worst lower bound is judged (as max-growth judges rss/heap/external). In sampled mode the
// estimate moves by itself: a sampled block stays in it for its whole life, so successive samples
// share their error, and Sen's interval (which assumes independent errors) is far too narrow —
// a flat 2 MiB ring sampled every 64 KiB failed a 1 MB/min budget about one run in ten. So the
// rise over the window must also exceed twice the sampling error of the difference between its
// two ends, sqrt(T·(L_start + L_end)) (the noise band, as max-growth's band of GC teeth).
BudgetResult native_growth_budget(const Timeline& t, const RateBudget& b, const Budgets& budgets) {
    BudgetResult r;
    r.name = "max-native-growth";
    r.unit = "bytes/s";
    r.limit = b.bytes_per_s;
    std::optional<GrowthEstimate> worst;
    uint32_t worst_pid = 0;
    bool tracked = false;
    for (const ProcessInfo& p : t.processes()) {
        const NativeProcessInfo* np = t.native_process(p.proc);
        if (!np) continue;
        tracked = true;
        std::vector<stats::TimePoint> pts;
        for (const ProcessPoint& x : p.samples)
            if (x.t_s >= p.start_s + budgets.warmup_s) pts.push_back({x.t_s, static_cast<double>(x.native_live_bytes)});
        if (pts.size() < 8 || pts.back().t_s - pts.front().t_s < 1.0) continue;
        const auto est = stats::theil_sen(pts, budgets.confidence, 400);
        if (!est) continue;
        const double span = pts.back().t_s - pts.front().t_s;
        double band = 0;
        if (np->mode == proto::NativeMode::Sampled && np->sample_interval_bytes > 0) {
            const double interval = static_cast<double>(np->sample_interval_bytes);
            const double l0 = est->intercept + est->slope * pts.front().t_s, l1 = est->intercept + est->slope * pts.back().t_s;
            band = 2.0 * std::hypot(sampled_sigma(l0, interval), sampled_sigma(l1, interval));
        }
        GrowthEstimate g;
        g.slope = est->slope;
        g.lower = std::min(est->lower, est->slope - band / span);
        g.upper = std::max(est->upper, est->slope + band / span);
        g.sen_lower = est->lower;
        g.noise_band = band;
        g.start_s = pts.front().t_s;
        g.end_s = pts.back().t_s;
        g.points = est->points;
        if (!worst || g.lower > worst->lower) {
            worst = g;
            worst_pid = p.pid;
        }
    }
    if (!worst) {
        r.judged = false;
        r.message = tracked ? not_enough_samples(t, budgets.warmup_s)
                            : "not judged: the trace holds no native allocation tracking (record with `tidemark run --native`)";
        return r;
    }
    r.measured = worst->slope;
    r.growth = *worst;
    r.at_s = worst->start_s;
    r.pid = worst_pid;
    r.passed = worst->lower <= r.limit;
    const auto rate = [&](double v) { return format_rate(v, b.unit_s, b.unit_name); };
    const std::string conf = percent(budgets.confidence);
    const std::string noise = worst->noise_band > 0
                                  ? "; sampled estimates: the rise must exceed their noise band of " +
                                        format_bytes(worst->noise_band, SizeUnits::Decimal)
                                  : std::string();
    r.message = r.passed ? "native live bytes slope " + rate(worst->slope) + " (" + conf + " lower bound " + rate(worst->lower) +
                               ") within " + b.text + " budget (" + window_text(*worst, worst_pid) + noise + ")"
                         : "native live bytes grow " + rate(worst->slope) + ", at least " + rate(worst->lower) + " at " + conf +
                               " confidence > " + b.text + " budget (" + window_text(*worst, worst_pid) + noise + ")";
    return r;
}

void baseline_budgets(const Timeline& t, const Timeline& base, const Budgets& budgets,
                      std::vector<BudgetResult>& out) {
    const std::string tol = percent(budgets.tolerance);
    for (const Metric m : kAllMetrics) {
        const Peak bp = peak_of(base, m);
        if (!bp.any || bp.bytes <= 0) continue;  // the baseline did not measure this metric
        BudgetResult r;
        r.name = std::string("baseline-peak-") + metric_option(m);
        r.unit = "bytes";
        r.limit = bp.bytes * (1.0 + budgets.tolerance);
        const Peak p = peak_of(t, m);
        if (!p.any) {
            r.judged = false;
            r.message = "not judged: the trace has no memory samples";
        } else {
            r.measured = p.bytes;
            r.at_s = p.t_s;
            r.pid = p.pid;
            r.passed = p.bytes <= r.limit;
            const double change = (p.bytes - bp.bytes) / bp.bytes;
            r.message = std::string(metric_name(m)) + " peak " + format_bytes(p.bytes, SizeUnits::Decimal) + " vs baseline " +
                        format_bytes(bp.bytes, SizeUnits::Decimal) + " (" + (change >= 0 ? "+" : "") + percent(change) + ", " +
                        (r.passed ? "within " : "over ") + tol + " tolerance; " + where_peak(p) + ")";
        }
        out.push_back(std::move(r));
    }
    for (const Metric m : kAllMetrics) {
        const Peak bp = peak_of(base, m);
        if (!bp.any || bp.bytes <= 0) continue;
        BudgetResult r;
        r.name = std::string("baseline-growth-") + metric_option(m);
        r.unit = "bytes/s";
        const auto bg = worst_growth(base, m, budgets.warmup_s, budgets.confidence);
        const auto g = worst_growth(t, m, budgets.warmup_s, budgets.confidence);
        if (!bg || !g) {
            r.judged = false;
            r.message = std::string(bg ? "" : "baseline ") + not_enough_samples(bg ? t : base, budgets.warmup_s);
            out.push_back(std::move(r));
            continue;
        }
        // Noise is given the benefit of the doubt on both sides: the current run's lower bound
        // must exceed what the baseline's upper bound allows, plus the tolerance.
        r.limit = std::max(bg->est.upper, 0.0) * (1.0 + budgets.tolerance);
        r.measured = g->est.slope;
        r.growth = g->est;
        r.at_s = g->est.start_s;
        r.pid = g->pid;
        r.passed = !(g->est.lower > r.limit && g->est.lower > 0);
        r.message = std::string(metric_name(m)) + " slope " + format_rate(g->est.slope) + " (lower bound " +
                    format_rate(g->est.lower) + ") vs baseline " + format_rate(bg->est.slope) +
                    " (upper bound " + format_rate(bg->est.upper) + "); " +
                    (r.passed ? "within " : "over ") + tol + " tolerance (" + window_text(g->est, g->pid) + ")";
        out.push_back(std::move(r));
    }
}

bool site_matches(const std::string& pattern, const std::string& site) {
    if (site.empty()) return false;
    if (site == pattern) return true;
    if (site.size() > pattern.size() && site.ends_with(pattern)) {
        const char before = site[site.size() - pattern.size() - 1];
        return before == '/' || before == '\\' || pattern.front() == '/';
    }
    return false;
}

}  // namespace

const char* metric_name(Metric m) {
    switch (m) {
        case Metric::Rss: return "rss";
        case Metric::HeapUsed: return "heap_used";
        case Metric::External: return "external";
    }
    return "?";
}

const char* metric_option(Metric m) {
    switch (m) {
        case Metric::Rss: return "rss";
        case Metric::HeapUsed: return "heap";
        case Metric::External: return "external";
    }
    return "?";
}

std::optional<Metric> parse_metric(const std::string& name) {
    if (name == "rss") return Metric::Rss;
    if (name == "heap" || name == "heap_used" || name == "heapUsed" || name == "heap-used") return Metric::HeapUsed;
    if (name == "external") return Metric::External;
    return std::nullopt;
}

const std::vector<std::string>& known_finding_kinds() {
    static const std::vector<std::string> kinds = [] {
        std::vector<std::string> v;
        for (FindingKind k : kFindingKinds) v.emplace_back(finding_kind_name(k));
        return v;
    }();
    return kinds;
}

std::optional<GrowthEstimate> estimate_growth(const ProcessInfo& process, Metric metric,
                                              double warmup_s, double confidence) {
    std::vector<stats::TimePoint> pts;
    const double from = process.start_s + warmup_s;
    // Heap and external are judged on what survives collections when the tracker observed them
    // (the same floors as heap-growth / external-growth: timeline/gc_floors.h), so a gate and the
    // findings agree and a GC saw-tooth is not mistaken for growth; else on every sample.
    bool floors = false;
    if (metric != Metric::Rss && process.gc_observed) {
        pts = gc_floors(process, metric == Metric::HeapUsed ? FloorMetric::Heap : FloorMetric::External, from);
        // At least 8 floors, as the samples need 8 points: Sen's interval over fewer is too wide
        // for a budget (a 5 s run's 6 floors bounded a 13 MiB/s leak below zero).
        const auto fg = floor_growth(pts);
        floors = fg && fg->judged && pts.size() >= 8;
        if (!floors) pts.clear();
    }
    if (!floors)
        for (const auto& s : process.samples)
            if (s.t_s >= from) pts.push_back({s.t_s, static_cast<double>(metric_value(s, metric))});
    if (pts.size() < 8) return std::nullopt;
    const double span = pts.back().t_s - pts.front().t_s;
    if (span < 1.0) return std::nullopt;
    const auto sen = stats::theil_sen(pts, confidence);
    if (!sen) return std::nullopt;
    // Sen's interval assumes independent samples; successive memory samples are not (a GC
    // saw-tooth is one long excursion after another). So the verdict also asks that the rise over
    // the window exceed the band the metric moves in around its own trend line.
    // The band is the wider of two measures: the 5th–95th percentile spread of the residuals
    // around the trend line, and (for samples) the largest fall inside the window (what one GC
    // took back). The second matters when the window holds only a few teeth: the fitted line then
    // follows the ramps and the residuals look small. Floors have no teeth: the spread alone.
    std::vector<double> residuals;
    residuals.reserve(pts.size());
    double running_max = pts.front().value, max_fall = 0;
    for (const auto& p : pts) {
        residuals.push_back(p.value - (sen->intercept + sen->slope * p.t_s));
        running_max = std::max(running_max, p.value);
        max_fall = std::max(max_fall, running_max - p.value);
    }
    const double spread = *stats::quantile(residuals, 0.95) - *stats::quantile(residuals, 0.05);
    const double band = floors ? spread : std::max(spread, max_fall);
    GrowthEstimate g;
    g.slope = sen->slope;
    g.sen_lower = sen->lower;
    g.noise_band = band;
    g.lower = std::min(sen->lower, sen->slope - band / span);
    g.upper = std::max(sen->upper, sen->slope + band / span);
    g.start_s = pts.front().t_s;
    g.end_s = pts.back().t_s;
    g.points = pts.size();
    g.post_gc_floors = floors;
    return g;
}

bool allow_matches(const AllowRule& rule, const Finding& f) {
    if (rule.kind != finding_kind_name(f.kind)) return false;
    if (rule.site.empty()) return true;
    if (site_matches(rule.site, f.site)) return true;
    if (f.stream && site_matches(rule.site, f.stream->created_at)) return true;
    return std::any_of(f.frames.begin(), f.frames.end(),
                       [&](const std::string& fr) { return fr.find(rule.site) != std::string::npos; });
}

size_t GateResult::failures() const {
    size_t n = 0;
    for (const auto& b : budgets) n += b.judged && !b.passed;
    for (const auto& f : findings) n += f.outcome == FindingOutcome::Fails;
    return n;
}

GateResult judge(const Timeline& timeline, const std::vector<Finding>& findings,
                 const Budgets& budgets, const Timeline* baseline) {
    GateResult result;
    result.duration_s = timeline.end_s();
    result.warmup_s = budgets.warmup_s;
    // Worker threads are connections of a process already counted (and send no samples).
    for (const auto& p : timeline.processes()) {
        result.processes += !p.worker();
        result.samples += p.samples.size();
    }

    for (const auto& [metric, b] : budgets.max_peak) result.budgets.push_back(peak_budget(timeline, metric, b));
    for (const auto& [metric, b] : budgets.max_growth)
        result.budgets.push_back(growth_budget(timeline, metric, b, budgets));
    if (budgets.max_native_growth) result.budgets.push_back(native_growth_budget(timeline, *budgets.max_native_growth, budgets));
    if (baseline) baseline_budgets(timeline, *baseline, budgets, result.budgets);

    for (const auto& f : findings) {
        FindingVerdict v;
        v.finding = f;
        const auto rule = std::find_if(budgets.allow.begin(), budgets.allow.end(),
                                       [&](const AllowRule& r) { return allow_matches(r, f); });
        const bool listed = std::find(budgets.fail_on.begin(), budgets.fail_on.end(), finding_kind_name(f.kind)) !=
                            budgets.fail_on.end();
        if (rule != budgets.allow.end()) {
            v.outcome = FindingOutcome::Allowed;
            v.reason = "allowed by --allow " + rule->text;
        } else if (budgets.fail_on_none) {
            v.outcome = FindingOutcome::NotGating;
            v.reason = "findings do not gate (--fail-on none)";
        } else if (budgets.fail_on.empty()) {
            v.outcome = f.severity == Severity::Error ? FindingOutcome::Fails : FindingOutcome::NotGating;
            v.reason = f.severity == Severity::Error
                           ? "an error-severity finding (every one fails unless --fail-on narrows it)"
                           : std::string(severity_name(f.severity)) + " severity does not gate by default";
        } else {
            v.outcome = listed ? FindingOutcome::Fails : FindingOutcome::NotGating;
            v.reason = listed ? "kind listed in --fail-on" : "kind not listed in --fail-on";
        }
        result.findings.push_back(std::move(v));
    }
    return result;
}

}  // namespace tidemark::model

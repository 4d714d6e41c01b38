// The CI gate's command-line face (check_cli.h): the budget options, the budget file, the baseline
// trace, and printing the verdict. The judging is tidemark_model's (model/gate.h).
#include "check_cli.h"

#include <fstream>
#include <ostream>
#include <sstream>

#include "tidemark/model/detect/detectors.h"
#include "tidemark/model/gate/gate.h"
#include "tidemark/model/gate/config.h"
#include "tidemark/model/gate/report.h"
#include "tidemark/model/trace/reader.h"

namespace tidemark::agent {
namespace {

void set(model::GateSettings& settings, const std::string& key, const std::string& value) {
    if (!value.empty()) settings[key] = model::GateSetting{{value}, "--" + key};
}

void set(model::GateSettings& settings, const std::string& key, const std::vector<std::string>& values) {
    if (!values.empty()) settings[key] = model::GateSetting{values, "--" + key};
}

model::GateSettings cli_settings(const CheckOptions& o) {
    model::GateSettings s;
    set(s, "max-peak-rss", o.max_peak_rss);
    set(s, "max-peak-heap", o.max_peak_heap);
    set(s, "max-peak-external", o.max_peak_external);
    set(s, "max-growth", o.max_growth);
    set(s, "max-native-growth", o.max_native_growth);
    set(s, "warmup", o.warmup);
    set(s, "fail-on", o.fail_on);
    set(s, "allow", o.allow);
    set(s, "tolerance", o.tolerance);
    set(s, "baseline", o.baseline);
    return s;
}

bool read_file(const std::string& path, std::string& text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
    return !in.bad();
}

bool has_samples(const model::Timeline& t) {
    for (const auto& p : t.processes())
        if (!p.samples.empty()) return true;
    return false;
}

}  // namespace

void add_budget_options(CLI::App& cmd, CheckOptions& o, bool add_format_and_junit) {
    const std::string group = "Budget options (CI gate, see docs/CI.md)";
    const auto add = [&](const std::string& name, std::string& target, const std::string& type,
                         const std::string& help) {
        if (!cmd.get_option_no_throw(name)) cmd.add_option(name, target, help)->type_name(type)->group(group);
    };
    add("--max-peak-rss", o.max_peak_rss, "SIZE",
        "Fail when peak RSS exceeds SIZE (e.g. 256MB; B/KB/MB/GB decimal, KiB/MiB/GiB binary)");
    add("--max-peak-heap", o.max_peak_heap, "SIZE", "Fail when the peak JS heap used exceeds SIZE");
    add("--max-peak-external", o.max_peak_external, "SIZE", "Fail when peak external memory exceeds SIZE");
    if (!cmd.get_option_no_throw("--max-growth"))
        cmd.add_option("--max-growth", o.max_growth,
                       "Fail when memory grows faster than RATE after warm-up, with confidence (e.g. 2MB/min "
                       "for rss, heap and external; or heap=1MB/min,rss=4MB/min; repeatable)")
            ->type_name("RATE")->multi_option_policy(CLI::MultiOptionPolicy::Join)->group(group);
    add("--max-native-growth", o.max_native_growth, "RATE",
        "Fail when the live bytes of tracked native allocations (`run --native`) grow faster than RATE after "
        "warm-up, with confidence (e.g. 1MB/min)");
    add("--warmup", o.warmup, "DURATION", "Ignore growth during the first DURATION (default 2s)");
    if (!cmd.get_option_no_throw("--fail-on"))
        cmd.add_option("--fail-on", o.fail_on,
                       "Finding kinds that fail the gate, comma-separated (default: every error-severity "
                       "finding; 'none' for no finding)")
            ->type_name("KINDS")->delimiter(',')->group(group);
    if (!cmd.get_option_no_throw("--allow"))
        cmd.add_option("--allow", o.allow, "Never fail on this finding: KIND or KIND@SITE (repeatable)")
            ->type_name("KIND[@SITE]")->group(group);
    add("--budget", o.budget_file, "FILE", "Read budgets from a JSON file (same keys; options override it)");
    add("--baseline", o.baseline, "TRACE",
        "Fail when peak or growth exceeds this earlier trace's by more than --tolerance");
    add("--tolerance", o.tolerance, "PERCENT", "Allowed increase over --baseline (default 10%)");
    if (add_format_and_junit) {
        add("--junit", o.junit_path, "FILE", "Also write the verdict as JUnit XML to FILE");
        add("--format", o.format, "FORMAT", "Verdict format: text, json, markdown or junit (default text)");
    }
}

int run_check(const model::Analysis& analysis, const CheckOptions& options, std::ostream& out,
              std::ostream& err) {
    const model::Timeline& timeline = analysis.timeline();
    const std::string format = options.format.empty() ? "text" : options.format;
    if (format != "text" && format != "json" && format != "markdown" && format != "junit") {
        err << "tidemark check: --format: '" << format
            << "' is not a verdict format (use text, json, markdown or junit, e.g. --format json)\n";
        return 2;
    }

    model::GateSettings file_settings;
    if (!options.budget_file.empty()) {
        std::string text;
        if (!read_file(options.budget_file, text)) {
            err << "tidemark check: --budget: cannot read '" << options.budget_file
                << "' (give a JSON file such as {\"max-peak-rss\": \"256MB\"})\n";
            return 2;
        }
        std::string error;
        if (!model::read_budget_json(text, options.budget_file, file_settings, error)) {
            err << "tidemark check: " << error << '\n';
            return 2;
        }
    }
    model::Budgets budgets;
    std::string baseline_path, error;
    if (!model::build_budgets(model::merge_settings(file_settings, cli_settings(options)), budgets,
                              baseline_path, error)) {
        err << "tidemark check: " << error << '\n';
        return 2;
    }

    std::optional<model::AnalyzedTrace> baseline;
    if (!baseline_path.empty()) {
        baseline.emplace(model::analyze_trace(baseline_path, timeline.requested_limits()));
        if (!baseline->error.empty()) {
            err << "tidemark check: --baseline '" << baseline_path << "': " << baseline->error << '\n';
            return 2;
        }
        if (!has_samples(baseline->timeline())) {
            err << "tidemark check: --baseline '" << baseline_path
                << "' holds no memory samples: record it with `tidemark run --out FILE -- CMD`\n";
            return 2;
        }
    }
    if (!has_samples(timeline)) {
        err << "tidemark check: the trace holds no memory samples, so there is nothing to judge "
               "(was the target a node process started through `tidemark run`?)\n";
        return 2;
    }

    model::DetectorOptions detector_options;
    detector_options.warmup_s = budgets.warmup_s;
    const auto findings = analysis.engine().findings(timeline, detector_options);
    const auto result = model::judge(timeline, findings, budgets, baseline ? &baseline->timeline() : nullptr);

    if (format == "json") out << model::gate_json(result);
    else if (format == "markdown") out << model::gate_markdown(result);
    else if (format == "junit") out << model::gate_junit(result);
    else out << model::gate_text(result);
    out.flush();

    if (!options.junit_path.empty()) {
        std::ofstream junit(options.junit_path, std::ios::binary | std::ios::trunc);
        junit << model::gate_junit(result);
        junit.close();
        if (!junit) {
            err << "tidemark check: --junit: cannot write '" << options.junit_path
                << "' (check the directory exists and is writable)\n";
            return 2;
        }
    }
    return result.passed() ? 0 : 1;
}

}  // namespace tidemark::agent

// `tidemark report TRACE [--format text|json|markdown|junit|collapsed]`: loads a trace, runs the detectors
// and prints the report (tidemark_model's report.h). A damaged or cut-short trace still gets a
// report of what was readable, then a message on stderr and exit 2.
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "tidemark/model/report/report.h"
#include "memory_budget.h"
#include "trace_input.h"

namespace tidemark::agent {

namespace {

struct ReportArgs {
    std::string trace;
    std::string format = "text";
    std::string memory_budget;
};

int run_report(const ReportArgs& args) {
    model::Timeline::Limits limits;
    if (std::string error; !timeline_limits(args.memory_budget, limits, error)) {
        std::cerr << "tidemark report: " << error << "\n";
        return kExitUsage;
    }
    TraceInput in = load_trace_input(args.trace, limits);
    if (in.anything_readable) {
        const auto& timeline = in.loaded.timeline();
        const auto findings = in.loaded.analysis.findings();
        if (args.format == "json") {
            std::cout << model::report_json(timeline, findings);
        } else if (args.format == "markdown") {
            std::cout << model::report_markdown(timeline, findings);
        } else if (args.format == "junit") {
            std::cout << model::report_junit(timeline, findings);
        } else if (args.format == "collapsed") {
            std::cout << model::report_collapsed(timeline);
        } else {
            std::cout << model::report_text(timeline, findings);
        }
        std::cout.flush();
    }
    if (!in.problem.empty()) {
        std::ostringstream upto;
        upto << std::fixed << std::setprecision(1) << in.loaded.timeline().end_s();
        std::cerr << "tidemark: " << in.problem;
        if (in.anything_readable)
            std::cerr << "\n  the report above covers what was readable (up to t=" << upto.str() << " s)";
        else if (in.damaged)
            std::cerr << "\n  nothing in it was readable";
        std::cerr << "\n";
        return kExitUsage;
    }
    return 0;
}

}  // namespace

Command add_report_command(CLI::App& parent) {
    auto args = std::make_shared<ReportArgs>();
    CLI::App* cmd = parent.add_subcommand("report", "Print what a trace shows: process figures, "
                                                    "every stream, and the findings");
    cmd->add_option("TRACE", args->trace, "A .tidemark file written by `tidemark run`")->required();
    cmd->add_option("--format", args->format, "Output format (collapsed: native live bytes as collapsed stacks "
                                              "`frame;frame;frame BYTES` for flame-graph tools)")
        ->check(CLI::IsMember({"text", "json", "markdown", "junit", "collapsed"}))
        ->capture_default_str();
    add_memory_budget_option(*cmd, args->memory_budget);
    return {cmd, [args] { return run_report(*args); }, nullptr};
}

}  // namespace tidemark::agent

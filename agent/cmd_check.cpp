// `tidemark check TRACE [BUDGET OPTIONS] [--junit FILE]`: the CI gate on a recorded trace. The
// budgets and the verdict are check_cli.h's (shared with `run --check`); this file only loads the
// trace. A damaged or cut-short trace is not judged: exit 2 with what to do.
#include <iostream>
#include <memory>

#include "cli.h"  // first: check_cli.h includes CLI11 too
#include "check_cli.h"
#include "commands.h"
#include "memory_budget.h"
#include "trace_input.h"

namespace tidemark::agent {

namespace {

struct CheckArgs {
    std::string trace;
    CheckOptions options;
    std::string memory_budget;
};

int run_check_command(const CheckArgs& args) {
    model::Timeline::Limits limits;
    if (std::string error; !timeline_limits(args.memory_budget, limits, error)) {
        std::cerr << "tidemark check: " << error << "\n";
        return kExitUsage;
    }
    TraceInput in = load_trace_input(args.trace, limits);
    if (!in.problem.empty()) {
        std::cerr << "tidemark: " << in.problem << "\n";
        if (in.damaged) std::cerr << "  the gate judges complete traces only\n";
        return kExitUsage;
    }
    return run_check(in.loaded.analysis, args.options, std::cout, std::cerr);
}

}  // namespace

Command add_check_command(CLI::App& parent) {
    auto args = std::make_shared<CheckArgs>();
    CLI::App* cmd = parent.add_subcommand(
        "check", "CI gate: judge a trace against memory budgets and findings "
                 "(exit 0 pass, 1 fail, 2 usage error or unreadable trace)");
    cmd->add_option("TRACE", args->trace, "A .tidemark file written by `tidemark run`")->required();
    add_budget_options(*cmd, args->options, true);
    add_memory_budget_option(*cmd, args->memory_budget);
    return {cmd, [args] { return run_check_command(*args); }, nullptr};
}

}  // namespace tidemark::agent

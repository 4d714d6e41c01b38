// `tidemark run [--out FILE] [--interval MS] [--follow-children] [--live ADDR] [--native off|sampled|full]
// [--native-sample-interval SIZE] [--check [BUDGET OPTIONS]] -- CMD…`:
// records CMD (run_session.cpp does the work), then prints the findings and a one-line summary
// on stderr and exits with CMD's own status — or, with --check, 1 when the gate fails.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <set>

#include "cli.h"  // first: check_cli.h includes CLI11 too
#include "check_cli.h"
#include "commands.h"
#include "live_findings.h"
#include "live_relay.h"
#include "memory_budget.h"
#include "tidemark/model/detect/analysis.h"
#include "run_session.h"
#include "session_cli.h"
#include "tidemark/model/gate/units.h"
#include "tracker_location.h"

namespace tidemark::agent {

namespace {

struct RunArgs {
    std::vector<std::string> command;
    std::string out;
    uint32_t interval_ms = 100;
    bool follow_children = false;
    std::string gc_probe = "on";
    bool check = false;
    CheckOptions check_options;
    std::string memory_budget;
    std::string live;
    std::string native = "off";
    std::string native_sample_interval = "512KiB";
};

std::string describe_status(const ExitStatus& st) {
    if (st.signal) {
        const char* name = ::sigabbrev_np(st.signal);
        return "was killed by SIG" + std::string(name ? name : std::to_string(st.signal).c_str()) +
               " (status " + std::to_string(st.shell_status()) + ")";
    }
    return "exited with status " + std::to_string(st.code);
}

int run_run(const RunArgs& args) {
    ::signal(SIGPIPE, SIG_IGN);  // a closed stderr must not kill the recording (the target resets it)
    const TrackerLocation tracker = find_tracker();
    if (!tracker.error.empty()) {
        std::cerr << "tidemark: " << tracker.error << "\n";
        return kExitUsage;
    }
    SessionConfig config;
    config.command = args.command;
    config.out_path = args.out;
    config.interval_ms = args.interval_ms;
    config.follow_children = args.follow_children;
    config.gc_probe = args.gc_probe == "on";
    config.preload_path = tracker.preload_path;
    config.live_addr = args.live;
    config.native_mode = args.native.empty() ? "sampled" : args.native;
    if (config.native_mode != "off") {
        if (tracker.native_path.empty()) {
            std::cerr << "tidemark run: --native needs the native tracker " << tracker.lib_dir
                      << "/libtidemark_native.so, which is missing; rebuild or reinstall tidemark\n";
            return kExitUsage;
        }
        config.native_lib_path = tracker.native_path;
        std::string error;
        if (!model::parse_size(args.native_sample_interval, config.native_sample_interval_bytes, error) ||
            config.native_sample_interval_bytes == 0) {
            std::cerr << "tidemark run: --native-sample-interval: "
                      << (error.empty() ? "must be at least 1 byte" : error) << "\n";
            return kExitUsage;
        }
    }

    model::Timeline::Limits limits;
    if (std::string error; !timeline_limits(args.memory_budget, limits, error)) {
        std::cerr << "tidemark run: " << error << "\n";
        return kExitUsage;
    }
    model::Analysis analysis(limits);
    const SessionOutcome outcome = run_session(config, analysis, std::cerr);
    if (!outcome.target_ran) return outcome.agent_exit_code;

    const int verdict = finish_recording(analysis, outcome, args.command.front() + " " + describe_status(outcome.status),
                                         args.check ? &args.check_options : nullptr);
    return verdict != 0 ? verdict : outcome.status.shell_status();
}

}  // namespace

void add_live_option(CLI::App& cmd, std::string& live) {
    cmd.add_option("--live", live,
                   "Relay the trace as it is written to viewers connecting to ADDR: unix:PATH, "
                   "127.0.0.1:PORT, localhost:PORT or [::1]:PORT (loopback only; PORT 0 picks a free "
                   "port, printed as `tidemark: live on ADDR`)")
        ->type_name("ADDR")
        ->check(CLI::Validator(
            [](std::string& value) {
                LiveAddress addr;
                std::string error;
                return parse_live_address(value, addr, error) ? std::string() : error;
            },
            ""));
}

void add_check_flag(CLI::App& cmd, bool& check_flag, CheckOptions& options, const std::string& verb) {
    CLI::Option* check = cmd.add_flag(
        "--check", check_flag,
        "After the " + verb + ", judge the recording with the CI gate (budget options as in `tidemark "
        "check`); exit 1 when it fails");
    std::set<const CLI::Option*> before;
    for (const CLI::Option* o : cmd.get_options()) before.insert(o);
    add_budget_options(cmd, options, true);
    for (CLI::Option* o : cmd.get_options())
        if (!before.count(o) && o != check) o->needs(check);
}

int finish_recording(model::Analysis& analysis, const SessionOutcome& outcome, const std::string& how_it_ended,
                     const CheckOptions* check) {
    analysis.finish();
    const auto findings = analysis.findings();
    LiveFindings::print_summary(findings, std::cerr);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", analysis.timeline().end_s());
    std::cerr << "tidemark: " << how_it_ended << "; recorded " << secs << " s, " << outcome.streams
              << (outcome.streams == 1 ? " stream, " : " streams, ") << findings.size()
              << (findings.size() == 1 ? " finding" : " findings");
    if (outcome.trace_complete) {
        std::cerr << " → " << outcome.trace_path << "; see `tidemark report " << outcome.trace_path << "`\n";
    } else {
        std::cerr << "; the trace " << outcome.trace_path << " is incomplete (see the error above)\n";
    }
    return check ? run_check(analysis, *check, std::cerr, std::cerr) : 0;
}

Command add_run_command(CLI::App& parent) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* cmd = parent.add_subcommand(
        "run", "Run a command with tracking, record a trace, print findings live and at exit; "
               "exits with the command's own status");
    cmd->add_option("--out", args->out, "Trace file to write (default: tidemark-<pid>.tidemark in "
                                        "the current directory, <pid> = the command's pid)");
    cmd->add_option("--interval", args->interval_ms, "Sampling interval of the tracker, in ms")
        ->check(CLI::Range(10u, 60000u))
        ->capture_default_str();
    add_memory_budget_option(*cmd, args->memory_budget);
    cmd->add_flag("--follow-children", args->follow_children,
                  "Also track every Node.js process the command starts (default: only the first)");
    cmd->add_option("--gc-probe", args->gc_probe,
                    "on: when a Node process's memory climbs by max(2 MiB, 10 %) with no major garbage "
                    "collection for 5 s, ask V8 for one (at most one per 5 s) so retained memory can be "
                    "told from garbage not yet collected; off: only observe collections")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    add_live_option(*cmd, args->live);
    cmd->add_option("--native", args->native,
                    "Track native allocations (malloc family, C++ new) with the preloaded native tracker: "
                    "off (the default without the flag), sampled (the default for `--native` alone: "
                    "byte-based Poisson sampling, cheap enough for production) or full (every allocation); "
                    "docs/NATIVE.md")
        ->expected(0, 1)
        ->type_name("off|sampled|full")
        ->check(CLI::IsMember({"", "off", "sampled", "full"}));
    cmd->add_option("--native-sample-interval", args->native_sample_interval,
                    "Mean bytes between samples in `--native sampled` (exponential intervals), e.g. 512KiB, 64KiB")
        ->type_name("SIZE")
        ->capture_default_str();
    add_check_flag(*cmd, args->check, args->check_options, "run");
    cmd->add_option("CMD", args->command, "The command to run, after `--`");
    auto take_trailing = [args](std::vector<std::string> trailing, std::string& error) {
        if (trailing.empty()) {
            if (args->command.empty()) {
                error = "no command to run: put it after `--`, e.g. `tidemark run -- node app.js`";
                return false;
            }
            return true;
        }
        if (!args->command.empty()) {
            error = "give the command once, after `--` (found `" + args->command.front() +
                    "` before it as well)";
            return false;
        }
        args->command = std::move(trailing);
        return true;
    };
    return {cmd, [args] { return run_run(*args); }, take_trailing};
}

}  // namespace tidemark::agent

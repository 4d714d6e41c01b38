// `tidemark attach PID [--out FILE] [--duration S] [--interval MS] [--live ADDR] [--existing]
// [--streams] [--no-workers] [--check [BUDGET OPTIONS]]`: records a process that is already running,
// then leaves it as it was. A node target gets the stream tracker through its inspector, on its
// main thread and the worker threads running then (node_inject.cpp); the
// connection's end is the detach (the tracker then restores everything it patched). Any other
// process is recorded from /proc only (memory samples, no injection). Ends after --duration, on
// Ctrl-C / SIGTERM, or when the target exits. Exit status: 0, 1 when --check fails, 2 when it
// could not attach (the message says why: no such process, not permitted, not node, inspector…).
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "attach_target.h"
#include "commands.h"
#include "memory_budget.h"
#include "native_inject.h"
#include "tidemark/model/gate/units.h"
#include "node_inject.h"
#include "session_cli.h"
#include "tracker_location.h"

namespace tidemark::agent {

namespace {

struct AttachArgs {
    int pid = 0;
    std::string out;
    double duration_s = 0;
    uint32_t interval_ms = 100;
    std::string gc_probe = "on";
    bool existing = false;
    bool streams = false;
    bool no_workers = false;
    bool check = false;
    CheckOptions check_options;
    std::string memory_budget;
    std::string live;
    std::string route = "inspector";
    std::string native = "off";
    std::string native_sample_interval = "512KiB";
};

std::string fmt_ms(double ms) {
    char b[32];
    std::snprintf(b, sizeof b, ms < 10 ? "%.1f ms" : "%.0f ms", ms);
    return b;
}

int run_attach(const AttachArgs& args) {
    ::signal(SIGPIPE, SIG_IGN);
    TargetInfo target;
    std::string error;
    if (!inspect_target(args.pid, target, error)) {
        std::cerr << "tidemark attach: " << error << "\n";
        return kExitUsage;
    }
    if (target.pid == ::getpid()) {
        std::cerr << "tidemark attach: that is tidemark itself\n";
        return kExitUsage;
    }
    const bool node = target.is_node;
    if (!node && args.streams) {
        std::cerr << "tidemark attach: pid " << target.pid << " (" << target.exe
                  << ") is not a node process, so it has no streams to track; attach without --streams "
                     "to record its memory from /proc\n";
        return kExitUsage;
    }
    const bool ptrace_route = args.route == "ptrace";
    if (node && !ptrace_route && !target.catches_sigusr1) {
        std::cerr << "tidemark attach: pid " << target.pid << " is node but does not handle SIGUSR1, so its "
                     "inspector cannot be opened (started with --disable-sigusr1, or it replaced the signal's "
                     "handler); sending it would kill the process, so nothing was done. --route ptrace needs "
                     "no inspector\n";
        return kExitUsage;
    }
    if (!node && args.existing) {
        std::cerr << "tidemark attach: --existing finds a node process's streams; pid " << target.pid
                  << " is not node\n";
        return kExitUsage;
    }
    const std::string native_mode = args.native.empty() ? "sampled" : args.native;
    const bool native = native_mode != "off";
    if (native && node) {
        std::cerr << "tidemark attach: --native injects the allocator tracker into a native program; pid " << target.pid
                  << " is node, whose streams and memory `tidemark attach` tracks without it (for node's native "
                     "allocations, start it under `tidemark run --native`)\n";
        return kExitUsage;
    }
    const TrackerLocation tracker = find_tracker();
    if ((node || native) && !tracker.error.empty()) {
        std::cerr << "tidemark attach: " << tracker.error << "\n";
        return kExitUsage;
    }
    if (native && tracker.native_path.empty()) {
        std::cerr << "tidemark attach: --native needs the native tracker " << tracker.lib_dir
                  << "/libtidemark_native.so, which is missing; rebuild or reinstall tidemark\n";
        return kExitUsage;
    }
    uint64_t sample_interval = 0;
    if (native && (!model::parse_size(args.native_sample_interval, sample_interval, error) || sample_interval == 0)) {
        std::cerr << "tidemark attach: --native-sample-interval: " << (error.empty() ? "must be at least 1 byte" : error)
                  << "\n";
        return kExitUsage;
    }

    SessionConfig config;
    config.out_path = args.out;
    config.interval_ms = args.interval_ms;
    config.gc_probe = args.gc_probe == "on";
    config.live_addr = args.live;
    config.attach_pid = target.pid;
    config.attach_ppid = target.ppid;
    config.attach_cmdline = target.cmdline;
    config.duration_s = args.duration_s;
    InjectReport report;
    if (node) {
        config.attach_inject = [&](const std::string& socket_path, std::string& err) {
            InjectRequest req;
            req.pid = target.pid;
            req.attach_js = tracker.lib_dir + "/attach.js";
            req.socket_path = socket_path;
            req.interval_ms = args.interval_ms;
            req.gc_probe = config.gc_probe;
            req.existing = args.existing;
            req.workers = !args.no_workers;
            req.inspector_port = target.inspector_port;
            if (ptrace_route) {
                if (!inject_node_tracker_ptrace(req, report, err)) return false;
                std::cerr << "tidemark: attached to pid " << target.pid << " (node " << report.node_version
                          << ") by ptrace, no port opened; its main thread was stopped for " << fmt_ms(report.stopped_ms)
                          << " in all, twice in epoll"
                          << (report.library_unloaded ? "" : " (the loader library could not be unloaded again: it stays mapped, inert)")
                          << "\n";
                if (!args.no_workers && report.running_workers_asked > 0)
                    std::cerr << "tidemark: " << report.running_workers_asked
                              << (report.running_workers_asked == 1 ? " worker thread" : " worker threads")
                              << " running now asked to load the tracker (each connects on its own)\n";
            } else {
                if (!inject_node_tracker(req, report, err)) return false;
                std::cerr << "tidemark: attached to pid " << target.pid << " (node " << report.node_version << ")";
                if (report.inspector_was_open) {
                    std::cerr << " through its inspector on 127.0.0.1:" << report.port << ", which was open before and is left open";
                } else {
                    std::cerr << "; its inspector listened on 127.0.0.1:" << report.port << " for "
                              << fmt_ms(report.window_ms)
                              << (report.closed_again ? " and is closed again" : " and did NOT close; check it");
                }
                std::cerr << "\n";
                if (!report.worker_threads.empty()) {
                    std::cerr << "tidemark: " << report.worker_threads.size()
                              << (report.worker_threads.size() == 1 ? " worker thread" : " worker threads")
                              << " tracked too (threadId";
                    for (size_t i = 0; i < report.worker_threads.size(); ++i)
                        std::cerr << (i == 0 ? " " : ", ") << report.worker_threads[i];
                    std::cerr << ")\n";
                }
            }
            if (!args.no_workers)
                std::cerr << (report.follows_new_workers
                                  ? "tidemark: worker threads started from now on are tracked as they start\n"
                                  : "tidemark: worker threads started from now on are not tracked (the process's "
                                    "inspector module is unavailable)\n");
            for (const std::string& e : report.worker_errors) std::cerr << "tidemark: not tracked: " << e << "\n";
            if (args.existing) {
                if (report.adopted >= 0) {
                    std::cerr << "tidemark: --existing: the heap walk paused the process for " << fmt_ms(report.pause_ms);
                    if (!report.worker_threads.empty())
                        std::cerr << " (and its worker threads, each walking its own heap, for " << fmt_ms(report.worker_pause_ms)
                                  << " in all)";
                    std::cerr << "; " << report.adopted << " streams that existed before are tracked"
                              << (ptrace_route && report.running_workers_asked > 0 ? " (the main thread's: on this route the worker "
                                                                     "threads' heaps are not walked)"
                                                                   : "")
                              << "\n";
                } else {
                    std::cerr << "tidemark: --existing: the heap walk failed; only streams created from now on are seen\n";
                }
            }
            return true;
        };
    } else if (native) {
        config.attach_detach_wait_ms = 2000;  // the tracker's sampler notices within one interval
        config.attach_inject = [&](const std::string& socket_path, std::string& err) {
            NativeInjectRequest req;
            req.pid = target.pid;
            req.library = tracker.native_path;
            req.socket_path = socket_path;
            req.mode = native_mode;
            req.sample_interval_bytes = sample_interval;
            req.interval_ms = args.interval_ms;
            NativeInjectReport nr;
            if (!inject_native_tracker_ptrace(req, nr, err)) return false;
            std::cerr << "tidemark: attached to pid " << target.pid << " (" << target.exe << ", not node) by ptrace: "
                      << (nr.main_thread ? "its main thread" : "thread " + std::to_string(nr.tid)) << " was stopped for "
                      << fmt_ms(nr.stopped_ms) << " in " << nr.call << "; native allocations tracked ("
                      << native_mode;
            if (native_mode == "sampled") std::cerr << ", mean interval " << model::format_bytes(static_cast<double>(sample_interval));
            std::cerr << "): " << nr.message
                      << ". Blocks allocated before now are not seen; the slots are put back at the detach\n";
            return true;
        };
    } else {
        std::cerr << "tidemark: attached to pid " << target.pid << " (" << target.exe
                  << ", not node): recording its memory from /proc; nothing is injected"
                  << " (--native tracks its allocations by injection)\n";
    }

    model::Timeline::Limits limits;
    if (!timeline_limits(args.memory_budget, limits, error)) {
        std::cerr << "tidemark attach: " << error << "\n";
        return kExitUsage;
    }
    model::Analysis analysis(limits);
    const SessionOutcome outcome = run_session(config, analysis, std::cerr);
    if (!outcome.target_ran) return outcome.agent_exit_code;

    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", outcome.attached_s);
    const std::string how = outcome.target_ended
                                ? "pid " + std::to_string(target.pid) + " ended while attached"
                                : "detached from pid " + std::to_string(target.pid) + " after " + secs + " s" +
                                      (node     ? " (the tracker removed itself)"
                                       : native ? (outcome.detach_confirmed
                                                       ? " (the allocator slots are put back; the tracker's library "
                                                         "stays loaded, inert)"
                                                       : " (the tracker did not confirm within 2 s that it put the "
                                                         "allocator slots back: it does so at its next sample)")
                                                : "");
    return finish_recording(analysis, outcome, how, args.check ? &args.check_options : nullptr);
}

}  // namespace

Command add_attach_command(CLI::App& parent) {
    auto args = std::make_shared<AttachArgs>();
    CLI::App* cmd = parent.add_subcommand(
        "attach", "Record a process that is already running, then leave it as it was: a node process gets "
                  "the stream tracker through its inspector (opened on loopback for a moment), any other "
                  "process is recorded from /proc. Ends after --duration, on Ctrl-C, or when it exits");
    cmd->add_option("PID", args->pid, "The process to attach to")->required();
    cmd->add_option("--out", args->out, "Trace file to write (default: tidemark-<pid>.tidemark in the current directory)");
    cmd->add_option("--duration", args->duration_s, "Detach after this many seconds (default: at Ctrl-C or SIGTERM)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--interval", args->interval_ms, "Sampling interval, in ms")
        ->check(CLI::Range(10u, 60000u))
        ->capture_default_str();
    add_memory_budget_option(*cmd, args->memory_budget);
    cmd->add_option("--gc-probe", args->gc_probe,
                    "on: when memory climbs with no major collection for 5 s, ask V8 for one (see `tidemark run "
                    "--help`); off: only observe collections")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    cmd->add_flag("--existing", args->existing,
                  "Also track the streams that existed before the attach. Finding them walks the whole heap "
                  "and pauses the process meanwhile (about 2.5 s for a 187 MB heap); the pause is reported");
    cmd->add_flag("--streams", args->streams,
                  "Require stream tracking: refuse (exit 2) when the process is not node, instead of recording "
                  "its memory only");
    cmd->add_flag("--no-workers", args->no_workers,
                  "Track the main thread only. By default the worker threads running at the attach get the "
                  "tracker too (each on a connection of its own), and so do the workers started while attached, "
                  "as they start");
    cmd->add_option("--route", args->route,
                    "How a node process gets the tracker. inspector: SIGUSR1 opens its inspector on 127.0.0.1 for "
                    "a moment (no ptrace permission needed). ptrace: stops its main thread twice where it waits in "
                    "epoll to load a small library that has the event loop load the tracker; opens no port, needs "
                    "ptrace permission, x86-64 and the node version tidemark was built with (docs/CLI.md)")
        ->check(CLI::IsMember({"inspector", "ptrace"}))
        ->capture_default_str();
    cmd->add_option("--native", args->native,
                    "A native (not node) process: also track its allocations (malloc family, C++ new) by loading the "
                    "native tracker into it with ptrace and pointing its allocator calls at it, until the detach. "
                    "sampled (the default for `--native` alone) or full. Riskier than the /proc-only attach: "
                    "docs/NATIVE.md, \"Attaching\"")
        ->expected(0, 1)
        ->type_name("off|sampled|full")
        ->check(CLI::IsMember({"", "off", "sampled", "full"}));
    cmd->add_option("--native-sample-interval", args->native_sample_interval,
                    "Mean bytes between samples in `--native sampled`, e.g. 512KiB, 64KiB")
        ->type_name("SIZE")
        ->capture_default_str();
    add_live_option(*cmd, args->live);
    add_check_flag(*cmd, args->check, args->check_options, "attach");
    return {cmd, [args] { return run_attach(*args); }, nullptr};
}

}  // namespace tidemark::agent

// One `tidemark run` recording: launches the target with the tracker preloaded, serves tracker
// connections on a private socket from a single-threaded poll() loop, records everything into a
// trace file and a live Timeline (findings are printed as they appear), forwards termination
// signals to the target, and finishes the trace once the target has exited.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "launcher.h"
#include "tidemark/model/detect/analysis.h"

namespace tidemark::agent {

struct SessionConfig {
    std::vector<std::string> command;  // CMD ARGS…
    std::string out_path;              // "" = tidemark-<target pid>.tidemark in the cwd
    uint32_t interval_ms = 100;
    bool follow_children = false;
    bool gc_probe = true;  // TIDEMARK_GC_PROBE: the tracker may request a collection (tracker/node/addon.cpp)
    std::string preload_path;          // <libdir>/preload.js
    std::string live_addr;             // --live ADDR ("" = no relay; live_relay.h)

    // `tidemark attach`: record this running process instead of launching `command`.
    pid_t attach_pid = 0;
    pid_t attach_ppid = 0;
    std::string attach_cmdline;
    double duration_s = 0;  // end after this long; 0 = until Ctrl-C / SIGTERM or the target ends
    // Loads the tracker into the target once the socket listens (node targets). Unset: nothing is
    // injected and the agent samples the process's memory from /proc every interval_ms.
    std::function<bool(const std::string& socket_path, std::string& error)> attach_inject;
    // attach --native: at the detach, wait (up to this long) for the tracker to close its end,
    // which it does only once it has put the allocator slots back; 0 = do not wait.
    int attach_detach_wait_ms = 0;
    std::string native_mode = "off";   // --native off|sampled|full (docs/NATIVE.md)
    uint64_t native_sample_interval_bytes = 512 * 1024;
    std::string native_lib_path;       // <libdir>/libtidemark_native.so, preloaded when native_mode != off
};

struct SessionOutcome {
    bool target_ran = false;     // false: the agent failed before the target started
    int agent_exit_code = 0;     // when !target_ran: 2 (setup failed), 126/127 (exec failed)
    ExitStatus status;           // how the target ended
    std::string trace_path;
    bool trace_complete = false; // the trace was written and closed without error
    uint32_t processes = 0;
    uint64_t streams = 0;
    double attached_s = 0;              // attach: how long it stayed attached
    bool detach_confirmed = true;       // attach_detach_wait_ms: every tracker closed its end in time
    bool target_ended = false;          // attach: the target exited while attached
};

SessionOutcome run_session(const SessionConfig& config, model::Analysis& analysis, std::ostream& err);

// NODE_OPTIONS for the target: the user's own options plus `--require "<preload>"`, quoted the
// way Node parses NODE_OPTIONS (double quotes; backslash escapes inside them).
std::string node_options_with_preload(const std::string& existing, const std::string& preload_path);

// LD_PRELOAD for the target: the native tracker first, then whatever the user preloads already.
std::string ld_preload_with(const std::string& existing, const std::string& library_path);

}  // namespace tidemark::agent

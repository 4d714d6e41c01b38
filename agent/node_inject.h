// Loading the tracker into a running node process for `tidemark attach`, by the inspector route:
// SIGUSR1 opens node's inspector on loopback, one WebSocket session evaluates
// `require(<libdir>/attach.js).attach(socket, interval, gcProbe, followWorkers)` with the command-line API's
// require (CJS and ESM services alike), optionally hands the streams that already exist to the
// tracker (a heap walk that pauses the process: --existing), and closes the inspector again —
// unless it was open before we came, in which case it is left as it was. The window in which the
// inspector listens is measured and reported. The worker threads running at that moment get the
// tracker too, through the same session (NodeWorker.sendMessageToWorker), each on a connection of
// its own tagged with its threadId; the workers started later get it from the main thread's
// tracker as they start (attach.js: an in-process inspector session, which opens no port).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tidemark::agent {

struct InjectRequest {
    pid_t pid = 0;
    std::string attach_js;    // absolute path of tracker/node/attach.js as installed
    std::string socket_path;  // the agent's listening socket
    uint32_t interval_ms = 100;
    bool gc_probe = true;
    bool existing = false;    // adopt streams created before the attach (pauses the process)
    bool workers = true;      // also load the tracker into the worker threads running now and later
    uint16_t inspector_port = 9229;  // where SIGUSR1 opens it (TargetInfo::inspector_port); 0: any free port
};

struct InjectReport {
    uint16_t port = 0;                // the inspector's port
    bool inspector_was_open = false;  // open before the attach: left open
    double window_ms = 0;             // SIGUSR1 until the inspector stopped listening (ours only)
    bool closed_again = false;        // the port is no longer listening
    double pause_ms = -1;             // --existing: how long the heap walk paused the main thread
    double worker_pause_ms = 0;       // --existing: the worker threads' own heap walks, in all
    int64_t adopted = -1;             // --existing: streams handed to the tracker (all threads)
    std::vector<std::string> worker_threads;  // threadIds of the worker threads now tracked
    std::vector<std::string> worker_errors;   // a sentence per worker thread that could not be
    bool follows_new_workers = false;  // the main thread's tracker loads workers started from now on
    std::string node_version;
    // The ptrace route (node_inject_ptrace.cpp):
    std::string route = "inspector";
    double stopped_ms = 0;          // how long the main thread was held, both stops together
    bool library_unloaded = false;  // tidemark_inject.so was dlclose'd again
    int running_workers_asked = 0;  // worker threads running at the attach that were asked to load
};

// false with error (a sentence saying what was wrong and what to do) when the tracker could not
// be loaded; the target is then left as it was (the inspector closed again when we opened it).
bool inject_node_tracker(const InjectRequest& req, InjectReport& report, std::string& error);

// The ptrace route: no port; the main thread is stopped twice where it waits in epoll (to load
// tidemark_inject.so, which has the event loop run attach(), then to unload it). --existing walks
// the main thread's heap through an in-process inspector session (attach.js adoptExisting()).
// Same contract as above.
bool inject_node_tracker_ptrace(const InjectRequest& req, InjectReport& report, std::string& error);

}  // namespace tidemark::agent

// The ptrace route of `tidemark attach` (see node_inject.h): no port is opened. The main thread is
// stopped where it waits in epoll; on it, dlopen(tidemark_inject.so) and its
// tidemark_inject_start(), which arms a libuv async handle and returns; the thread goes on. Its
// event loop's next turn runs the handle's callback, which evaluates the same attach() the
// inspector route evaluates (through createRequire: the script runs outside any module), and
// writes attach()'s answer to a status file. A second stop in epoll unloads the library.
#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "node_inject.h"
#include "ptrace_inject.h"

namespace tidemark::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStopWait{3000};     // the main thread reaching epoll
constexpr milliseconds kAnswerWait{10000};  // the async callback running attach()

std::string js_string(const std::string& s) { return nlohmann::json(s).dump(); }

struct Functions {
    uint64_t dlopen = 0, dlsym = 0, dlerror = 0, dlclose = 0;
};

bool find_functions(pid_t pid, Functions& f, std::string& error) {
    f.dlopen = remote_libc_function(pid, "dlopen", error);
    if (f.dlopen == 0) return false;
    f.dlsym = remote_libc_function(pid, "dlsym", error);
    f.dlerror = remote_libc_function(pid, "dlerror", error);
    f.dlclose = remote_libc_function(pid, "dlclose", error);
    return f.dlsym != 0 && f.dlerror != 0 && f.dlclose != 0;
}

std::string remote_dlerror(Tracee& t, const Functions& f) {
    uint64_t p = 0;
    std::string e, text;
    if (t.call(f.dlerror, {}, p, e) && p != 0 && t.read_string(p, 512, text)) return text;
    return "no reason given";
}

// Unloads the library on another stop in epoll, once its handle is closed. false: left loaded.
bool unload(pid_t pid, const Functions& f, uint64_t handle, uint64_t busy_fn, double& held_ms) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        Tracee t(pid);
        std::string e;
        if (!t.stop_in_epoll(kStopWait, e)) return false;
        uint64_t busy = 1;
        if (!t.call(busy_fn, {}, busy, e)) {
            held_ms += t.release();
            return false;
        }
        if ((busy & 0xffffffff) == 0) {
            uint64_t rc = 0;
            const bool ok = t.call(f.dlclose, {handle}, rc, e) && static_cast<int>(rc) == 0;
            held_ms += t.release();
            return ok;
        }
        held_ms += t.release();
        std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
}

bool attempt(const InjectRequest& req, InjectReport& report, std::string& error, bool& busy) {
    busy = false;
    const std::string dir = req.attach_js.substr(0, req.attach_js.rfind('/'));
    const std::string lib = dir + "/tidemark_inject.so";
    if (::access(lib.c_str(), R_OK) != 0) {
        error = "the ptrace route's library " + lib + " is missing (a partial install?); use --route inspector";
        return false;
    }
    const std::string who = "pid " + std::to_string(req.pid);
    Functions f;
    if (!find_functions(req.pid, f, error)) return false;

    const std::string status_path = req.socket_path + ".status";
    ::unlink(status_path.c_str());
    // The script runs in the main context, outside any module: it makes its own require.
    const std::string script =
        "(function () { const P = " + js_string(req.attach_js) +
        "; const get = process.getBuiltinModule; if (typeof get !== 'function') return JSON.stringify({ ok: false, "
        "error: 'node ' + process.version + ' has no process.getBuiltinModule (node 20.16 or later has): use --route "
        "inspector' }); const m = get('module').createRequire(P)(P); const a = m.attach(" +
        js_string(req.socket_path) + ", " + std::to_string(req.interval_ms) + ", " + (req.gc_probe ? "true" : "false") +
        ", " + (req.workers ? "true, true" : "false, false") + "); " +
        (req.existing ? "const r = JSON.parse(a); if (r.ok) { const e = m.adoptExisting(); r.adopted = e.adopted; "
                        "r.pauseMs = e.pauseMs; if (e.error) r.walkError = e.error; } return JSON.stringify(r); })()"
                      : "return a; })()");

    uint64_t handle = 0, busy_fn = 0;
    {
        Tracee t(req.pid);
        if (!t.stop_in_epoll(kStopWait, error)) {
            error = "cannot stop " + who + " where it is safe to load a library: " + error;
            return false;
        }
        uint64_t path_addr = 0, name_addr = 0, busy_name = 0, args_addr = 0, rc = 0;
        std::string e;
        if (!t.put_string(lib, path_addr, e) || !t.put_string("tidemark_inject_start", name_addr, e) ||
            !t.put_string("tidemark_inject_busy", busy_name, e) || !t.put_string(status_path + "\n" + script, args_addr, e)) {
            report.stopped_ms += t.release();
            error = e;
            return false;
        }
        if (!t.call(f.dlopen, {path_addr, RTLD_NOW | RTLD_LOCAL}, handle, e) || handle == 0) {
            const std::string why = e.empty() ? remote_dlerror(t, f) : e;
            report.stopped_ms += t.release();
            error = "loading " + lib + " into " + who + " failed: " + why;
            return false;
        }
        uint64_t start = 0;
        if (!t.call(f.dlsym, {handle, name_addr}, start, e) || start == 0 ||
            !t.call(f.dlsym, {handle, busy_name}, busy_fn, e) || busy_fn == 0) {
            t.call(f.dlclose, {handle}, rc, e);
            report.stopped_ms += t.release();
            error = lib + " has no tidemark_inject_start (a mismatched install?)";
            return false;
        }
        if (!t.call(start, {args_addr}, rc, e) || static_cast<int>(rc) != 0) {
            const int code = e.empty() ? static_cast<int>(rc) : -1;
            std::string ignored;
            uint64_t r2 = 0;
            if (code != 1) t.call(f.dlclose, {handle}, r2, ignored);
            report.stopped_ms += t.release();
            error = code == 2   ? "this node's V8 is not the one tidemark's ptrace library was built against (the node "
                                  "headers on tidemark's build machine); use --route inspector"
                    : code == 1 ? "an earlier ptrace attach to " + who + " is still loading; try again"
                    : code == 3 ? "no node event loop runs on the main thread of " + who
                                : "starting the load failed: " + e;
            return false;
        }
        report.stopped_ms += t.release();
    }

    // The answer, once the event loop has run the callback (a busy loop: its next turn).
    std::string text;
    const auto until = Clock::now() + kAnswerWait;
    for (;;) {
        std::ifstream in(status_path);
        if (in) {
            std::stringstream ss;
            ss << in.rdbuf();
            text = ss.str();
            break;
        }
        if (Clock::now() >= until) break;
        std::this_thread::sleep_for(milliseconds(10));
    }
    ::unlink(status_path.c_str());
    if (text.empty()) {
        error = "the event loop of " + who + " did not run the tracker's load within " +
                std::to_string(kAnswerWait.count() / 1000) + " s (blocked?); " + lib +
                " stays loaded and will load the tracker when the loop next turns, to a tidemark that has gone "
                "(the tracker then removes itself)";
        return false;
    }
    report.library_unloaded = unload(req.pid, f, handle, busy_fn, report.stopped_ms);
    const size_t nl = text.find('\n');
    const std::string head = text.substr(0, nl);
    const std::string body = nl == std::string::npos ? "" : text.substr(nl + 1);
    if (head != "ok") {
        error = "loading the tracker into " + who + " failed: " + body;
        return false;
    }
    const auto status = nlohmann::json::parse(body, nullptr, false);
    if (!status.is_object() || !status.value("ok", false)) {
        busy = status.is_object() && status.value("busy", false);
        error = status.is_object() && status.contains("error") && status["error"].is_string()
                    ? status["error"].get<std::string>()
                    : "the tracker did not answer as expected (" + body + ")";
        return false;
    }
    report.node_version = status.value("version", "");
    report.follows_new_workers = status.value("followsWorkers", false);
    report.running_workers_asked = status.value("runningWorkers", 0);
    if (req.existing) {
        report.adopted = status.contains("adopted") && status["adopted"].is_number() ? status["adopted"].get<int64_t>() : -1;
        report.pause_ms = status.value("pauseMs", 0.0);
    }
    return true;
}

}  // namespace

bool inject_node_tracker_ptrace(const InjectRequest& req, InjectReport& report, std::string& error) {
    report.route = "ptrace";
    // "busy": an earlier attach's tracker that has not yet seen its agent go (it does at its next
    // tick) — as the inspector route, try a few times.
    bool busy = false;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) std::this_thread::sleep_for(milliseconds(150));
        if (attempt(req, report, error, busy)) return true;
        if (!busy) return false;
    }
    return false;
}

}  // namespace tidemark::agent

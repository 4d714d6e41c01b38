// The inspector route of `tidemark attach` (see node_inject.h).
#include "node_inject.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attach_target.h"
#include "inspector.h"

namespace tidemark::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kOpenWait{5000};     // SIGUSR1 → the inspector listening
constexpr milliseconds kCallTimeout{5000};  // one protocol call (the tracker's install is ~10 ms)
constexpr milliseconds kWalkTimeout{60000}; // --existing: the heap walk of a large heap
constexpr milliseconds kCloseWait{3000};    // inspector.close() → the port gone
constexpr milliseconds kBusyWait{20000};    // another process holding the inspector's port
constexpr int kOpenAttempts = 3;            // signals sent when another process races us to the port

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

bool contains(const std::vector<uint16_t>& v, uint16_t p) { return std::find(v.begin(), v.end(), p) != v.end(); }

// One protocol session: the main thread's (the WebSocket's own) or a worker thread's, whose
// messages travel inside NodeWorker.sendMessageToWorker and come back as
// NodeWorker.receivedMessageFromWorker events.
using Call = std::function<bool(const std::string& method, const std::string& params_json, std::string& result_json,
                                milliseconds timeout, std::string& error)>;

Call main_session(inspector::Client& c) {
    return [&c](const std::string& method, const std::string& params_json, std::string& result_json,
                milliseconds timeout, std::string& error) {
        return c.call(method, params_json, result_json, timeout, error);
    };
}

Call worker_session(inspector::Client& c, const std::string& session_id) {
    auto next_id = std::make_shared<int64_t>(1);
    return [&c, session_id, next_id](const std::string& method, const std::string& params_json,
                                     std::string& result_json, milliseconds timeout, std::string& error) {
        const int64_t id = (*next_id)++;
        const nlohmann::json inner = {{"id", id}, {"method", method},
                                      {"params", nlohmann::json::parse(params_json, nullptr, false)}};
        std::string ignored;
        if (!c.call("NodeWorker.sendMessageToWorker",
                    nlohmann::json{{"sessionId", session_id}, {"message", inner.dump()}}.dump(), ignored, timeout, error))
            return false;
        nlohmann::json reply;
        std::string event, params;
        const bool got = c.wait_event(
            [&](const std::string& name, const std::string& p) {
                const auto j = nlohmann::json::parse(p, nullptr, false);
                if (!j.is_object() || j.value("sessionId", std::string()) != session_id) return false;
                if (name == "NodeWorker.detachedFromWorker") return true;
                if (name != "NodeWorker.receivedMessageFromWorker" || !j.contains("message") || !j["message"].is_string())
                    return false;
                auto r = nlohmann::json::parse(j["message"].get<std::string>(), nullptr, false);
                if (!r.is_object() || !r.contains("id") || r["id"] != id) return false;
                reply = std::move(r);
                return true;
            },
            event, params, timeout, error);
        if (!got) {
            error = method + " got no reply from the worker thread (" + error + ")";
            return false;
        }
        if (event == "NodeWorker.detachedFromWorker") {
            error = "the worker thread ended";
            return false;
        }
        if (reply.contains("error")) {
            const auto& e = reply["error"];
            error = e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>()
                                                                                      : e.dump();
            return false;
        }
        result_json = reply.contains("result") ? reply["result"].dump() : "{}";
        return true;
    };
}

// Runtime.evaluate returning a primitive by value; value_json is the JSON of result.value.
bool evaluate(const Call& c, const std::string& expression, bool command_line_api, std::string& value_json,
              std::string& error, milliseconds timeout = kCallTimeout) {
    nlohmann::json params = {{"expression", expression}, {"returnByValue", true},
                             {"includeCommandLineAPI", command_line_api}, {"silent", true}};
    std::string result;
    if (!c("Runtime.evaluate", params.dump(), result, timeout, error)) return false;
    const auto r = nlohmann::json::parse(result, nullptr, false);
    if (!r.is_object() || !r.contains("result")) {
        error = "unexpected reply to Runtime.evaluate";
        return false;
    }
    if (r.contains("exceptionDetails")) {
        const auto& d = r["exceptionDetails"];
        error = d.contains("exception") && d["exception"].contains("description")
                    ? d["exception"]["description"].get<std::string>() : d.value("text", std::string("an exception"));
        return false;
    }
    value_json = r["result"].contains("value") ? r["result"]["value"].dump() : "null";
    return true;
}

std::string js_string(const std::string& s) { return nlohmann::json(s).dump(); }

// Streams created before the attach: Runtime.queryObjects on Stream.prototype (a stop-the-world
// heap walk), then the array handed to the tracker. Returns false when a step failed.
bool adopt_existing(const Call& c, double& pause_ms, int64_t& adopted, std::string& error) {
    nlohmann::json params = {{"expression", "require('stream').Stream.prototype"}, {"includeCommandLineAPI", true},
                             {"objectGroup", "tidemark"}, {"silent", true}};
    std::string result;
    if (!c("Runtime.evaluate", params.dump(), result, kCallTimeout, error)) return false;
    auto r = nlohmann::json::parse(result, nullptr, false);
    if (!r.is_object() || !r["result"].contains("objectId")) {
        error = "could not reach Stream.prototype";
        return false;
    }
    const std::string proto_id = r["result"]["objectId"].get<std::string>();
    const auto t0 = Clock::now();
    const bool walked = c("Runtime.queryObjects",
                          nlohmann::json{{"prototypeObjectId", proto_id}, {"objectGroup", "tidemark"}}.dump(), result,
                          kWalkTimeout, error);
    pause_ms = ms_since(t0);
    if (!walked) return false;
    r = nlohmann::json::parse(result, nullptr, false);
    if (!r.is_object() || !r.contains("objects") || !r["objects"].contains("objectId")) {
        error = "the heap walk returned no array";
        return false;
    }
    params = {{"objectId", r["objects"]["objectId"]},
              {"functionDeclaration",
               "function () { const h = process[Symbol.for('tidemark.tracker')];"
               " return h && h.tracker ? h.tracker.adopt(this) : -1; }"},
              {"returnByValue", true}, {"silent", true}};
    const bool ok = c("Runtime.callFunctionOn", params.dump(), result, kWalkTimeout, error);
    std::string ignored, ignored_error;
    c("Runtime.releaseObjectGroup", R"({"objectGroup":"tidemark"})", ignored, kCallTimeout, ignored_error);
    if (!ok) return false;
    r = nlohmann::json::parse(result, nullptr, false);
    adopted = r.is_object() && r["result"].contains("value") && r["result"]["value"].is_number()
                         ? r["result"]["value"].get<int64_t>() : -1;
    return true;
}

// Evaluates attach.js's attach() in one thread's session. "busy": an attach that just ended may
// not have detached yet (its tracker notices within a tick); asked again a few times first.
// false with error: the tracker's own refusal, or (evaluated false) why the evaluation failed.
bool load_tracker(const Call& c, const std::string& expr, std::string& error, bool& evaluated,
                 nlohmann::json* answer = nullptr) {
    nlohmann::json status;
    std::string value;
    evaluated = true;
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(milliseconds(150));
        if (!evaluate(c, expr, true, value, error)) {
            evaluated = false;
            return false;
        }
        const auto reply = nlohmann::json::parse(value, nullptr, false);
        status = reply.is_string() ? nlohmann::json::parse(reply.get<std::string>(), nullptr, false) : nlohmann::json();
        if (!status.is_object() || !status.value("busy", false)) break;
    }
    if (answer != nullptr) *answer = status;
    if (status.is_object() && status.value("ok", false)) return true;
    error = status.is_object() && status.contains("error") && status["error"].is_string()
                ? status["error"].get<std::string>() : "the tracker did not answer as expected (" + value + ")";
    return false;
}

// The worker threads running now, through the main session: NodeWorker.enable announces each
// (attachedToWorker, before its reply) without pausing it; each gets the tracker (and, with
// --existing, its own heap walk). A worker that cannot be loaded is reported, not fatal: the main
// thread is tracked already. Workers started after this moment are the main thread's tracker's
// to load (attach.js followNewWorkers: an in-process session, no port), as the inspector closes.
void attach_workers(inspector::Client& c, const InjectRequest& req, const std::string& expr, InjectReport& report) {
    std::string result, error;
    if (!c.call("NodeWorker.enable", R"({"waitForDebuggerOnStart":false})", result, kCallTimeout, error)) {
        report.worker_errors.push_back("its worker threads could not be listed: " + error);
        return;
    }
    std::vector<std::pair<std::string, std::string>> workers;  // (sessionId, threadId)
    std::string method, params;
    while (c.wait_event([](const std::string& m, const std::string&) { return m == "NodeWorker.attachedToWorker"; },
                        method, params, milliseconds(0), error)) {
        const auto p = nlohmann::json::parse(params, nullptr, false);
        if (!p.is_object() || !p.contains("sessionId") || !p["sessionId"].is_string()) continue;
        // The thread's id is in the title ("[worker N] name"); workerInfo.workerId is only the
        // session's own counter (equal to the id in a process whose workers never exited).
        std::string thread = "?";
        if (p.contains("workerInfo") && p["workerInfo"].is_object() && p["workerInfo"].contains("title") &&
            p["workerInfo"]["title"].is_string()) {
            const std::string title = p["workerInfo"]["title"].get<std::string>();
            const std::string prefix = "[worker ";
            if (title.rfind(prefix, 0) == 0) {
                const size_t end = title.find(']', prefix.size());
                if (end != std::string::npos && end > prefix.size()) thread = title.substr(prefix.size(), end - prefix.size());
            }
        }
        workers.emplace_back(p["sessionId"].get<std::string>(), thread);
    }
    for (const auto& [session, thread] : workers) {
        const Call w = worker_session(c, session);
        bool evaluated = false;
        if (!load_tracker(w, expr, error, evaluated)) {
            report.worker_errors.push_back("worker thread " + thread + ": " + error);
            continue;
        }
        report.worker_threads.push_back(thread);
        if (req.existing) {
            double pause = 0;
            int64_t adopted = -1;
            std::string walk_error;
            if (adopt_existing(w, pause, adopted, walk_error) && adopted >= 0) {
                report.worker_pause_ms += pause;
                report.adopted = std::max<int64_t>(report.adopted, 0) + adopted;
            }
        }
    }
    c.call("NodeWorker.disable", "{}", result, milliseconds(1000), error);  // detaches the worker sessions
}

}  // namespace

bool inject_node_tracker(const InjectRequest& req, InjectReport& report, std::string& error) {
    const std::string who = "pid " + std::to_string(req.pid);
    const std::vector<uint16_t> before = loopback_listen_ports(req.pid);
    const uint16_t usual_port = req.inspector_port == 0 ? 9229 : req.inspector_port;
    // Port 0 (--inspect-port=0) binds any free port: no other process can be in the way.
    auto held_by_other = [&] { return req.inspector_port != 0 && loopback_port_held_by_other(req.pid, req.inspector_port); };
    auto t_signal = Clock::now();
    std::string url, url_error;
    uint16_t port = 0;
    // Open already (started with --inspect, or an earlier attach could not close it): use it as it is.
    if (contains(before, usual_port) &&
        !(url = inspector::debugger_url(usual_port, milliseconds(500), url_error)).empty()) {
        port = usual_port;
        report.inspector_was_open = true;
    }
    // SIGUSR1 opens the inspector on 127.0.0.1:9229, or on the port of --inspect-port (TargetInfo).
    // Another process listening there — most often another attach's inspector window, which lasts a
    // fraction of a second — makes node fail to open and print why on its own stderr: wait for the
    // port rather than fail, and signal again if another process took it between our signal and
    // node's bind.
    for (int attempt = 0; port == 0 && attempt < kOpenAttempts; ++attempt) {
        const auto busy_until = Clock::now() + kBusyWait;
        while (held_by_other() && Clock::now() < busy_until) std::this_thread::sleep_for(milliseconds(20));
        if (held_by_other()) {
            error = "127.0.0.1:" + std::to_string(usual_port) + ", where the inspector of " + who +
                    " opens, has been held by another process for " + std::to_string(kBusyWait.count() / 1000) +
                    " s (another inspector, or a service on that port): free it and attach again; the process was "
                    "not changed";
            return false;
        }
        if (::kill(req.pid, SIGUSR1) != 0) {
            error = "cannot signal " + who + " to open its inspector: " + std::strerror(errno);
            return false;
        }
        t_signal = Clock::now();
        // The new listener is ours. None within the wait: the inspector was open already (SIGUSR1 is
        // then a no-op; its port is among the old listeners and answers /json/list), or node could
        // not open it (the port is taken by another process, or the inspector is disabled).
        bool raced = false;
        while (port == 0 && !raced && Clock::now() - t_signal < kOpenWait) {
            for (uint16_t p : loopback_listen_ports(req.pid))
                if (!contains(before, p)) port = p;
            if (port != 0) break;
            // Another process took the port before node bound it: node has failed, or will.
            raced = held_by_other();
            if (!raced) std::this_thread::sleep_for(milliseconds(10));
        }
        if (port == 0 && !raced) break;  // not a race: see below
    }
    if (report.inspector_was_open) {
        // url found above
    } else if (port != 0) {
        // Listening is not yet serving: retry /json/list briefly.
        const auto until = Clock::now() + milliseconds(2000);
        while ((url = inspector::debugger_url(port, milliseconds(500), url_error)).empty() && Clock::now() < until)
            std::this_thread::sleep_for(milliseconds(20));
    } else {
        for (uint16_t p : before) {
            if (p != usual_port && before.size() > 1) continue;  // only the inspector's usual port is asked
            url = inspector::debugger_url(p, milliseconds(500), url_error);
            if (!url.empty()) {
                port = p;
                report.inspector_was_open = true;
                break;
            }
        }
        if (url.empty()) {
            error = "the inspector of " + who + " did not open within " + std::to_string(kOpenWait.count() / 1000) +
                    " s: another process may have taken 127.0.0.1:" + std::to_string(usual_port) +
                    " first, or the inspector is disabled in this node build; the process was not changed";
            return false;
        }
    }
    report.port = port;
    auto close_ours = [&](inspector::Client* c) {
        if (report.inspector_was_open) return;
        std::string v, e;
        // inspector.close() waits for every session to end, so it runs a little after this
        // session has closed rather than inside it (which would block the target's event loop).
        if (c)
            evaluate(main_session(*c), "(() => { const i = require('inspector'); setTimeout(() => { try { i.close(); } catch (_) {} }, 20); })()",
                     true, v, e, milliseconds(1000));
        if (c) c->close(milliseconds(300));
        const auto until = Clock::now() + kCloseWait;
        while (Clock::now() < until) {
            if (!contains(loopback_listen_ports(req.pid), port)) {
                report.closed_again = true;
                break;
            }
            std::this_thread::sleep_for(milliseconds(10));
        }
        report.window_ms = ms_since(t_signal);
    };
    if (url.empty()) {
        error = "port " + std::to_string(port) + " opened by " + who + " is not answering as an inspector (" +
                url_error + ")";
        close_ours(nullptr);
        return false;
    }
    inspector::Client client;
    if (!client.connect(url, kCallTimeout, error)) {
        error = "cannot open a session on the inspector of " + who + " (" + error +
                "); is a debugger already connected to it? Disconnect it and try again";
        close_ours(nullptr);
        return false;
    }
    const Call main = main_session(client);
    std::string value;
    if (!evaluate(main, "process.pid", false, value, error) || value != std::to_string(req.pid)) {
        error = "the inspector on 127.0.0.1:" + std::to_string(port) + " belongs to another process (pid " +
                (value.empty() ? "?" : value) + ", not " + std::to_string(req.pid) + "); nothing was loaded";
        client.close();
        return false;  // not ours to close
    }
    if (evaluate(main, "process.version", false, value, error)) {
        const auto v = nlohmann::json::parse(value, nullptr, false);
        if (v.is_string()) report.node_version = v.get<std::string>();
    }
    const std::string expr = "require(" + js_string(req.attach_js) + ").attach(" + js_string(req.socket_path) + ", " +
                             std::to_string(req.interval_ms) + ", " + (req.gc_probe ? "true" : "false") + ", " +
                             (req.workers ? "true" : "false") + ")";
    bool evaluated = false;
    nlohmann::json answer;
    if (!load_tracker(main, expr, error, evaluated, &answer)) {
        if (!evaluated) error = "loading the tracker into " + who + " failed: " + error;
        close_ours(&client);
        return false;
    }
    report.follows_new_workers = answer.is_object() && answer.value("followsWorkers", false);
    if (req.existing) {
        std::string walk_error;
        if (!adopt_existing(main, report.pause_ms, report.adopted, walk_error)) report.adopted = -1;
    }
    if (req.workers) attach_workers(client, req, expr, report);
    close_ours(&client);
    if (report.inspector_was_open) client.close();
    return true;
}

}  // namespace tidemark::agent

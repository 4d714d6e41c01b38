// Recorder tests (agent/recorder.cpp, compiled into the unit tests): a worker thread's connection
// (Hello.thread_id != 0) is never taken for the launched target even when it shares the target's
// pid and connects first; it gets a proc of its own; StreamAggregate records are accepted with
// their proc and string ids remapped; a worker that goes without a Goodbye is worded as a worker.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "recorder.h"

using namespace tidemark;
using namespace tidemark::agent;

namespace {

constexpr uint64_t kT = 1'700'000'000'000'000ull;

struct Wire {
    proto::Codec codec;
    bool send(Recorder& r, ConnectionId conn, const proto::Record& rec, std::string& error) {
        std::vector<uint8_t> bytes;
        codec.encode(rec, bytes);
        return r.on_record(conn, bytes.data(), bytes.size(), proto::record_time_us(rec), error);
    }
};

proto::Hello hello(uint64_t t, uint32_t pid, uint32_t thread_id) {
    proto::Hello h;
    h.t_us = t;
    h.pid = pid;
    h.ppid = 1;
    h.runtime = proto::Runtime::Node;
    h.interval_ms = 100;
    h.cmdline = "node app.js";
    h.thread_id = thread_id;
    return h;
}

}  // namespace

TEST_CASE("recorder: a worker thread of the target gets its own proc — never the root's", "[model][agent]") {
    std::vector<proto::Record> out;
    Recorder rec([&](const proto::Record& r) { out.push_back(r); });
    rec.root_launched(100, 1, "node app.js", kT);
    REQUIRE(out.size() == 1);

    std::string error;
    const ConnectionId worker = rec.open_connection();
    Wire ww;
    REQUIRE(ww.send(rec, worker, hello(kT + 10, 100, 2), error));  // the worker connects first
    const ConnectionId main = rec.open_connection();
    Wire mw;
    REQUIRE(mw.send(rec, main, hello(kT + 20, 100, 0), error));
    REQUIRE(out.size() == 3);
    const auto& wh = std::get<proto::Hello>(out[1]);
    CHECK(wh.proc == 1);
    CHECK(wh.thread_id == 2);
    CHECK(std::get<proto::Hello>(out[2]).proc == 0);  // the main thread is the target
    CHECK(rec.describe(worker) == "worker thread 2 of pid 100 (node app.js)");
    CHECK(rec.describe(main) == "pid 100 (node app.js)");
    CHECK(rec.processes_seen() == 2);

    // A StreamAggregate from the worker: its proc, and string ids remapped to the trace's.
    REQUIRE(mw.send(rec, main, proto::StringDef{kT + 30, 1, "IncomingMessage"}, error));
    REQUIRE(ww.send(rec, worker, proto::StringDef{kT + 31, 5, "worker.js:3"}, error));
    REQUIRE(ww.send(rec, worker, proto::StringDef{kT + 32, 6, "IncomingMessage"}, error));  // known text
    proto::StreamAggregate a;
    a.t_us = kT + 40;
    a.proc = 7;  // whatever the tracker says, the agent sets it
    a.type_str = 6;
    a.site_str = 5;
    a.created = 12;
    a.lifetime_hist[2] = 11;
    REQUIRE(ww.send(rec, worker, a, error));
    const auto& got = std::get<proto::StreamAggregate>(out.back());
    CHECK(got.proc == 1);
    CHECK(got.type_str == 1);  // "IncomingMessage", interned by the main thread's definition
    CHECK(got.site_str == 2);  // "worker.js:3"
    CHECK(got.created == 12);
    CHECK(got.lifetime_hist[2] == 11);

    // The worker ends without a Goodbye: its proc ends, worded as a worker thread.
    const size_t before = out.size();
    rec.close_connection(worker, "", kT + 50);
    bool exit_seen = false, note_seen = false;
    for (size_t i = before; i < out.size(); ++i) {
        if (const auto* e = std::get_if<proto::ProcessExit>(&out[i])) exit_seen = e->proc == 1;
        if (const auto* n = std::get_if<proto::AgentNote>(&out[i]))
            note_seen = n->text.find("worker thread 2 of pid 100") != std::string::npos;
    }
    CHECK(exit_seen);
    CHECK(note_seen);
    // The root's end comes from waitpid, not from its connection.
    const size_t before_main = out.size();
    rec.close_connection(main, "", kT + 60);
    CHECK(out.size() == before_main);
}

TEST_CASE("recorder: two worker threads and children each get a proc", "[model][agent]") {
    std::vector<proto::Record> out;
    Recorder rec([&](const proto::Record& r) { out.push_back(r); });
    rec.root_launched(100, 1, "node app.js", kT);
    std::string error;
    std::vector<Wire> wires(4);
    std::vector<ConnectionId> conns;
    const proto::Hello hellos[] = {hello(kT + 1, 100, 0), hello(kT + 2, 100, 1), hello(kT + 3, 100, 2),
                                   hello(kT + 4, 101, 0)};
    for (size_t i = 0; i < 4; ++i) {
        conns.push_back(rec.open_connection());
        REQUIRE(wires[i].send(rec, conns[i], hellos[i], error));
    }
    std::vector<uint32_t> procs;
    for (const auto& r : out)
        if (const auto* h = std::get_if<proto::Hello>(&r)) procs.push_back(h->proc);
    CHECK(procs == std::vector<uint32_t>{0, 0, 1, 2, 3});
    // A second Hello on a connection is still refused.
    CHECK_FALSE(wires[1].send(rec, conns[1], hello(kT + 5, 100, 1), error));
    CHECK_THAT(error, Catch::Contains("second Hello"));
}

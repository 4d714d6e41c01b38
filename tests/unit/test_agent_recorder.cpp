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

TEST_CASE("recorder: two worker threads and children each get a proc, and one detached at an attach's end has not ended", "[model][agent]") {
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
    // The end of an attach: a worker thread's connection detached is not its end (no ProcessExit,
    // no note: the thread runs on); one that closed by itself is.
    const size_t before = out.size();
    rec.detach_connection(conns[2], kT + 50);
    CHECK(out.size() == before);
    rec.close_connection(conns[3], "", kT + 60);
    bool exit_seen = false;
    for (size_t i = before; i < out.size(); ++i)
        if (const auto* e = std::get_if<proto::ProcessExit>(&out[i])) exit_seen = e->proc == 3;  // pid 101
    CHECK(exit_seen);
}

TEST_CASE("recorder: a node process's JS and native trackers are one proc", "[model][agent][native]") {
    std::vector<proto::Record> out;
    Recorder rec([&](const proto::Record& r) { out.push_back(r); });
    rec.root_launched(100, 1, "node app.js", kT);
    std::string error;
    // The native tracker connects first (from its constructor), then node's JS tracker.
    const ConnectionId native = rec.open_connection();
    Wire nw;
    proto::Hello nh = hello(kT + 10, 100, 0);
    nh.runtime = proto::Runtime::Native;
    nh.runtime_version = "tidemark-native sampled";
    REQUIRE(nw.send(rec, native, nh, error));
    const ConnectionId js = rec.open_connection();
    Wire jw;
    REQUIRE(jw.send(rec, js, hello(kT + 20, 100, 0), error));
    CHECK(rec.processes_seen() == 1);
    REQUIRE(out.size() == 3);
    CHECK(std::get<proto::Hello>(out[1]).runtime == proto::Runtime::Native);
    CHECK(std::get<proto::Hello>(out[2]).proc == 0);
    CHECK(std::get<proto::Hello>(out[2]).runtime == proto::Runtime::Node);  // the JS Hello is the last word

    // The native status's live bytes reach the JS tracker's samples; a native sample is not kept.
    proto::NativeStatus st;
    st.t_us = kT + 30;
    st.mode = proto::NativeMode::Sampled;
    st.live_bytes = 4096;
    REQUIRE(nw.send(rec, native, st, error));
    CHECK(std::get<proto::NativeStatus>(out.back()).proc == 0);
    const size_t before = out.size();
    proto::ProcessSample ns;
    ns.t_us = kT + 35;
    ns.rss_bytes = 1 << 20;
    REQUIRE(nw.send(rec, native, ns, error));
    CHECK(out.size() == before);
    proto::ProcessSample js_sample;
    js_sample.t_us = kT + 40;
    js_sample.heap_used_bytes = 1 << 22;
    REQUIRE(jw.send(rec, js, js_sample, error));
    const auto& got = std::get<proto::ProcessSample>(out.back());
    CHECK(got.proc == 0);
    CHECK(got.native_live_bytes == 4096);
    CHECK(got.heap_used_bytes == 1u << 22);

    // A child with both trackers (--follow-children): one more proc, ended by its last connection.
    const ConnectionId cn = rec.open_connection();
    Wire cnw;
    proto::Hello ch = hello(kT + 50, 200, 0);
    ch.runtime = proto::Runtime::Native;
    REQUIRE(cnw.send(rec, cn, ch, error));
    const ConnectionId cj = rec.open_connection();
    Wire cjw;
    REQUIRE(cjw.send(rec, cj, hello(kT + 60, 200, 0), error));
    CHECK(rec.processes_seen() == 2);
    REQUIRE(cjw.send(rec, cj, proto::Goodbye{kT + 70, 0, 3}, error));
    size_t exits = 0;
    rec.close_connection(cj, "", kT + 80);
    for (const auto& r : out) exits += std::holds_alternative<proto::ProcessExit>(r);
    CHECK(exits == 0);  // the native connection is still open
    rec.close_connection(cn, "", kT + 90);
    const auto* e = std::get_if<proto::ProcessExit>(&out.back());
    REQUIRE(e);
    CHECK(e->proc == 1);
    CHECK(e->code == 3);

    // A native program that exec()s another one (same pid, same runtime) is a new process entry.
    const ConnectionId a = rec.open_connection();
    Wire aw;
    proto::Hello ah = hello(kT + 100, 300, 0);
    ah.runtime = proto::Runtime::Native;
    REQUIRE(aw.send(rec, a, ah, error));
    const ConnectionId b = rec.open_connection();
    Wire bw;
    ah.t_us = kT + 110;
    REQUIRE(bw.send(rec, b, ah, error));
    CHECK(rec.processes_seen() == 4);
}

// Native streams end to end (tidemark/native_streams.h): examples/native_queue.c registers its
// producer/consumer queue, and `tidemark run --native` judges it with the stream detectors — the
// producer that pushes on after "full" is ignored-backpressure naming its function and file:line,
// the producer that waits for the queue to drain is silent, and the program runs unchanged
// without tidemark.
#include <catch2/catch.hpp>

#include <string>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

std::string queue_program() { return std::string(TIDEMARK_NATIVE_FIXTURES) + "/native_queue"; }
std::string queue_source() { return std::string(TIDEMARK_FIXTURES) + "/../../examples/native_queue.c"; }

ProcessResult run_queue(const std::string& mode, const std::string& trace, const std::string& behaviour) {
    SpawnOptions opt;
    opt.timeout_s = 60;
    return run_cli({"run", "--native", mode, "--out", trace, "--", queue_program(), behaviour, "4"}, opt);
}

std::vector<nlohmann::json> findings_of(const nlohmann::json& report, const std::string& kind) {
    std::vector<nlohmann::json> out;
    for (const auto& f : report["findings"])
        if (f["kind"] == kind) out.push_back(f);
    return out;
}

}  // namespace

TEST_CASE("a native producer that ignores its queue's full is ignored-backpressure naming its function and line",
          "[native][streams][integration]") {
    const std::string mode = GENERATE(std::string("sampled"), std::string("full"));
    TempDir dir;
    const std::string trace = dir.file("queue.tidemark");
    const ProcessResult r = run_queue(mode, trace, "ignore");
    INFO(r.out << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);  // the target's status (findings change it only with --check)
    CHECK_THAT(r.out, Catch::Contains("registered with tidemark"));
    CHECK_THAT(r.err, Catch::Contains("ignored-backpressure"));

    const auto report = report_json(trace);
    const auto found = findings_of(report, "ignored-backpressure");
    REQUIRE(found.size() == 1);
    const auto& f = found[0];
    CHECK(f["severity"] == "error");
    CHECK(f["stream"]["type"] == "MessageQueue");
    const int ignoring_line = line_of(queue_source(), "const int full = queue_push(m);  // \"full\" — ignored") + 1;
    REQUIRE(ignoring_line > 1);
    CHECK(f["site"] == "producer_ignoring_full (native_queue.c:" + std::to_string(ignoring_line) + ")");
    CHECK_THAT(f["message"].get<std::string>(), Catch::Contains("producer_ignoring_full (native_queue.c:"));
    CHECK_THAT(f["message"].get<std::string>(), Catch::Contains("after it said it was full"));
    CHECK_THAT(f["fix"].get<std::string>(), Catch::Contains("tidemark_stream"));
    // The stream was created in main.
    CHECK_THAT(f["stream"]["created_at"].get<std::string>(), Catch::StartsWith("main (native_queue.c:"));
    CHECK(f["evidence"]["writes_after_false"].get<double>() > 100);
}

TEST_CASE("a native producer that waits for its queue to drain is silent", "[native][streams][integration]") {
    TempDir dir;
    const std::string trace = dir.file("queue.tidemark");
    const ProcessResult r = run_queue("sampled", trace, "wait");
    INFO(r.out << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("registered with tidemark"));
    const auto report = report_json(trace);
    CHECK(report["findings"].empty());
    // The queue is in the trace, bounded near its highWaterMark.
    CHECK(streams_of_type(report, "MessageQueue").size() == 1);
}

TEST_CASE("a program using the native streams API runs unchanged without tidemark", "[native][streams][integration]") {
    const ProcessResult r = spawn_and_wait({queue_program(), "ignore", "0.5"}, SpawnOptions{});
    INFO(r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("not tracked"));
    CHECK_THAT(r.out, Catch::Contains("done"));
    // Under tidemark without --native the library is not preloaded either.
    TempDir dir;
    const ProcessResult t = run_cli({"run", "--out", dir.file("t.tidemark"), "--", queue_program(), "wait", "0.5"});
    CHECK(t.exit_code == 0);
    CHECK_THAT(t.out, Catch::Contains("not tracked"));
}

// The readable side, in another shape (tests/fixtures/native/tail_source.c): one thread, an event
// loop pushing records into a READABLE queue a shipper reads.
namespace {

std::string tail_program() { return std::string(TIDEMARK_NATIVE_FIXTURES) + "/tail_source"; }
std::string tail_source() { return std::string(TIDEMARK_FIXTURES) + "/native/tail_source.c"; }

nlohmann::json run_tail(const std::string& behaviour, TempDir& dir, ProcessResult& r) {
    SpawnOptions opt;
    opt.timeout_s = 60;
    const std::string trace = dir.file("tail.tidemark");
    r = run_cli({"run", "--native", "--out", trace, "--", tail_program(), behaviour, "4"}, opt);
    return report_json(trace);
}

}  // namespace

TEST_CASE("a native source that pushes on into a queue its consumer paused is unbounded-readable, in native words",
          "[native][streams][integration]") {
    TempDir dir;
    ProcessResult r;
    const auto report = run_tail("paused", dir, r);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("registered with tidemark"));
    const auto found = findings_of(report, "unbounded-readable");
    REQUIRE(found.size() == 1);
    const auto& f = found[0];
    CHECK(f["severity"] == "error");
    CHECK(f["stream"]["type"] == "LogTail");
    const int line = line_of(tail_source(), "tidemark_stream_push(queue, RECORD_BYTES, full);  // told \"full\"");
    REQUIRE(line > 0);
    CHECK(f["site"] == "tail_ignoring_full (tail_source.c:" + std::to_string(line) + ")");
    const std::string message = f["message"].get<std::string>();
    CHECK_THAT(message, Catch::Contains("native queue"));
    CHECK_THAT(message, Catch::Contains("after it said it was full"));
    CHECK_THAT(message, Catch::Contains("TIDEMARK_FLOWING_PAUSED"));
    CHECK(message.find("push()") == std::string::npos);  // no Node words for a C program
    CHECK(message.find("readableFlowing") == std::string::npos);
    CHECK_THAT(f["fix"].get<std::string>(), Catch::Contains("tidemark_stream"));
    CHECK(findings_of(report, "ignored-backpressure").empty());
}

TEST_CASE("a native queue filled with no consumer ever attached is no-consumer, in native words",
          "[native][streams][integration]") {
    TempDir dir;
    ProcessResult r;
    const auto report = run_tail("orphan", dir, r);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto found = findings_of(report, "no-consumer");
    REQUIRE(found.size() == 1);
    const auto& f = found[0];
    CHECK(f["stream"]["type"] == "LogTail");
    const std::string message = f["message"].get<std::string>();
    CHECK_THAT(message, Catch::Contains("no consumer has ever read"));
    CHECK(message.find("readableFlowing") == std::string::npos);
    CHECK_THAT(f["fix"].get<std::string>(), Catch::Contains("tidemark_stream_read"));
}

TEST_CASE("a native source that stops at full with a consumer that keeps up is silent", "[native][streams][integration]") {
    TempDir dir;
    ProcessResult r;
    const auto report = run_tail("ok", dir, r);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(report["findings"].empty());
    CHECK(streams_of_type(report, "LogTail").size() == 1);
}

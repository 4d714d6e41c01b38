// Detectors end to end: each fixture in tests/fixtures/detectors is a real node program (bounded in
// time and memory) run through `tidemark run --out X -- node fixture.js`, then judged from
// `tidemark report X --format json` as a user would read it: the right kind and severity, the
// right stream type, the user's file:line (found in the fixture by its marker comment), and no
// warning or error at all on every healthy twin.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "judge_helpers.h"

namespace {

using namespace tidemark::test;

const FixtureDir kDetectors{"detectors"};

Judged run_fixture(const std::string& name) { return tidemark::test::run_fixture(kDetectors, name); }

nlohmann::json expect_finding(const Judged& j, const std::string& fixture, const std::string& kind,
                              const std::string& severity, const std::string& type,
                              const std::string& site_marker, const std::string& created_marker) {
    return tidemark::test::expect_finding(kDetectors, j, fixture, kind, severity, type, site_marker, created_marker);
}

void expect_healthy(const std::string& fixture) { tidemark::test::expect_healthy(kDetectors, fixture); }

}  // namespace

TEST_CASE("detectors: the article's incident — a Transform forwarding to a slow side sink", "[detectors][integration]") {
    const Judged j = run_fixture("incident");
    const auto f = expect_finding(j, "incident", "ignored-backpressure", "error", "SlowUpload", "@site", "@created");
    CHECK(f.at("message").get<std::string>().find("Nothing pipes into it") != std::string::npos);
    // Seen live, on run's stderr, before the process ended.
    CHECK(j.err.find("tidemark: [error] ignored-backpressure") != std::string::npos);
    // The memory it holds shows as external growth with a flat heap.
    const auto ext = findings_of(j.report, "external-growth");
    REQUIRE(ext.size() == 1);
    CHECK(ext[0].at("message").get<std::string>().find("stays flat") != std::string::npos);
}

TEST_CASE("detectors: healthy — the incident fixed with pipeline()", "[detectors][integration]") {
    expect_healthy("incident_fixed");
}

TEST_CASE("detectors: a 'data' handler that never pauses", "[detectors][integration]") {
    expect_finding(run_fixture("data_handler"), "data_handler", "ignored-backpressure", "error", "Writable", "@site", "");
}

TEST_CASE("detectors: healthy — the textbook pause/resume copy", "[detectors][integration]") {
    expect_healthy("data_handler_ok");
}

TEST_CASE("detectors: a for-await loop that never awaits 'drain'", "[detectors][integration]") {
    expect_finding(run_fixture("for_await"), "for_await", "ignored-backpressure", "error", "Writable", "@site", "");
}

TEST_CASE("detectors: healthy — a for-await loop awaiting 'drain'", "[detectors][integration]") {
    expect_healthy("for_await_ok");
}

TEST_CASE("detectors: an event source pushing past false", "[detectors][integration]") {
    expect_finding(run_fixture("event_source"), "event_source", "unbounded-readable", "error", "TickerSource",
                   "@site", "@created");
}

TEST_CASE("detectors: healthy — an event source that stops at false", "[detectors][integration]") {
    expect_healthy("event_source_ok");
}

TEST_CASE("detectors: a parked readable, bounded — no-consumer warning", "[detectors][integration]") {
    expect_finding(run_fixture("parked"), "parked", "no-consumer", "warning", "Readable", "@created", "@created");
}

TEST_CASE("detectors: a parked readable, growing — no-consumer error", "[detectors][integration]") {
    const Judged j = run_fixture("parked_growing");
    expect_finding(j, "parked_growing", "no-consumer", "error", "Readable", "@site", "@created");
    CHECK(findings_of(j.report, "unbounded-readable").empty());
}

TEST_CASE("detectors: healthy — a readable that gets its consumer", "[detectors][integration]") {
    expect_healthy("parked_consumed");
}

TEST_CASE("detectors: pipe() with a failing middle stage leaves source and destination open", "[detectors][integration]") {
    const Judged j = run_fixture("pipe_error");
    const auto src = expect_finding(j, "pipe_error", "left-open-after-error", "warning", "ReadStream", "", "@created source");
    const auto dst = expect_finding(j, "pipe_error", "left-open-after-error", "warning", "WriteStream", "", "@created dest");
    for (const auto& f : {src, dst}) {
        CHECK(f.at("message").get<std::string>().find("bad record in chunk 20") != std::string::npos);
        CHECK(f.at("evidence").at("holds_fd").get<double>() == 1);
    }
}

TEST_CASE("detectors: healthy — the failing stage inside pipeline()", "[detectors][integration]") {
    expect_healthy("pipe_error_ok");
}

TEST_CASE("detectors: the article's LineParser deadlocks under a slow consumer", "[detectors][integration]") {
    const auto f = expect_finding(run_fixture("line_parser"), "line_parser", "stalled-pipeline", "error", "LineParser",
                                  "", "@created parser");
    CHECK(f.at("evidence").at("pending_callback").get<double>() == 1);
}

TEST_CASE("detectors: healthy — a correct line parser under the same slow consumer", "[detectors][integration]") {
    expect_healthy("line_parser_ok");
}

TEST_CASE("detectors: an http upload handler forwarding req while ignoring false", "[detectors][integration]") {
    const Judged j = run_fixture("http_upload");
    expect_finding(j, "http_upload", "ignored-backpressure", "error", "SlowStore", "@site", "@created");
    // The client's own socket writes after false (node: frames) are not blamed.
    for (const auto& f : findings_of(j.report, "ignored-backpressure"))
        CHECK(f.at("stream").value("type", "") == "SlowStore");
}

TEST_CASE("detectors: healthy — an http upload handler using pipeline(req, dst)", "[detectors][integration]") {
    expect_healthy("http_upload_ok");
}

TEST_CASE("detectors: a steady JS heap leak", "[detectors][integration]") {
    const Judged j = run_fixture("heap_leak");
    INFO(describe(j.report));
    const auto heap = findings_of(j.report, "heap-growth");
    REQUIRE(heap.size() == 1);
    CHECK(heap[0].at("severity") == "error");
    CHECK(heap[0].at("evidence").at("heap_growth_bytes_per_s").get<double>() > 1024 * 1024);
    CHECK(findings_of(j.report, "external-growth").empty());
}

TEST_CASE("detectors: healthy — a saw-tooth heap", "[detectors][integration]") {
    expect_healthy("heap_sawtooth");
}

TEST_CASE("detectors: healthy — a bounded LRU cache that fills during warm-up, then evicts", "[detectors][integration]") {
    expect_healthy("bounded_lru");
}

TEST_CASE("detectors: healthy — 20 concurrent gzip pipelines over files", "[detectors][integration]") {
    expect_healthy("gzip_many");
}

TEST_CASE("detectors: among thousands of healthy requests a periodic job ignores false", "[detectors][integration]") {
    const Judged j = run_fixture("busy_service_bad_job");
    INFO(describe(j.report));
    expect_finding(j, "busy_service_bad_job", "ignored-backpressure", "error", "AuditStore", "@site", "@created");
    // Nothing else is blamed: the request/response streams and sockets are healthy.
    CHECK(findings_of(j.report, "ignored-backpressure").size() == 1);
    // The per-request streams were folded, and attributed to the server's creation line.
    const int server_line = line_of(kDetectors.path("busy_service_bad_job"), "http.createServer(handler)");
    uint64_t requests = 0;
    for (const auto& a : j.report.at("stream_aggregates"))
        if (a.value("type", "") == "IncomingMessage") {
            requests += a.value("count", uint64_t{0});
            CHECK(ends_with(a.value("created_at", ""), "busy_service_bad_job.js:" + std::to_string(server_line)));
        }
    CHECK(requests > 2000);
    CHECK(streams_of_type(j.report, "IncomingMessage").size() < 50);
}

TEST_CASE("detectors: healthy — the same busy service whose job waits for drain", "[detectors][integration]") {
    expect_healthy("busy_service_bad_job_ok");
}

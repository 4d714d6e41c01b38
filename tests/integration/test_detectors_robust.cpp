// Detectors on programs written apart from the first fixtures (tests/fixtures/robust): other
// shapes of the same bugs — leaks with no garbage churn around them, a slow leak under heavy
// churn, caches and one-off allocations that must stay silent, a parser's bursts, deadlocks that
// form before the first sample, a write made through a library. Each bug has a healthy twin; the
// 10-run counts are in docs/DETECTORS.md ("Measured"), from tests/fixtures/robust/repeat.sh.
#include <catch2/catch.hpp>

#include <string>

#include "judge_helpers.h"

namespace {

using namespace tidemark::test;

const FixtureDir kRobust{"robust"};

Judged run(const std::string& name) { return run_fixture(kRobust, name, 90); }

std::string message(const nlohmann::json& f) { return f.at("message").get<std::string>(); }

// The single finding of `kind` (any stream, or none: process-wide growth).
nlohmann::json only(const Judged& j, const std::string& kind, const std::string& severity) {
    INFO("findings:\n" << describe(j.report));
    const auto found = findings_of(j.report, kind);
    REQUIRE(found.size() == 1);
    CHECK(found[0].at("severity") == severity);
    return found[0];
}

}  // namespace

TEST_CASE("robust: a JS heap leak with no garbage churn (a registry that only grows)", "[detectors][robust][growth]") {
    const Judged j = run("heap_leak_nochurn");
    const auto f = only(j, "heap-growth", "error");
    CHECK(message(f).find("after every garbage collection") != std::string::npos);
    CHECK(f.at("evidence").at("major_collections").get<double>() >= 3);
}

TEST_CASE("robust: healthy — the same registry with entries that expire", "[detectors][robust][growth]") {
    expect_healthy(kRobust, "heap_leak_nochurn_ok");
}

TEST_CASE("robust: a Buffer leak with no garbage churn (a replay log never trimmed)", "[detectors][robust][growth]") {
    const Judged j = run("buffer_leak_nochurn");
    const auto f = only(j, "external-growth", "error");
    CHECK(message(f).find("Garbage collection does not take it back") != std::string::npos);
    CHECK(findings_of(j.report, "heap-growth").empty());
}

TEST_CASE("robust: healthy — the replay log kept as a ring", "[detectors][robust][growth]") {
    expect_healthy(kRobust, "buffer_leak_nochurn_ok");
}

TEST_CASE("robust: a slow leak under heavy GC churn is flagged within its 30 s run", "[detectors][robust][growth]") {
    const Judged j = run("slow_leak_churn");
    const auto f = only(j, "heap-growth", "error");
    CHECK(f.at("evidence").at("heap_floor_growth_bytes_per_s").get<double>() < 1.5 * 1024 * 1024);
    CHECK(j.err.find("tidemark: [error] heap-growth") != std::string::npos);
}

TEST_CASE("robust: healthy — the same churn with a bounded audit log", "[detectors][robust][growth]") {
    expect_healthy(kRobust, "slow_leak_churn_ok");
}

TEST_CASE("robust: healthy — a cache that fills in seconds and then evicts", "[detectors][robust][growth]") {
    expect_healthy(kRobust, "bounded_cache_fill");
}

TEST_CASE("robust: healthy — a one-off large allocation held and released", "[detectors][robust][growth]") {
    expect_healthy(kRobust, "one_off_alloc");
}

TEST_CASE("robust: large allocations kept and joined every 5 s", "[detectors][robust][growth]") {
    const Judged j = run("one_off_alloc_kept");
    INFO("findings:\n" << describe(j.report));
    CHECK(findings_of(j.report, "heap-growth").size() + findings_of(j.report, "external-growth").size() >= 1);
}

TEST_CASE("robust: healthy — a parser's bursts far past its highWaterMark that drain between inputs", "[detectors][robust][readable]") {
    expect_healthy(kRobust, "parser_burst");
}

TEST_CASE("robust: the same parser under a slower consumer climbs across inputs", "[detectors][robust][readable]") {
    const Judged j = run("parser_burst_unbounded");
    expect_finding(kRobust, j, "parser_burst_unbounded", "unbounded-readable", "error", "Tokenizer", "@site", "@created");
}

TEST_CASE("robust: a Transform that forgets its callback on one branch (within 20 ms)", "[detectors][robust][stall]") {
    const Judged j = run("stall_callback_never_called");
    const auto f = expect_finding(kRobust, j, "stall_callback_never_called", "stalled-pipeline", "warning", "Redactor", "",
                                  "@created");
    CHECK(message(f).find("has not called back") != std::string::npos);
}

TEST_CASE("robust: healthy — the Redactor calling back on every branch", "[detectors][robust][stall]") {
    expect_healthy(kRobust, "stall_callback_never_called_ok");
}

TEST_CASE("robust: a Transform waiting for its own 'drain' (within 10 ms)", "[detectors][robust][stall]") {
    const Judged j = run("stall_own_drain");
    const auto f = expect_finding(kRobust, j, "stall_own_drain", "stalled-pipeline", "error", "Batcher", "", "@created");
    CHECK(message(f).find("waiting for its own 'drain'") != std::string::npos);
    CHECK(f.value("site", "").find("stall_own_drain.js:") != std::string::npos);
}

TEST_CASE("robust: healthy — the Batcher letting the stream call _read()", "[detectors][robust][stall]") {
    expect_healthy(kRobust, "stall_own_drain_ok");
}

TEST_CASE("robust: waiting for a 'drain' on a destination not in needDrain (within 10 ms)", "[detectors][robust][stall]") {
    const Judged j = run("stall_drain_not_needed");
    const auto f = expect_finding(kRobust, j, "stall_drain_not_needed", "stalled-pipeline", "error", "Tee", "", "@created tee");
    CHECK(message(f).find("not in needDrain") != std::string::npos);
    CHECK(message(f).find("AuditStore") != std::string::npos);
}

TEST_CASE("robust: healthy — waiting for drain only when write() returned false", "[detectors][robust][stall]") {
    expect_healthy(kRobust, "stall_drain_not_needed_ok");
}

// The same bug on a duplex side stream, waited for with events.once(): the listener reaches the
// tracker through Readable's own on() and several node:events frames.
TEST_CASE("robust: an indexer waiting with events.once() for a side Transform's 'drain' that cannot come", "[detectors][robust][stall]") {
    const Judged j = run("stall_drain_duplex_side");
    const auto f = expect_finding(kRobust, j, "stall_drain_duplex_side", "stalled-pipeline", "error", "Indexer", "@site", "@created indexer");
    CHECK(message(f).find("not in needDrain") != std::string::npos);
    CHECK(message(f).find("Tokenizer") != std::string::npos);
}

TEST_CASE("robust: healthy — the indexer waits for the tokenizer's drain only after false", "[detectors][robust][stall]") {
    expect_healthy(kRobust, "stall_drain_duplex_side_ok");
}

TEST_CASE("robust: a write through a library names the user's send() line, via the library's", "[detectors][robust][sites]") {
    const Judged j = run("lib_write");
    const auto f = expect_finding(kRobust, j, "lib_write", "ignored-backpressure", "error", "TelemetryLink", "@site", "@created");
    CHECK(f.value("site_via", "").find("tinyqueue-writer/index.js:") == 0);
    CHECK(message(f).find("(via tinyqueue-writer/index.js:") != std::string::npos);
}

TEST_CASE("robust: healthy — the user waiting for the library's drain", "[detectors][robust][sites]") {
    expect_healthy(kRobust, "lib_write_ok");
}

// The real `ws` package (tests/fixtures/npm, installed by scripts/install-deps.sh with npm ci).
TEST_CASE("robust: a ws broadcast ignoring bufferedAmount names the user's send() line, via ws's sender", "[detectors][robust][sites][npm]") {
    const FixtureDir npm{"npm"};
    const Judged j = run_fixture(npm, "ws_broadcast", 60);
    const auto f = expect_finding(npm, j, "ws_broadcast", "ignored-backpressure", "error", "Socket", "@site", "");
    CHECK(f.value("site_via", "").find("ws/lib/sender.js:") == 0);
    expect_healthy(npm, "ws_broadcast_ok");
}

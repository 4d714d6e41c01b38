// Long sessions, as a user sees them: the findings `tidemark run` prints at exit are the ones
// `tidemark report` finds when it replays the trace (one model, ticks by record time), and a long
// generated trace is read in one pass within its memory budget, which the report says it hit —
// still naming the stream that ignores backpressure.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

std::string detector_fixture(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/detectors/" + name; }

// (kind, stream id) of each finding in `tidemark run`'s exit summary:
//   "  [error] ignored-backpressure: … (t=0.6 s)" then "      stream #2 Type created at …".
std::set<std::pair<std::string, long>> summary_findings(const std::string& err) {
    std::set<std::pair<std::string, long>> out;
    std::istringstream in(err);
    std::string line, kind;
    bool open = false;
    auto flush = [&](long id) {
        if (open) out.insert({kind, id});
        open = false;
    };
    while (std::getline(in, line)) {
        if (line.rfind("  [", 0) == 0) {
            flush(0);
            const size_t a = line.find("] "), b = line.find(':', a);
            if (a == std::string::npos || b == std::string::npos) continue;
            kind = line.substr(a + 2, b - a - 2);
            open = true;
        } else if (open && line.rfind("      stream #", 0) == 0) {
            flush(std::stol(line.substr(14)));
        }
    }
    flush(0);
    return out;
}

std::set<std::pair<std::string, long>> report_findings(const nlohmann::json& report) {
    std::set<std::pair<std::string, long>> out;
    for (const auto& f : report["findings"])
        out.insert({f["kind"].get<std::string>(), f.contains("stream") && f["stream"].is_object() ? f["stream"]["id"].get<long>() : 0});
    return out;
}

SpawnOptions timeout(double s) {
    SpawnOptions o;
    o.timeout_s = s;
    return o;
}

}  // namespace

TEST_CASE("long sessions: the findings printed live at exit are the ones the replayed report finds", "[long][integration]") {
    for (const char* name : {"incident.js", "pipe_error.js", "line_parser.js", "busy_service_bad_job.js", "incident_fixed.js"}) {
        INFO(name);
        TempDir dir;
        const std::string trace = dir.file("t.tidemark");
        const ProcessResult run = run_cli({"run", "--out", trace, "--", "node", detector_fixture(name)}, timeout(60));
        REQUIRE(run.exit_code == 0);
        const auto live = summary_findings(run.err);
        const auto replayed = report_findings(report_json(trace));
        CHECK(live == replayed);
        if (std::string(name) != "incident_fixed.js") CHECK_FALSE(live.empty());
        else CHECK(live.empty());
    }
}

TEST_CASE("long sessions: a long trace is read within its memory budget, which the report says it reached",
          "[long][integration]") {
    TempDir dir;
    const std::string trace = dir.file("gen.tidemark");
    const ProcessResult gen = spawn_and_wait({TIDEMARK_GEN_TRACE, "--duration", "600", "--streams", "2000",
                                              "--churn-per-s", "5", "--out", trace}, timeout(60));
    REQUIRE(gen.exit_code == 0);

    const ProcessResult r = run_cli({"report", trace, "--format", "json", "--memory-budget", "16MiB"}, timeout(90));
    REQUIRE(r.exit_code == 0);
    const auto report = nlohmann::json::parse(r.out);
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    CHECK(usage.ru_maxrss < 160 * 1024);  // KiB: the largest child (the report) stayed bounded

    const auto& history = report["trace"]["history"];
    CHECK(history["memory_budget_bytes"].get<uint64_t>() == 16u << 20);
    CHECK(history["coarsened"].get<bool>());
    CHECK(history["estimated_bytes"].get<uint64_t>() < 24u << 20);
    bool noted = false;
    for (const auto& n : report["trace"]["notes"])
        noted |= n["text"].get<std::string>().find("memory budget of 16 MiB reached") != std::string::npos;
    CHECK(noted);
    // Still complete where it matters: the process's samples and peaks, the bad stream's finding.
    CHECK(report["process"]["samples"].get<uint64_t>() >= 5900);
    bool found = false;
    for (const auto& f : report["findings"])
        found |= f["kind"] == "ignored-backpressure" && f["site"] == "src/export/report.js:131";
    CHECK(found);
    // Retired streams beyond the listed detail are totalled, not dropped.
    uint64_t retired = 0;
    for (const auto& t : report["retired_streams"]) retired += t["count"].get<uint64_t>();
    CHECK(retired + report["streams"].size() >= 2000 + 5 * 590);

    // The gate reads it the same way.
    const ProcessResult check = run_cli({"check", trace, "--memory-budget", "16MiB", "--fail-on", "ignored-backpressure"}, timeout(90));
    CHECK(check.exit_code == 1);
    CHECK_THAT(check.out, Catch::Contains("src/export/report.js:131"));
    // A budget too small to be useful is refused.
    const ProcessResult tiny = run_cli({"report", trace, "--memory-budget", "1MiB"});
    CHECK(tiny.exit_code == 2);
    CHECK_THAT(tiny.err, Catch::Contains("at least 16MiB"));
}

TEST_CASE("long sessions: a stream with a long healthy history that starts ignoring false is still caught",
          "[long][integration]") {
    // At a 20 ms interval the client has far more than 256 points when it goes wrong, so the
    // engine judges it on its long-history cadence (every 2 s); the finding must still come, live,
    // naming the late line, and agree with the replay.
    TempDir dir;
    const std::string trace = dir.file("t.tidemark");
    const std::string js = detector_fixture("late_ignore.js");
    const ProcessResult run = run_cli({"run", "--interval", "20", "--out", trace, "--", "node", js}, timeout(60));
    REQUIRE(run.exit_code == 0);
    const std::string site = js + ":" + std::to_string(line_of(js, "// @site ignored false"));
    CHECK_THAT(run.err, Catch::Contains("[error] ignored-backpressure") && Catch::Contains(site));
    const auto report = report_json(trace);
    bool found = false;
    for (const auto& f : report["findings"]) {
        if (f["kind"] != "ignored-backpressure") continue;
        found = true;
        CHECK(f["site"] == site);
        CHECK(f["onset_s"].get<double>() > 7.0);  // the late misbehaviour, not the healthy start
    }
    CHECK(found);
    CHECK(summary_findings(run.err) == report_findings(report));
    for (const auto& s : report["streams"])
        if (s["type"] == "QueueClient") CHECK(s["writes_after_false"].get<uint64_t>() > 50);
}

// Node targets under `tidemark run --native` (docs/NATIVE.md, "Node targets"): the JS tracker and
// the preloaded native tracker of one node process are one process in the trace; node runs with
// --perf-basic-prof, so the Buffer bytes of the upload incident are attributed to the JS function
// that allocated them; a child_process spawn works, the child tracked only with
// --follow-children. node leaves /tmp/perf-PID.map behind: each test removes the ones of its
// processes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

std::string examples(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/../../examples/" + name; }
std::string run_fixture(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/run/" + name; }

// Removes the perf maps node wrote for the processes of a report.
void remove_perf_maps(const nlohmann::json& report) {
    std::vector<nlohmann::json> procs;
    if (report.contains("processes")) procs = report["processes"].get<std::vector<nlohmann::json>>();
    else if (report.contains("process")) procs.push_back(report["process"]);
    for (const auto& p : procs) {
        std::error_code ec;
        std::filesystem::remove("/tmp/perf-" + std::to_string(p.value("pid", 0)) + ".map", ec);
    }
}

struct PerfMapCleanup {
    nlohmann::json report;
    ~PerfMapCleanup() { remove_perf_maps(report); }
};

size_t process_count(const nlohmann::json& report) {
    return report.contains("processes") ? report["processes"].size() : (report.contains("process") ? 1 : 0);
}

}  // namespace

TEST_CASE("node under --native sampled: the upload incident's Buffer bytes are attributed to the JS function that allocated them",
          "[native][node][integration]") {
    TempDir dir;
    const std::string trace = dir.file("upload.tidemark");
    SpawnOptions opt;
    opt.timeout_s = 90;
    // The example bounds itself (6 s, or 200 MB buffered).
    const ProcessResult r = run_cli({"run", "--native", "sampled", "--out", trace, "--", "node", examples("upload-incident.js")}, opt);
    INFO(r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    PerfMapCleanup cleanup{report_json(trace)};
    const auto& report = cleanup.report;

    // One process: the JS and native trackers' connections joined, runtime node.
    CHECK(process_count(report) == 1);
    CHECK(report["process"]["runtime"] == "node");
    REQUIRE(report["native"].size() == 1);
    CHECK(report["native"][0]["mode"] == "sampled");
    CHECK(report["native"][0]["pid"] == report["process"]["pid"]);
    CHECK(report["process"]["peak_native_live_bytes"].get<double>() > 20e6);
    // The stream findings are still there (the JS tracker's view).
    bool backpressure = false;
    for (const auto& f : report["findings"])
        if (f["kind"] == "ignored-backpressure") backpressure = true;
    CHECK(backpressure);

    // Some top site (or a native-leak) names DiskFile's _read in upload-incident.js, where
    // Buffer.alloc is called — named from the perf map (a JIT frame).
    bool named = false;
    for (const auto& s : report["native"][0]["top_sites"]) {
        const std::string loc = s["location"].is_string() ? s["location"].get<std::string>() : "";
        if (loc.find("_read") != std::string::npos && loc.find("upload-incident.js") != std::string::npos) named = true;
    }
    for (const auto& f : report["findings"])
        if (f["kind"] == "native-leak" && f["message"].get<std::string>().find("upload-incident.js") != std::string::npos)
            named = true;
    CHECK(named);
}

TEST_CASE("node under --native: a child_process spawn works, the child tracked only with --follow-children",
          "[native][node][integration]") {
    TempDir dir;
    SpawnOptions opt;
    opt.timeout_s = 60;
    SECTION("without --follow-children") {
        const std::string trace = dir.file("parent.tidemark");
        const auto r = run_cli({"run", "--native", "sampled", "--out", trace, "--", "node", run_fixture("parent.js")}, opt);
        INFO(r.err);
        REQUIRE_FALSE(r.timed_out);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("child said: sum=4950 (exit 0)"));
        PerfMapCleanup cleanup{report_json(trace)};
        CHECK(process_count(cleanup.report) == 1);
        CHECK(cleanup.report["native"].size() == 1);
        CHECK(streams_seen(cleanup.report, "ChildDoubler").empty());
    }
    SECTION("with --follow-children") {
        const std::string trace = dir.file("family.tidemark");
        const auto r = run_cli({"run", "--native", "full", "--follow-children", "--out", trace, "--", "node", run_fixture("parent.js")}, opt);
        INFO(r.err);
        REQUIRE_FALSE(r.timed_out);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("child said: sum=4950 (exit 0)"));
        PerfMapCleanup cleanup{report_json(trace)};
        // Parent and child, each one process with both trackers.
        CHECK(process_count(cleanup.report) == 2);
        CHECK(cleanup.report["native"].size() == 2);
        CHECK(streams_seen(cleanup.report, "ChildDoubler").size() == 1);
        for (const auto& p : cleanup.report["processes"]) CHECK(p["runtime"] == "node");
    }
}

// Node targets under `tidemark run --native` (docs/NATIVE.md, "Node targets"): the JS tracker and
// the preloaded native tracker of one node process are one process in the trace; node runs with
// --perf-basic-prof, so the Buffer bytes of the upload incident are attributed to the JS function
// that allocated them; a child_process spawn works, the child tracked only with
// --follow-children. node leaves /tmp/perf-PID.map behind: each test removes the ones of its
// processes (and the untracked child's).
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

std::string examples(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/../../examples/" + name; }
std::string run_fixture(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/run/" + name; }

// Removes the perf maps node wrote during a test: those that appeared since the guard was made,
// of processes that have ended (a child the test did not track writes one too).
class PerfMapGuard {
public:
    PerfMapGuard() : before_(maps()) {}
    ~PerfMapGuard() {
        for (const auto& [pid, path] : maps()) {
            if (before_.count(pid) || ::kill(pid, 0) == 0) continue;
            std::error_code ec;
            std::filesystem::remove(path, ec);
        }
    }
    PerfMapGuard(const PerfMapGuard&) = delete;
    PerfMapGuard& operator=(const PerfMapGuard&) = delete;

private:
    static std::map<pid_t, std::string> maps() {
        std::map<pid_t, std::string> out;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator("/tmp", ec)) {
            const std::string name = e.path().filename().string();
            if (name.rfind("perf-", 0) != 0 || !ends_with(name, ".map")) continue;
            const pid_t pid = static_cast<pid_t>(std::atoi(name.c_str() + 5));
            if (pid > 0) out[pid] = e.path().string();
        }
        return out;
    }
    std::map<pid_t, std::string> before_;
};

size_t process_count(const nlohmann::json& report) {
    return report.contains("processes") ? report["processes"].size() : (report.contains("process") ? 1 : 0);
}

}  // namespace

TEST_CASE("node under --native sampled: the upload incident's Buffer bytes are attributed to the JS function that allocated them",
          "[native][node][integration]") {
    TempDir dir;
    const std::string trace = dir.file("upload.tidemark");
    PerfMapGuard perf_maps;
    SpawnOptions opt;
    opt.timeout_s = 90;
    opt.cwd = dir.path();  // where V8 would leave its isolate log (the preload removes it)
    // The example bounds itself (6 s, or 200 MB buffered).
    const ProcessResult r = run_cli({"run", "--native", "sampled", "--out", trace, "--", "node", examples("upload-incident.js")}, opt);
    INFO(r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    const auto report = report_json(trace);  // names JIT frames from the perf map: before the guard ends

    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        CHECK(e.path().filename().string().rfind("isolate-", 0) != 0);
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
    PerfMapGuard perf_maps;
    SpawnOptions opt;
    opt.timeout_s = 60;
    SECTION("without --follow-children") {
        const std::string trace = dir.file("parent.tidemark");
        const auto r = run_cli({"run", "--native", "sampled", "--out", trace, "--", "node", run_fixture("parent.js")}, opt);
        INFO(r.err);
        REQUIRE_FALSE(r.timed_out);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("child said: sum=4950 (exit 0)"));
        const auto report = report_json(trace);
        CHECK(process_count(report) == 1);
        CHECK(report["native"].size() == 1);
        CHECK(streams_seen(report, "ChildDoubler").empty());
    }
    SECTION("with --follow-children") {
        const std::string trace = dir.file("family.tidemark");
        const auto r = run_cli({"run", "--native", "full", "--follow-children", "--out", trace, "--", "node", run_fixture("parent.js")}, opt);
        INFO(r.err);
        REQUIRE_FALSE(r.timed_out);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("child said: sum=4950 (exit 0)"));
        const auto report = report_json(trace);
        // Parent and child, each one process with both trackers.
        CHECK(process_count(report) == 2);
        CHECK(report["native"].size() == 2);
        CHECK(streams_seen(report, "ChildDoubler").size() == 1);
        for (const auto& p : report["processes"]) CHECK(p["runtime"] == "node");
    }
}

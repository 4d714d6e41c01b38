// A target killed with SIGKILL (as the OOM killer does) leaves a trace that reads up to its last
// moments: the report shows the signal, seconds of samples, and the buffer as it last was.
#include <catch2/catch.hpp>

#include <csignal>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

// The last "len=N" line the fixture printed before `upto` bytes of its output.
uint64_t last_len(const std::string& out) {
    const auto at = out.rfind("len=");
    return at == std::string::npos ? 0 : std::stoull(out.substr(at + 4));
}

}  // namespace

TEST_CASE("a target killed by SIGKILL leaves a readable trace up to its end", "[run][sigkill]") {
    TempDir dir;
    const std::string trace = dir.file("killed.tidemark");
    pid_t target = 0;
    std::string out_at_kill;
    SpawnOptions opt;
    opt.timeout_s = 20;
    opt.on_progress = [&](pid_t, const std::string& out, double elapsed) {
        if (target == 0) {
            const auto at = out.find("pid=");
            if (at != std::string::npos) target = static_cast<pid_t>(std::stol(out.substr(at + 4)));
        }
        if (target > 0 && out_at_kill.empty() && elapsed >= 4.0) {
            out_at_kill = out;
            kill(target, SIGKILL);
        }
    };
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("slow_growth.js")}, opt);
    INFO("stderr: " << run.err);
    REQUIRE(target > 0);
    REQUIRE_FALSE(out_at_kill.empty());
    REQUIRE_FALSE(run.timed_out);
    CHECK(run.exit_code == 128 + SIGKILL);

    const auto report = report_json(trace);
    const auto& process = report.at("process");
    CHECK(process.at("exit").value("signal", 0) == SIGKILL);
    CHECK(process.at("duration_s").get<double>() >= 3.0);
    CHECK(process.at("samples").get<int>() >= 25);  // ≥ 3 s at the default 100 ms

    const auto uploads = streams_of_type(report, "StuckUpload");
    REQUIRE(uploads.size() == 1);
    // Everything written stays buffered, so the peak is the buffer just before the kill: at most
    // what the app printed last (plus the write that may have raced the kill), and no more than
    // half a second of writes behind it.
    const uint64_t chunk = 64 * 1024;
    const uint64_t printed = std::max(last_len(out_at_kill), last_len(run.out));
    const uint64_t peak = uploads[0].at("peak_writable_length").get<uint64_t>();
    INFO("peak " << peak << ", last printed " << printed);
    REQUIRE(printed >= 40 * chunk);
    CHECK(peak <= printed + chunk);
    CHECK(peak + 10 * chunk >= printed);
    CHECK(uploads[0].at("writes_after_false").get<uint64_t>() > 0);
}

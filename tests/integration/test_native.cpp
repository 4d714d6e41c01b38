// Native allocation tracking end to end: the real `tidemark run --native …` against real native
// programs (tests/fixtures/native, built by CMake as a user would build them: -O2 -g, no frame
// pointers), asserting on what a user sees — the findings `run` prints, `report --format json`
// (findings with frames, `native.top_sites`), `report --format collapsed` and `check`.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

std::string native_fixture(const std::string& name) { return std::string(TIDEMARK_NATIVE_FIXTURES) + "/" + name; }
std::string native_source(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/native/" + name; }

ProcessResult run_native(const std::string& mode, const std::string& trace, const std::vector<std::string>& command,
                         double timeout_s = 60) {
    std::vector<std::string> args = {"run", "--native", mode, "--out", trace, "--"};
    args.insert(args.end(), command.begin(), command.end());
    SpawnOptions opt;
    opt.timeout_s = timeout_s;
    return run_cli(args, opt);
}

std::vector<nlohmann::json> native_leaks(const nlohmann::json& report) {
    std::vector<nlohmann::json> out;
    for (const auto& f : report["findings"])
        if (f["kind"] == "native-leak") out.push_back(f);
    return out;
}

// The native_live_bytes of every ProcessSample in the trace, from `tidemark dump`.
std::vector<uint64_t> native_live_series(const std::string& trace) {
    const ProcessResult d = run_cli({"dump", trace});
    std::vector<uint64_t> out;
    std::istringstream in(d.out);
    std::string line;
    while (std::getline(in, line)) {
        const auto at = line.find("native_live=");
        if (line.find("ProcessSample") == std::string::npos || at == std::string::npos) continue;
        out.push_back(std::stoull(line.substr(at + 12)));
    }
    return out;
}

}  // namespace

TEST_CASE("a request loop that leaks in one function is a native-leak naming that function, in full and sampled mode",
          "[native][integration]") {
    const std::string mode = GENERATE(std::string("full"), std::string("sampled"));
    TempDir dir;
    const std::string trace = dir.file("leak.tidemark");
    const ProcessResult r = run_native(mode, trace, {native_fixture("request_loop"), "leak", "8"});
    INFO(r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("served"));
    CHECK_THAT(r.err, Catch::Contains("native-leak"));

    const auto report = report_json(trace);
    const auto leaks = native_leaks(report);
    REQUIRE(leaks.size() == 1);
    const auto& f = leaks[0];
    CHECK(f["severity"] == "error");
    const int line = line_of(native_source("request_loop.c"), "char* session = malloc(8192);");
    REQUIRE(line > 0);
    CHECK(f["site"] == native_source("request_loop.c") + ":" + std::to_string(line));
    REQUIRE(f["frames"].size() >= 2);
    CHECK_THAT(f["frames"][0].get<std::string>(), Catch::StartsWith("remember_session (request_loop.c:"));
    CHECK_THAT(f["frames"][1].get<std::string>(), Catch::StartsWith("main (request_loop.c:"));
    CHECK_THAT(f["message"].get<std::string>(), Catch::Contains("remember_session"));
    CHECK(f["evidence"]["growth_bytes_per_s"].get<double>() > 4e6);  // ~8 MB/s leaked
    // The request buffer freed in finish_request is not the leak, and the top site is the leak's.
    const auto& native = report["native"];
    REQUIRE(native.size() == 1);
    CHECK(native[0]["mode"] == mode);
    CHECK_THAT(native[0]["top_sites"][0]["location"].get<std::string>(), Catch::StartsWith("remember_session"));
    for (const auto& s : native[0]["top_sites"])
        if (s["location"].is_string() && s["location"].get<std::string>().rfind("parse_request", 0) == 0)
            CHECK(s["live_bytes"].get<uint64_t>() < 64 * 1024);
    // Collapsed stacks: root first, the leaking function last, its live bytes.
    const ProcessResult c = run_cli({"report", trace, "--format", "collapsed"});
    REQUIRE(c.exit_code == 0);
    CHECK_THAT(c.out, Catch::Contains(";main;remember_session "));
}

TEST_CASE("the same request loop with a bounded ring is no native-leak", "[native][integration]") {
    const std::string mode = GENERATE(std::string("full"), std::string("sampled"));
    TempDir dir;
    const std::string trace = dir.file("ring.tidemark");
    // Sampled at a 16 KiB mean interval: the 2 MiB ring is then ~128 live samples, an estimate
    // within ~9 % (one standard deviation). At the default 512 KiB it would be ~4 samples (±50 %).
    std::vector<std::string> args = {"run", "--native", mode, "--out", trace};
    if (mode == "sampled") args.insert(args.end(), {"--native-sample-interval", "16KiB"});
    args.insert(args.end(), {"--", native_fixture("request_loop"), "ring", "8"});
    SpawnOptions opt;
    opt.timeout_s = 60;
    const ProcessResult r = run_cli(args, opt);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto report = report_json(trace);
    CHECK(native_leaks(report).empty());
    // It was tracked, though: the ring's site holds 256 × 8 KiB (exactly, in full mode).
    REQUIRE(report["native"].size() == 1);
    const auto& top = report["native"][0]["top_sites"][0];
    CHECK_THAT(top["location"].get<std::string>(), Catch::StartsWith("remember_session"));
    const double live = top["live_bytes"].get<double>(), ring = 256.0 * 8192;
    if (mode == "full") {
        CHECK(live == Approx(ring).epsilon(0.01));
    } else {
        // Unbiased: 8 runs at 16 KiB averaged 1.004x (0.89-1.09), 8 at 64 KiB 1.002x; ±35 % is ~4 sigma.
        CHECK(live > 0.65 * ring);
        CHECK(live < 1.35 * ring);
    }
    // The gate agrees: native live bytes do not grow. In sampled mode the rise must exceed the
    // estimate's noise band (Sen's interval alone failed a flat sampled ring about 1 run in 10).
    const ProcessResult gate = run_cli({"check", trace, "--max-native-growth", "1MB/min"});
    INFO(gate.out);
    CHECK(gate.exit_code == 0);
    if (mode == "sampled") CHECK_THAT(gate.out, Catch::Contains("noise band"));
}

TEST_CASE("a C++ leak through new and a growing std::map that starts late is found and gated", "[native][integration]") {
    TempDir dir;
    const std::string trace = dir.file("map.tidemark");
    const ProcessResult r = run_native("sampled", trace, {native_fixture("session_map"), "12", "4"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto report = report_json(trace);
    const auto leaks = native_leaks(report);
    REQUIRE(leaks.size() >= 1);
    CHECK_THAT(leaks[0]["message"].get<std::string>(), Catch::Contains("open_session"));
    CHECK(leaks[0]["onset_s"].get<double>() > 3.0);  // the leak began at ~4 s, not at start-up
    // operator new and the std:: frames are listed but not named as the site.
    CHECK_THAT(leaks[0]["site"].get<std::string>(), Catch::Contains("session_map.cpp:"));
    const ProcessResult gate = run_cli({"check", trace, "--max-native-growth", "1MB/min", "--fail-on", "none"});
    CHECK(gate.exit_code == 1);
    CHECK_THAT(gate.out, Catch::Contains("FAIL max-native-growth"));
}

TEST_CASE("8 threads of malloc/calloc/realloc/free with cross-thread frees complete, and live bytes return to the start",
          "[native][integration]") {
    const std::string mode = GENERATE(std::string("full"), std::string("sampled"));
    TempDir dir;
    const std::string trace = dir.file("threads.tidemark");
    const ProcessResult r = run_native(mode, trace, {native_fixture("threads"), "200000"});
    INFO(r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("done"));
    const auto live = native_live_series(trace);
    REQUIRE(live.size() >= 6);
    uint64_t peak = 0;
    for (uint64_t v : live) peak = std::max(peak, v);
    INFO("first " << live.front() << ", last " << live.back() << ", peak " << peak);
    if (mode == "full") CHECK(peak > 1'000'000);  // the threads held megabytes in flight
    const double start = static_cast<double>(live[1]);  // after the start-up allocations
    CHECK(std::abs(static_cast<double>(live.back()) - start) < 256 * 1024);
    CHECK(native_leaks(report_json(trace)).empty());
}

TEST_CASE("a program that forks and execs under --native full: no crash, no deadlock, findings intact", "[native][integration]") {
    TempDir dir;
    const std::string trace = dir.file("fork.tidemark");
    const ProcessResult r = run_native("full", trace, {native_fixture("fork_exec"), "8"}, 60);
    INFO(r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("children"));
    const auto report = report_json(trace);
    const auto leaks = native_leaks(report);
    REQUIRE(leaks.size() == 1);
    CHECK_THAT(leaks[0]["frames"][0].get<std::string>(), Catch::StartsWith("keep_record (fork_exec.c:"));
    // Only the launched program was tracked: its children (forked or exec'd) are excluded.
    CHECK(report["native"].size() == 1);
}

TEST_CASE("the native modes: --native is off without the flag, sampled alone, and rejects unknown modes", "[native][integration]") {
    TempDir dir;
    const std::string trace = dir.file("off.tidemark");
    const ProcessResult off = run_cli({"run", "--out", trace, "--", native_fixture("request_loop"), "ring", "0.3"});
    REQUIRE(off.exit_code == 0);
    CHECK(report_json(trace)["native"].empty());
    const std::string t2 = dir.file("alone.tidemark");
    const ProcessResult alone = run_cli({"run", "--native", "--out", t2, "--", native_fixture("request_loop"), "ring", "0.5"});
    REQUIRE(alone.exit_code == 0);
    const auto j = report_json(t2);
    REQUIRE(j["native"].size() == 1);
    CHECK(j["native"][0]["mode"] == "sampled");
    CHECK(j["native"][0]["sample_interval_bytes"] == 512 * 1024);
    const ProcessResult bad = run_cli({"run", "--native", "always", "--", "/bin/true"});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("--native"));
}

TEST_CASE("a program's own sigprocmask works under --native, and a 5 kHz signal during unwinds is harmless", "[native][integration]") {
    const std::string mode = GENERATE(std::string("full"), std::string("sampled"));
    TempDir dir;
    const std::string trace = dir.file("signals.tidemark");
    const ProcessResult r = run_native(mode, trace, {native_fixture("signals"), "300000"}, 60);
    INFO(r.err << r.out);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("mask ok"));
    CHECK_THAT(r.out, Catch::Contains("handler ran"));
    CHECK(native_leaks(report_json(trace)).empty());
}

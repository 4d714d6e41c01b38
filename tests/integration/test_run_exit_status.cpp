// `tidemark run` passes the target's status through — exit codes, and 128+signal when a signal
// ended it — forwards SIGINT/SIGTERM sent to the agent, and records how the target ended. A
// command that is not Node runs normally and still leaves a valid trace.
#include <catch2/catch.hpp>

#include <csignal>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("run passes an exit code through and records it", "[run][exit]") {
    TempDir dir;
    const std::string trace = dir.file("exit3.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("exit_code.js")});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    CHECK(run.exit_code == 3);
    const auto report = report_json(trace);
    CHECK(report.at("process").at("exit").value("code", -1) == 3);
    CHECK(streams_of_type(report, "PassThrough").size() == 1);
}

TEST_CASE("run passes a fatal signal through as 128+signal", "[run][exit]") {
    TempDir dir;
    const std::string trace = dir.file("term.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("self_sigterm.js")});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    CHECK(run.exit_code == 128 + SIGTERM);
    const auto report = report_json(trace);
    CHECK(report.at("process").at("exit").value("signal", 0) == SIGTERM);
}

TEST_CASE("run forwards SIGINT and SIGTERM sent to the agent to the target", "[run][signals]") {
    for (int sig : {SIGINT, SIGTERM}) {
        DYNAMIC_SECTION("signal " << sig) {
            TempDir dir;
            const std::string trace = dir.file("sig.tidemark");
            bool sent = false;
            SpawnOptions opt;
            opt.timeout_s = 15;
            opt.on_progress = [&](pid_t agent, const std::string& out, double) {
                if (!sent && out.find("ready") != std::string::npos) {
                    kill(agent, sig);  // the agent only: it must pass it on
                    sent = true;
                }
            };
            const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("wait_for_signal.js")}, opt);
            INFO("stderr: " << run.err);
            REQUIRE(sent);
            REQUIRE_FALSE(run.timed_out);
            CHECK(run.exit_code == 128 + sig);  // the fixture would have exited 0 by itself
            const auto report = report_json(trace);
            CHECK(report.at("process").at("exit").value("signal", 0) == sig);
        }
    }
}

TEST_CASE("run records a command that is not Node", "[run][exit]") {
    TempDir dir;
    const std::string trace = dir.file("sh.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "/bin/sh", "-c", "echo plain; exit 5"});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    CHECK(run.exit_code == 5);
    CHECK(run.out == "plain\n");
    const auto report = report_json(trace);
    CHECK(report.at("process").at("exit").value("code", -1) == 5);
    CHECK(report.at("streams").empty());
    CHECK(report.at("findings").empty());
}

TEST_CASE("run writes tidemark-<pid>.tidemark in the working directory by default", "[run][exit]") {
    TempDir dir;
    SpawnOptions opt;
    opt.cwd = dir.path();
    const auto run = run_cli({"run", "--", "/bin/sh", "-c", "echo $$"}, opt);
    INFO("stderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    const std::string pid = run.out.substr(0, run.out.find('\n'));
    const std::string expected = dir.file("tidemark-" + pid + ".tidemark");
    REQUIRE(std::filesystem::exists(expected));
    CHECK(report_json(expected).at("process").at("exit").value("code", -1) == 0);
}

TEST_CASE("run explains a command that cannot be started", "[run][exit]") {
    TempDir dir;
    const auto run = run_cli({"run", "--out", dir.file("x.tidemark"), "--", "no-such-command-tidemark"});
    CHECK(run.exit_code == 127);
    CHECK(run.err.find("command not found") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("x.tidemark")));
}

TEST_CASE("run refuses budget options without --check", "[run][usage]") {
    const auto run = run_cli({"run", "--max-peak-rss", "100MB", "--", "/bin/true"});
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("--check") != std::string::npos);
}

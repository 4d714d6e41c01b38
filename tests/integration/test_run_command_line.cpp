// How `tidemark run` treats its command line and the target's environment: arguments after `--`
// are the target's alone, the user's NODE_OPTIONS are kept beside the tracker's --require (quoted,
// so a tracker path with spaces and quotes works), and mistakes get messages that say what to do.
#include <catch2/catch.hpp>

#include <filesystem>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("arguments after -- go to the target untouched", "[run][usage]") {
    TempDir dir;
    const auto run = run_cli({"run", "--out", dir.file("t.tidemark"), "--", "/bin/sh", "-c",
                              "printf '%s|' \"$@\"", "sh", "--out", "x", "--check", "--"});
    INFO("stderr: " << run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out == "--out|x|--check|--|");
    CHECK(std::filesystem::exists(dir.file("t.tidemark")));
}

TEST_CASE("the user's NODE_OPTIONS are kept and a tracker path with spaces works", "[run][env]") {
    TempDir dir;
    // A copy of the tracker in a directory whose name needs quoting.
    const std::filesystem::path lib = std::filesystem::path(dir.path()) / "lib dir \"quoted\"";
    std::filesystem::create_directories(lib);
    for (const char* f : {"preload.js", "tracker.js", "sites.js", "web.js", "tidemark_node.node"})
        std::filesystem::copy_file(std::filesystem::path(TIDEMARK_LIB_DIR) / f, lib / f);
    SpawnOptions opt;
    opt.env = {{"TIDEMARK_LIB_DIR", lib.string()}, {"NODE_OPTIONS", "--title=tidemark-title-test"}};
    const std::string trace = dir.file("env.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("print_title.js")}, opt);
    INFO("stderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("title=tidemark-title-test") != std::string::npos);
    CHECK(streams_seen(report_json(trace), "PassThrough").size() == 1);  // the tracker loaded
}

TEST_CASE("command-line mistakes exit 2 with a message that says what to do", "[run][usage]") {
    SECTION("no command") {
        const auto r = run_cli({"run"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("put it after `--`") != std::string::npos);
    }
    SECTION("a target flag before --") {
        const auto r = run_cli({"run", "/bin/echo", "hi", "--x"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("after `--`") != std::string::npos);
    }
    SECTION("an option that does not exist") {
        const auto r = run_cli({"run", "--no-such-option", "--", "/bin/true"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--no-such-option") != std::string::npos);
    }
    SECTION("a --native mode that does not exist") {
        const auto r = run_cli({"run", "--native", "always", "--", "/bin/true"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--native") != std::string::npos);
    }
    SECTION("attach without a process id") {
        const auto r = run_cli({"attach"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("PID") != std::string::npos);
    }
    SECTION("attach to something that is not a process id") {
        const auto r = run_cli({"attach", "node"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("PID") != std::string::npos);
    }
    SECTION("an unknown command") {
        const auto r = run_cli({"frobnicate"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("run, attach, report, check and dump") != std::string::npos);
    }
    SECTION("an interval out of range") {
        const auto r = run_cli({"run", "--interval", "5", "--", "/bin/true"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--interval") != std::string::npos);
    }
}

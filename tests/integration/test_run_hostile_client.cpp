// The agent's socket faces whatever connects to it: malformed frames, garbage instead of a Hello,
// undecodable records. Each bad connection is dropped with a note in the trace; the recording of
// the real tracker goes on, and nothing crashes.
#include <catch2/catch.hpp>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("run drops malformed connections with a note and keeps recording", "[run][hostile]") {
    TempDir dir;
    const std::string trace = dir.file("hostile.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("hostile_client.js")});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("attacks sent") != std::string::npos);

    // The app's own stream is recorded despite the bad neighbours.
    const auto report = report_json(trace);
    CHECK(streams_of_type(report, "PassThrough").size() == 1);

    const auto dump = run_cli({"dump", trace});
    REQUIRE(dump.exit_code == 0);
    INFO("dump: " << dump.out);
    CHECK(dump.out.find("frame announces 4294967295 bytes") != std::string::npos);
    CHECK(dump.out.find("first record was not a Hello") != std::string::npos);
    CHECK(dump.out.find("pid 4242") != std::string::npos);  // the one that did say Hello
    CHECK(dump.out.find("undecodable record") != std::string::npos);
    CHECK(dump.out.find("away from the agent's clock") != std::string::npos);
    // The 1970 record did not stretch the recording.
    CHECK(report.at("process").at("duration_s").get<double>() < 60);
}

TEST_CASE("run explains a missing tracker and does not start the command", "[run][usage]") {
    TempDir dir;
    SpawnOptions opt;
    opt.env = {{"TIDEMARK_LIB_DIR", dir.path()}};
    const std::string marker = dir.file("ran");
    const auto run = run_cli({"run", "--out", dir.file("t.tidemark"), "--", "/bin/touch", marker}, opt);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("preload.js") != std::string::npos);
    CHECK(run.err.find("TIDEMARK_LIB_DIR") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(marker));
}

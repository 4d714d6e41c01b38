// `tidemark run -- npm start`: the package manager is a launcher, not the program the user means.
// Without --follow-children the tracker skips it, and the app npm starts is the tracked process.
#include <catch2/catch.hpp>

#include <fstream>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("run -- npm start tracks the app npm starts, not npm", "[run][children][npm]") {
    TempDir dir;
    {
        std::ofstream pkg(dir.file("package.json"));
        pkg << R"({"name": "tidemark-npm-start", "version": "1.0.0", "private": true,)"
            << R"( "scripts": {"start": "node )" << fixture("pipeline.js") << R"("}})";
    }
    const std::string trace = dir.file("npm.tidemark");
    SpawnOptions opt;
    opt.cwd = dir.path();
    opt.env = {{"npm_config_update_notifier", "false"}, {"npm_config_fund", "false"}};
    const auto run = run_cli({"run", "--out", trace, "--", "npm", "start"}, opt);
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("sink received 262144 bytes") != std::string::npos);

    const auto report = report_json(trace);
    CHECK(streams_of_type(report, "TickSource").size() == 1);
    CHECK(streams_of_type(report, "UpperCase").size() == 1);
    CHECK(streams_of_type(report, "CountingSink").size() == 1);
    // The app's process carries the samples; npm itself sent none.
    REQUIRE(report.contains("processes"));
    bool app_sampled = false;
    for (const auto& p : report.at("processes")) {
        if (p.value("cmdline", "").find("pipeline.js") != std::string::npos) app_sampled = p.value("samples", 0) >= 5;
        else CHECK(p.value("samples", 0) == 0);
    }
    CHECK(app_sampled);
}

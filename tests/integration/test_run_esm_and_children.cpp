// `tidemark run` on an ES module entry point, and on a Node process that starts a Node child:
// without --follow-children only the first process is tracked (the child runs untouched), with it
// both processes and their streams are in the trace.
#include <catch2/catch.hpp>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

bool contains_edge(const nlohmann::json& from, const nlohmann::json& to) {
    for (const auto& id : from.at("piped_to"))
        if (id == to.at("id")) return true;
    return false;
}

}  // namespace

TEST_CASE("run sees the streams of an ES module app", "[run][esm]") {
    TempDir dir;
    const std::string app = fixture("esm_app.mjs");
    const std::string trace = dir.file("esm.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", app});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("esm done") != std::string::npos);
    const auto report = report_json(trace);
    const auto sources = streams_seen(report, "EsmSource");
    const auto sinks = streams_seen(report, "EsmSink");
    REQUIRE(sources.size() == 1);
    REQUIRE(sinks.size() == 1);
    // Sites of an ES module are plain paths (file:// stripped), in the module itself.
    for (const auto* s : {&sources[0], &sinks[0]}) {
        const std::string site = s->value("created_at", "");
        CHECK(site.rfind("/", 0) == 0);
        CHECK(site.find("esm_app.mjs:") != std::string::npos);
    }
    CHECK(contains_edge(sources[0], sinks[0]));  // pipeline(source, sink) pipes them
}

TEST_CASE("run tracks a Node child only with --follow-children", "[run][children]") {
    TempDir dir;
    SECTION("without --follow-children the child runs untracked") {
        const std::string trace = dir.file("parent.tidemark");
        const auto run = run_cli({"run", "--out", trace, "--", "node", fixture("parent.js")});
        INFO("stderr: " << run.err);
        REQUIRE_FALSE(run.timed_out);
        CHECK(run.exit_code == 0);
        CHECK(run.out.find("child said: sum=4950 (exit 0)") != std::string::npos);
        const auto report = report_json(trace);
        CHECK(streams_seen(report, "ChildDoubler").empty());
        CHECK(streams_seen(report, "PassThrough").size() == 1);  // the parent's own
        CHECK(report.value("processes", nlohmann::json::array()).size() <= 1);
    }
    SECTION("with --follow-children both processes are in the trace") {
        const std::string trace = dir.file("family.tidemark");
        const auto run = run_cli({"run", "--follow-children", "--out", trace, "--", "node", fixture("parent.js")});
        INFO("stderr: " << run.err);
        REQUIRE_FALSE(run.timed_out);
        CHECK(run.exit_code == 0);
        CHECK(run.out.find("child said: sum=4950 (exit 0)") != std::string::npos);
        const auto report = report_json(trace);
        CHECK(streams_seen(report, "ChildDoubler").size() == 1);
        CHECK(streams_seen(report, "PassThrough").size() == 1);
        REQUIRE(report.contains("processes"));
        CHECK(report.at("processes").size() == 2);
    }
}

// `tidemark run` on a user-defined Readable → Transform → Writable chain: the report shows all
// three streams with their class names, their `file:line` creation sites, the pipe edges, and the
// samples the tracker sent.
#include <catch2/catch.hpp>

#include <algorithm>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

bool contains_id(const nlohmann::json& ids, const nlohmann::json& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

TEST_CASE("run records a pipe chain with types, creation sites and edges", "[run][pipeline]") {
    TempDir dir;
    const std::string app = fixture("pipeline.js");
    const std::string trace = dir.file("chain.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", app});  // default interval (100 ms)
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("sink received 262144 bytes") != std::string::npos);  // the app still works
    CHECK(run.err.find("see `tidemark report " + trace + "`") != std::string::npos);

    const auto report = report_json(trace);
    const auto sources = streams_of_type(report, "TickSource");
    const auto uppers = streams_of_type(report, "UpperCase");
    const auto sinks = streams_of_type(report, "CountingSink");
    REQUIRE(sources.size() == 1);
    REQUIRE(uppers.size() == 1);
    REQUIRE(sinks.size() == 1);

    // Creation sites are in the app (where exactly: next test case).
    for (const auto* s : {&sources[0], &uppers[0], &sinks[0]})
        CHECK(s->value("created_at", "").find(file_name(app) + ":") != std::string::npos);

    // source.pipe(upper).pipe(sink)
    CHECK(contains_id(sources[0].at("piped_to"), uppers[0].at("id")));
    CHECK(contains_id(uppers[0].at("piped_to"), sinks[0].at("id")));
    CHECK(sinks[0].at("piped_to").empty());

    // The source's highWaterMark as the app set it.
    CHECK(sources[0].value("readable_high_water_mark", 0) == 16 * 1024);

    // At the default interval the tracker sends ≥ 10 process samples per second of recording.
    const auto& process = report.at("process");
    const double duration = process.at("duration_s").get<double>();
    const double samples = process.at("samples").get<double>();
    const double rate = process.at("sample_rate_hz").get<double>();
    INFO("samples " << samples << " over " << duration << " s, " << rate << "/s while tracked");
    REQUIRE(duration > 1.0);
    // Node's own start-up (~0.1 s before the preload runs) is part of duration_s but cannot be
    // sampled; the rate is judged over the span the tracker was in, and the count over the whole.
    CHECK(rate >= 10.0);
    CHECK(samples >= 10.0 * (duration - 0.3));
    CHECK(process.at("exit").value("code", -1) == 0);
}

// A user's stream class is created where the app says `new TheClass(…)`; the frames inside the
// class's own constructor (its super() call, or the class line for an implicit constructor) say
// nothing the type name does not. The tracker must skip them (stack frames "at new <Class>" of the
// stream's own constructor chain).
TEST_CASE("creation sites of user stream classes point at the `new` expression", "[run][sites]") {
    TempDir dir;
    const std::string app = fixture("pipeline.js");
    const std::string trace = dir.file("sites.tidemark");
    const auto run = run_cli({"run", "--out", trace, "--", "node", app});
    INFO("stderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    const auto report = report_json(trace);
    const std::string base = file_name(app) + ":";
    for (const char* type : {"TickSource", "UpperCase", "CountingSink"}) {
        const auto found = streams_of_type(report, type);
        REQUIRE(found.size() == 1);
        const std::string expected = base + std::to_string(line_of(app, std::string("new ") + type + "("));
        INFO(type << " created_at " << found[0].value("created_at", "") << ", expected …" << expected);
        CHECK(ends_with(found[0].value("created_at", ""), expected));
    }
}

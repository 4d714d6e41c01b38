// Tracker coverage end to end: streams that are not node's own — the userland readable-stream
// package (v3 under through2, v4 with its own pipeline), a worker thread's streams, WHATWG web
// streams — each with a broken link that `tidemark run` must flag at the user's line, and a healthy
// twin that must stay silent. Fixtures live in tests/fixtures/npm (a tiny app with a package.json;
// scripts/install-deps.sh installs its node_modules with npm ci).
#include <catch2/catch.hpp>

#include <filesystem>

#include "judge_helpers.h"

using namespace tidemark::test;

namespace {

const FixtureDir kNpm{"npm"};

void require_npm_modules() {
    const std::string dir = std::string(TIDEMARK_FIXTURES) + "/npm/node_modules/";
    INFO("run scripts/install-deps.sh (npm ci in tests/fixtures/npm) first");
    REQUIRE(std::filesystem::exists(dir + "through2"));
    REQUIRE(std::filesystem::exists(dir + "readable-stream"));
}

}  // namespace

TEST_CASE("coverage: a through2 Transform ignoring false on a readable-stream side store", "[coverage][integration]") {
    require_npm_modules();
    const Judged j = run_fixture(kNpm, "through2_side_store");
    const auto f = expect_finding(kNpm, j, "through2_side_store", "ignored-backpressure", "error", "Writable", "@site",
                                  "@created");
    CHECK(f.at("evidence").at("writes_after_false").get<double>() > 10);
    // The userland streams are reported as such, with their own counts.
    bool userland_writable = false;
    for (const auto& s : streams_of_type(j.report, "Writable"))
        userland_writable |= s.value("api", "") == "readable-stream" && s.value("writes_after_false", 0) > 10;
    CHECK(userland_writable);
}

TEST_CASE("coverage: healthy — the through2 Transform waits for the store's drain", "[coverage][integration]") {
    require_npm_modules();
    expect_healthy(kNpm, "through2_side_store_ok");
}

TEST_CASE("coverage: a readable-stream v4 pipeline whose source pushes past false", "[coverage][integration]") {
    require_npm_modules();
    const Judged j = run_fixture(kNpm, "rs4_pipeline");
    expect_finding(kNpm, j, "rs4_pipeline", "unbounded-readable", "error", "Readable", "@site", "@created");
}

TEST_CASE("coverage: healthy — a readable-stream v4 pipeline with a pull-driven source", "[coverage][integration]") {
    require_npm_modules();
    expect_healthy(kNpm, "rs4_pipeline_ok");
}

TEST_CASE("coverage: a worker thread's writable ignoring false", "[coverage][integration]") {
    const Judged j = run_fixture(kNpm, "worker_job");
    const auto f = expect_finding(kNpm, j, "worker_job", "ignored-backpressure", "error", "Writable", "@site", "@created",
                                  "worker_job_thread");
    // The stream is tagged with its thread, and the worker is listed as a thread of the process.
    const auto writables = streams_of_type(j.report, "Writable");
    REQUIRE(writables.size() == 1);
    CHECK(writables[0].value("thread", 0) >= 1);
    CHECK(writables[0].value("pid", 0) == j.report.at("process").value("pid", -1));
    CHECK(f.at("stream").value("created_at", "").find("worker_job_thread.js:") != std::string::npos);
}

TEST_CASE("coverage: a WritableStream written without awaiting writer.ready", "[coverage][integration]") {
    const Judged j = run_fixture(kNpm, "web_writer");
    const auto f = expect_finding(kNpm, j, "web_writer", "ignored-backpressure", "error", "WritableStream", "@site",
                                  "@created");
    CHECK(f.at("message").get<std::string>().find("desiredSize") != std::string::npos);
    const auto ws = streams_of_type(j.report, "WritableStream");
    REQUIRE(ws.size() == 1);
    CHECK(ws[0].value("api", "") == "web");
    CHECK(ws[0].value("writable_high_water_mark", 0) == 8);  // the CountQueuingStrategy's, in chunks
}

TEST_CASE("coverage: a WritableStream from require('stream/web'), made before web streams are hooked", "[coverage][integration]") {
    // The tracker hooks web streams once the app uses them; this one is made through the module at
    // start-up, before that, so its creation site is unknown — but its writes are still counted
    // and the one that ignores writer.ready is named.
    const Judged j = run_fixture(kNpm, "web_writer_module");
    expect_finding(kNpm, j, "web_writer_module", "ignored-backpressure", "error", "WritableStream", "@site", "");
    const auto ws = streams_of_type(j.report, "WritableStream");
    REQUIRE(ws.size() == 1);
    CHECK(ws[0].value("api", "") == "web");
    CHECK(ws[0].value("writable_high_water_mark", 0) == 64 * 1024);
    // Bytes, though the strategy argument was never seen: read from the stream's size function.
    CHECK(ws[0].at("kind") == nlohmann::json::array({"writable"}));
    // Not seen being made, and said so (not the line of the first write).
    CHECK(ws[0].value("created_at", "").find("not seen being made") != std::string::npos);
}

TEST_CASE("coverage: healthy — a WritableStream producer that awaits writer.ready", "[coverage][integration]") {
    expect_healthy(kNpm, "web_writer_ok");
}

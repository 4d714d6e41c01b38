// The agent out of file descriptors (a low `ulimit -n`, many tracked processes): it sheds the
// connections it cannot hold, tells the user how to fix it, and the target runs on normally.
#include <catch2/catch.hpp>

#include "run_helpers.h"

using namespace tidemark::test;

TEST_CASE("run sheds connections it has no descriptors for and says so", "[run][fds]") {
    TempDir dir;
    const std::string trace = dir.file("fds.tidemark");
    const std::string cmd = "ulimit -Sn 40 && exec '" + std::string(TIDEMARK_BIN) + "' run --out '" + trace +
                            "' -- node '" + fixture("many_connections.js") + "'";
    const auto run = spawn_and_wait({"/bin/sh", "-c", cmd});
    INFO("stderr: " << run.err);
    REQUIRE_FALSE(run.timed_out);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("done") != std::string::npos);
    CHECK(run.err.find("ran out of file descriptors") != std::string::npos);
    CHECK(run.err.find("ulimit -n") != std::string::npos);
    const auto report = report_json(trace);
    bool noted = false;
    for (const auto& n : report.at("trace").at("notes"))
        noted = noted || n.value("text", "").find("file descriptors") != std::string::npos;
    CHECK(noted);
}

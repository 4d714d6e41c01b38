// Judging a fixture end to end, as a user would read the result: run a real node program (bounded
// in time and memory) through `tidemark run --out X -- node FIXTURE`, then read
// `tidemark report X --format json`: findings of a kind on a stream type, at the user's file:line
// (found in the fixture by its marker comment), or no warning or error at all on a healthy twin.
// Shared by the detector and tracker-coverage integration tests.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "run_helpers.h"

namespace tidemark::test {

struct Judged {
    nlohmann::json report;
    std::string err;  // tidemark run's stderr (live findings, summary)
};

// Fixtures live in tests/fixtures/DIR/NAME.js.
struct FixtureDir {
    std::string dir;
    std::string path(const std::string& name) const { return std::string(TIDEMARK_FIXTURES) + "/" + dir + "/" + name + ".js"; }
};

inline Judged run_fixture(const FixtureDir& d, const std::string& name, double timeout_s = 60) {
    TempDir tmp;
    const std::string trace = tmp.file(name + ".tidemark");
    SpawnOptions opt;
    opt.timeout_s = timeout_s;
    const auto r = run_tidemark({"run", "--out", trace, "--", "node", d.path(name)}, opt);
    INFO("tidemark run stderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);
    return {report_json(trace), r.err};
}

// "file.js:LINE" of the line carrying `marker` in the fixture.
inline std::string site_of(const FixtureDir& d, const std::string& name, const std::string& marker) {
    const int line = line_of(d.path(name), marker);
    REQUIRE(line > 0);
    return name + ".js:" + std::to_string(line);
}

inline std::vector<nlohmann::json> findings_of(const nlohmann::json& report, const std::string& kind) {
    std::vector<nlohmann::json> out;
    for (const auto& f : report.at("findings"))
        if (f.at("kind") == kind) out.push_back(f);
    return out;
}

inline std::string describe(const nlohmann::json& report) {
    std::string s;
    for (const auto& f : report.at("findings"))
        s += f.value("severity", "?") + " " + f.value("kind", "?") + ": " + f.value("message", "") + "\n";
    return s.empty() ? "(no findings)" : s;
}

// The single finding of `kind` on a stream of `type`; checks severity and, when given, the sites
// (site_marker: the offending call, in `site_file` when that differs from the fixture).
inline nlohmann::json expect_finding(const FixtureDir& d, const Judged& j, const std::string& fixture,
                                     const std::string& kind, const std::string& severity, const std::string& type,
                                     const std::string& site_marker, const std::string& created_marker,
                                     const std::string& site_file = "") {
    INFO("findings:\n" << describe(j.report));
    std::vector<nlohmann::json> matching;
    for (const auto& f : findings_of(j.report, kind))
        if (f.contains("stream") && f["stream"].value("type", "") == type) matching.push_back(f);
    REQUIRE(matching.size() == 1);
    const auto& f = matching[0];
    CHECK(f.at("severity") == severity);
    CHECK_FALSE(f.at("message").get<std::string>().empty());
    CHECK_FALSE(f.value("fix", "").empty());
    CHECK(f.at("evidence").size() > 0);
    CHECK(f.at("onset_s").get<double>() >= 0);
    const std::string marker_file = site_file.empty() ? fixture : site_file;
    if (!site_marker.empty()) {
        const std::string site = f.value("site", "");
        INFO("site " << site);
        CHECK(ends_with(site, "/" + site_of(d, marker_file, site_marker)));
    }
    if (!created_marker.empty()) {
        // For a subclass, node's first user frame is inside the class (its constructor, or the class
        // line for an implicit one) rather than the `new` expression: both name the user's stream.
        const auto created = f["stream"].value("created_at", "");
        INFO("created_at " << created);
        const bool at_new = ends_with(created, "/" + site_of(d, marker_file, created_marker));
        const bool in_class = line_of(d.path(marker_file), "@class") > 0 &&
                              ends_with(created, "/" + site_of(d, marker_file, "@class"));
        CHECK((at_new || in_class));
    }
    return f;
}

inline void expect_healthy(const FixtureDir& d, const std::string& fixture) {
    const Judged j = run_fixture(d, fixture);
    INFO(fixture << " findings:\n" << describe(j.report));
    size_t loud = 0;
    for (const auto& f : j.report.at("findings")) loud += f.at("severity") != "info";
    CHECK(loud == 0);
    CHECK(j.err.find("tidemark: [error]") == std::string::npos);
    CHECK(j.err.find("tidemark: [warning]") == std::string::npos);
}

}  // namespace tidemark::test

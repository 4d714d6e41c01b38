// Unit tests for budget settings (model/gate_config.h): the budget file's JSON, the command line
// overriding it, and error messages that name the option, the bad value and a good example.
#include <catch2/catch.hpp>

#include "tidemark/model/gate/config.h"

using namespace tidemark::model;

namespace {

GateSettings cli(const std::string& key, std::vector<std::string> values) {
    GateSettings s;
    s[key] = GateSetting{std::move(values), "--" + key};
    return s;
}

std::string build_error(const GateSettings& s) {
    Budgets b;
    std::string baseline, error;
    REQUIRE_FALSE(build_budgets(s, b, baseline, error));
    return error;
}

}  // namespace

TEST_CASE("a budget file sets every key — the command line overrides it") {
    GateSettings file;
    std::string error;
    REQUIRE(read_budget_json(R"({"max-peak-rss": "256MB", "max_peak_heap": 100000000,
        "max-growth": {"heap": "1MB/min", "rss": "4MB/min"}, "warmup": "3s", "tolerance": 15,
        "fail-on": ["ignored-backpressure", "heap-growth"], "allow": "no-consumer@cache.js:4",
        "baseline": "base.tidemark"})", "budget.json", file, error));
    GateSettings command_line = cli("max-peak-rss", {"512MB"});
    command_line["allow"] = GateSetting{{"stalled-pipeline"}, "--allow"};
    Budgets b;
    std::string baseline;
    REQUIRE(build_budgets(merge_settings(file, command_line), b, baseline, error));
    CHECK(b.max_peak.at(Metric::Rss).bytes == 512'000'000);  // command line wins
    CHECK(b.max_peak.at(Metric::HeapUsed).bytes == 100'000'000);
    CHECK(b.max_growth.at(Metric::HeapUsed).bytes_per_s == Approx(1e6 / 60));
    CHECK(b.max_growth.at(Metric::Rss).bytes_per_s == Approx(4e6 / 60));
    CHECK(b.max_growth.count(Metric::External) == 0);
    CHECK(b.warmup_s == 3.0);
    CHECK(b.tolerance == Approx(0.15));
    CHECK(b.fail_on == std::vector<std::string>{"ignored-backpressure", "heap-growth"});
    REQUIRE(b.allow.size() == 2);  // allow lists are joined
    CHECK(b.allow[0].kind == "no-consumer");
    CHECK(b.allow[0].site == "cache.js:4");
    CHECK(b.allow[1].kind == "stalled-pipeline");
    CHECK(baseline == "base.tidemark");
}

TEST_CASE("a bare growth rate applies to every metric — METRIC=RATE to one") {
    Budgets b;
    std::string baseline, error;
    REQUIRE(build_budgets(cli("max-growth", {"2MB/min"}), b, baseline, error));
    CHECK(b.max_growth.size() == 3);
    REQUIRE(build_budgets(cli("max-growth", {"heap=1MB/min,external=500KB/s"}), b, baseline, error));
    CHECK(b.max_growth.size() == 2);
    CHECK(b.max_growth.at(Metric::External).bytes_per_s == Approx(500e3));
    REQUIRE(build_budgets(cli("max-growth", {"heap=1MB/min\nrss=3MB/min"}), b, baseline, error));  // repeated option
    CHECK(b.max_growth.size() == 2);
    CHECK(b.max_growth.at(Metric::Rss).bytes_per_s == Approx(3e6 / 60));
}

TEST_CASE("defaults: 2 s warm-up 10% tolerance error findings fail") {
    Budgets b;
    std::string baseline, error;
    REQUIRE(build_budgets({}, b, baseline, error));
    CHECK(b.warmup_s == 2.0);
    CHECK(b.tolerance == Approx(0.10));
    CHECK(b.fail_on.empty());
    CHECK_FALSE(b.fail_on_none);
    CHECK(baseline.empty());
}

TEST_CASE("bad values name the option the value and a good example") {
    const std::string size = build_error(cli("max-peak-rss", {"12XB"}));
    CHECK(size.rfind("--max-peak-rss: ", 0) == 0);
    CHECK(size.find("'12XB'") != std::string::npos);
    CHECK(size.find("e.g. 256MB") != std::string::npos);

    const std::string rate = build_error(cli("max-growth", {"2MB"}));
    CHECK(rate.rfind("--max-growth: ", 0) == 0);
    CHECK(rate.find("2MB/min") != std::string::npos);

    const std::string metric = build_error(cli("max-growth", {"stack=1MB/min"}));
    CHECK(metric.find("'stack' is not a metric") != std::string::npos);

    const std::string kind = build_error(cli("fail-on", {"leaks"}));
    CHECK(kind.rfind("--fail-on: 'leaks' is not a finding kind", 0) == 0);
    CHECK(kind.find("ignored-backpressure") != std::string::npos);

    CHECK(build_error(cli("fail-on", {"none,heap-growth"})).find("'none' cannot be combined") != std::string::npos);
    CHECK(build_error(cli("allow", {"no-consumer@"})).find("nothing after @") != std::string::npos);
    CHECK(build_error(cli("warmup", {"soon"})).rfind("--warmup: 'soon'", 0) == 0);
    CHECK(build_error(cli("tolerance", {"0.1"})).find("e.g. 10%") != std::string::npos);
}

TEST_CASE("budget file errors say which file and key") {
    GateSettings s;
    std::string error;
    CHECK_FALSE(read_budget_json("{not json", "ci/budget.json", s, error));
    CHECK(error.find("ci/budget.json is not valid JSON") != std::string::npos);
    CHECK_FALSE(read_budget_json(R"({"max-peak-rsss": "1MB"})", "b.json", s, error));
    CHECK(error.find("unknown key \"max-peak-rsss\"") != std::string::npos);
    CHECK_FALSE(read_budget_json(R"([1,2])", "b.json", s, error));
    CHECK(error.find("must hold a JSON object") != std::string::npos);
    CHECK_FALSE(read_budget_json(R"({"fail-on": {"a": 1}})", "b.json", s, error));
    CHECK(error.find("key fail-on") != std::string::npos);

    GateSettings bad;
    REQUIRE(read_budget_json(R"({"max-peak-heap": "lots"})", "b.json", bad, error));
    Budgets b;
    std::string baseline;
    REQUIRE_FALSE(build_budgets(bad, b, baseline, error));
    CHECK(error.rfind("budget file b.json, key max-peak-heap: 'lots'", 0) == 0);
}

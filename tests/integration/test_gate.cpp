// Integration tests for the CI gate through the real `tidemark` binary and real node programs
// (tests/fixtures/gate/): `tidemark run --check` and `tidemark check TRACE` with budgets, findings,
// a budget file, a baseline, JUnit/JSON/markdown output and bad input. Each fixture bounds itself
// (≤ 6 s, tens of MB). The 10-run saw-tooth count lives in tests/fixtures/gate/repeat_sawtooth.sh.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "run_helpers.h"

using namespace tidemark::test;

namespace {

std::string gate_fixture(const std::string& name) { return std::string(TIDEMARK_FIXTURES) + "/gate/" + name; }

// Records `node FIXTURE` into trace (no gate); the run itself must succeed.
void record(const std::string& fixture_name, const std::string& trace) {
    const ProcessResult r = run_cli({"run", "--out", trace, "--", "node", gate_fixture(fixture_name)});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(std::filesystem::exists(trace));
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

// Parses an XML file with Python's XML parser; returns "testcases failures\n" then each failure's
// message, or the parser's error (exit code != 0).
ProcessResult parse_junit(const std::string& path) {
    return spawn_and_wait({"/usr/bin/python3", "-c",
                           "import sys, xml.etree.ElementTree as E\n"
                           "root = E.parse(sys.argv[1]).getroot()\n"
                           "cases = root.findall('.//testcase')\n"
                           "fails = [c for c in cases if c.find('failure') is not None]\n"
                           "print(len(cases), len(fails))\n"
                           "for c in fails: print(c.get('name'), '|', c.find('failure').get('message'))\n",
                           path});
}

}  // namespace

TEST_CASE("gate: the incident (Transform ignoring write() false) fails naming ignored-backpressure") {
    TempDir dir;  // the default trace name lands in the working directory
    SpawnOptions in_dir;
    in_dir.cwd = dir.path();
    const ProcessResult r = run_cli({"run", "--check", "--", "node", gate_fixture("incident.js")}, in_dir);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("FAIL ignored-backpressure") != std::string::npos);
    const int line = line_of(gate_fixture("incident.js"), "slowSink.write(chunk)");
    CHECK(r.err.find("incident.js:" + std::to_string(line)) != std::string::npos);
    CHECK(r.err.find("tidemark gate FAILED") != std::string::npos);
}

TEST_CASE("gate: the incident's pipeline() fix passes") {
    TempDir dir;
    const ProcessResult r = run_cli({"run", "--out", dir.file("fixed.tidemark"), "--check", "--", "node",
                                      gate_fixture("incident_fixed.js")});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("tidemark gate PASSED") != std::string::npos);
    CHECK(r.err.find("ignored-backpressure") == std::string::npos);
}

TEST_CASE("gate: a steady JS heap leak fails the growth budget") {
    TempDir dir;
    const ProcessResult r = run_cli({"run", "--out", dir.file("leak.tidemark"), "--check", "--max-growth",
                                      "heap=5MB/min", "--", "node", gate_fixture("heap_leak.js")});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("FAIL max-growth-heap: heap_used grows") != std::string::npos);
}

TEST_CASE("gate: a GC saw-tooth heap passes the same growth budget (2 runs — 10-run count in docs/CI.md)") {
    for (int run = 0; run < 2; ++run) {
        TempDir dir;
        const ProcessResult r = run_cli({"run", "--out", dir.file("saw.tidemark"), "--check", "--max-growth",
                                          "5MB/min", "--", "node", gate_fixture("sawtooth.js")});
        INFO("run " << run << "\n" << r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.err.find("PASS max-growth-heap") != std::string::npos);
    }
}

TEST_CASE("gate: --max-peak-rss 1MB fails a real node process 4GB passes — the JUnit file shows it") {
    TempDir dir;
    const std::string trace = dir.file("hold.tidemark"), junit = dir.file("gate.xml");
    const ProcessResult fail = run_cli({"run", "--out", trace, "--check", "--max-peak-rss", "1MB", "--junit",
                                         junit, "--", "node", gate_fixture("hold_20mb.js")});
    INFO(fail.err);
    CHECK(fail.exit_code == 1);
    CHECK(fail.err.find("FAIL max-peak-rss: ") != std::string::npos);
    CHECK(fail.err.find(" > 1MB budget") != std::string::npos);

    const ProcessResult xml = parse_junit(junit);
    INFO(xml.err);
    REQUIRE(xml.exit_code == 0);
    CHECK(xml.out.rfind("2 1\n", 0) == 0);  // max-peak-rss + "findings"; one failure
    CHECK(xml.out.find("max-peak-rss | ") != std::string::npos);
    CHECK(xml.out.find("> 1MB budget") != std::string::npos);

    const ProcessResult pass = run_cli({"check", trace, "--max-peak-rss", "4GB", "--junit", junit});
    INFO(pass.err);
    CHECK(pass.exit_code == 0);
    CHECK(pass.out.find("PASS max-peak-rss") != std::string::npos);
    const ProcessResult xml_pass = parse_junit(junit);
    CHECK(xml_pass.out.rfind("2 0\n", 0) == 0);
}

TEST_CASE("gate: check on a recorded incident — JUnit JSON and markdown agree — --allow suppresses") {
    TempDir dir;
    const std::string trace = dir.file("incident.tidemark"), junit = dir.file("incident.xml");
    record("incident.js", trace);

    const ProcessResult text = run_cli({"check", trace, "--junit", junit});
    CHECK(text.exit_code == 1);
    const ProcessResult xml = parse_junit(junit);
    INFO(xml.err);
    REQUIRE(xml.exit_code == 0);
    CHECK(xml.out.find("ignored-backpressure @ ") != std::string::npos);

    const ProcessResult json = run_cli({"check", trace, "--format", "json"});
    CHECK(json.exit_code == 1);
    const auto verdict = nlohmann::json::parse(json.out);
    CHECK(verdict["passed"] == false);
    bool named = false;
    for (const auto& f : verdict["findings"]) named |= f["kind"] == "ignored-backpressure" && f["outcome"] == "fail";
    CHECK(named);

    const ProcessResult md = run_cli({"check", trace, "--format", "markdown"});
    CHECK(md.exit_code == 1);
    CHECK(md.out.find("## tidemark memory gate: ❌ failed") != std::string::npos);

    const int line = line_of(gate_fixture("incident.js"), "slowSink.write(chunk)");
    const ProcessResult allowed =
        run_cli({"check", trace, "--allow", "ignored-backpressure@incident.js:" + std::to_string(line)});
    INFO(allowed.out << allowed.err);
    CHECK(allowed.exit_code == 0);
    CHECK(allowed.out.find("ALLOWED ignored-backpressure") != std::string::npos);
    const ProcessResult wrong_site = run_cli({"check", trace, "--allow", "ignored-backpressure@other.js:1"});
    CHECK(wrong_site.exit_code == 1);
}

TEST_CASE("gate: a budget file sets budgets and the command line overrides it") {
    TempDir dir;
    const std::string trace = dir.file("hold.tidemark"), budget = dir.file("budget.json");
    record("hold_20mb.js", trace);
    write_file(budget, R"({"max-peak-rss": "1MB", "warmup": "1s"})");
    CHECK(run_cli({"check", trace, "--budget", budget}).exit_code == 1);
    CHECK(run_cli({"check", trace, "--budget", budget, "--max-peak-rss", "4GB"}).exit_code == 0);
    write_file(budget, R"({"max-peak-rs": "1MB"})");
    const ProcessResult typo = run_cli({"check", trace, "--budget", budget});
    CHECK(typo.exit_code == 2);
    CHECK(typo.err.find("unknown key \"max-peak-rs\"") != std::string::npos);
}

TEST_CASE("gate: --baseline fails when the peak exceeds the baseline's beyond tolerance") {
    TempDir dir;
    const std::string fixed = dir.file("fixed.tidemark"), incident = dir.file("incident.tidemark");
    record("incident_fixed.js", fixed);
    record("incident.js", incident);
    const ProcessResult same = run_cli({"check", fixed, "--baseline", fixed});
    INFO(same.out << same.err);
    CHECK(same.exit_code == 0);
    CHECK(same.out.find("PASS baseline-peak-rss") != std::string::npos);
    // The incident buffers tens of MB more than its fix: over any reasonable tolerance.
    const ProcessResult worse = run_cli({"check", incident, "--baseline", fixed, "--fail-on", "none"});
    INFO(worse.out << worse.err);
    CHECK(worse.exit_code == 1);
    CHECK(worse.out.find("FAIL baseline-peak-rss") != std::string::npos);
    CHECK(worse.out.find("FAIL baseline-peak-external") != std::string::npos);
}

TEST_CASE("gate: unreadable input and bad values exit 2 with a message saying what is wrong") {
    TempDir dir;
    const ProcessResult missing = run_cli({"check", dir.file("nope.tidemark")});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("nope.tidemark") != std::string::npos);

    std::mt19937 rng(42);
    std::string noise(4096, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    write_file(dir.file("random.tidemark"), noise);
    const ProcessResult random = run_cli({"check", dir.file("random.tidemark")});
    CHECK(random.exit_code == 2);
    CHECK(random.err.find("not a tidemark trace") != std::string::npos);

    const std::string trace = dir.file("hold.tidemark");
    record("hold_20mb.js", trace);
    const ProcessResult bad_size = run_cli({"check", trace, "--max-peak-rss", "12XB"});
    CHECK(bad_size.exit_code == 2);
    CHECK(bad_size.err.find("--max-peak-rss: '12XB'") != std::string::npos);
    CHECK(bad_size.err.find("e.g. 256MB") != std::string::npos);
    const ProcessResult bad_rate = run_cli({"check", trace, "--max-growth", "2MB"});
    CHECK(bad_rate.exit_code == 2);
    CHECK(bad_rate.err.find("e.g. 2MB/min") != std::string::npos);
    const ProcessResult bad_kind = run_cli({"check", trace, "--fail-on", "leaks"});
    CHECK(bad_kind.exit_code == 2);
    CHECK(bad_kind.err.find("'leaks' is not a finding kind") != std::string::npos);
    const ProcessResult bad_baseline = run_cli({"check", trace, "--baseline", dir.file("random.tidemark")});
    CHECK(bad_baseline.exit_code == 2);
    CHECK(bad_baseline.err.find("--baseline") != std::string::npos);
}

// The gate and the findings judge growth on the same post-collection floors (timeline/gc_floors.h):
// a leak with no garbage churn fails both ways, a cache that fills and then evicts passes both.
TEST_CASE("gate: run --check fails a JS heap leak and a Buffer leak with no churn, passes a bounded cache") {
    const std::string robust = std::string(TIDEMARK_FIXTURES) + "/robust/";
    struct Case { const char* fixture; int exit_code; const char* says; };
    for (const Case c : {Case{"heap_leak_nochurn.js", 1, "FAIL heap-growth"},
                         Case{"buffer_leak_nochurn.js", 1, "FAIL external-growth"},
                         Case{"bounded_cache_fill.js", 0, "PASS max-growth-heap"}}) {
        TempDir dir;
        SpawnOptions opt;
        opt.timeout_s = 90;  // the fixtures run 25-30 s
        const ProcessResult r = run_cli({"run", "--out", dir.file("t.tidemark"), "--check", "--max-growth",
                                          "heap=10MB/min", "--max-growth", "external=10MB/min", "--", "node",
                                          robust + c.fixture}, opt);
        INFO(c.fixture << "\n" << r.err);
        CHECK(r.exit_code == c.exit_code);
        CHECK(r.err.find(c.says) != std::string::npos);
        if (c.exit_code == 0) CHECK(r.err.find("post-collection floors") != std::string::npos);  // 13 majors
    }
}

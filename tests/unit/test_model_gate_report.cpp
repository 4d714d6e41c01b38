// Unit tests for the gate's verdict output (model/gate_report.h): the human summary says what
// failed and by how much, JSON carries the numbers, JUnit escapes hostile text, markdown tables
// survive pipes.
#include <catch2/catch.hpp>

#include "tidemark/model/gate/report.h"

using namespace tidemark::model;

namespace {

GateResult sample_result() {
    GateResult r;
    r.duration_s = 6.5;
    r.warmup_s = 2;
    r.processes = 1;
    r.samples = 65;
    BudgetResult peak;
    peak.name = "max-peak-rss";
    peak.passed = false;
    peak.measured = 412e6;
    peak.limit = 256e6;
    peak.unit = "bytes";
    peak.at_s = 12.4;
    peak.message = "412.0 MB > 256MB budget, 156.0 MB over (+61%) (peak at t=12.4 s, pid 1)";
    r.budgets.push_back(peak);
    BudgetResult growth;
    growth.name = "max-growth-heap";
    growth.judged = false;
    growth.message = "not judged: too short";
    r.budgets.push_back(growth);
    FindingVerdict v;
    v.outcome = FindingOutcome::Fails;
    v.finding.kind = FindingKind::IgnoredBackpressure;
    v.finding.severity = Severity::Error;
    // Hostile text from the target: markup, quotes, a control character, invalid UTF-8, a pipe.
    v.finding.message = "write() on <Sink \"a&b\"> 'x' | y\x01z\xff end";
    v.finding.site = "/app/up.js:42";
    v.finding.fix = "use pipeline()";
    r.findings.push_back(v);
    FindingVerdict allowed = v;
    allowed.outcome = FindingOutcome::Allowed;
    allowed.reason = "allowed by --allow ignored-backpressure@up.js:42";
    r.findings.push_back(allowed);
    return r;
}

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("xml_escape escapes markup and quotes replaces forbidden and invalid bytes") {
    CHECK(xml_escape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
    CHECK(xml_escape("x\x01y") == "x\xEF\xBF\xBDy");
    CHECK(xml_escape("bad \xff\xfe byte") == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
    CHECK(xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    CHECK(xml_escape("line\nbreak\ttab") == "line&#10;break&#9;tab");
    CHECK(xml_escape("µs → ok") == "µs → ok");
}

TEST_CASE("JUnit: one test case per budget and per finding failures carry the message") {
    const std::string xml = gate_junit(sample_result());
    CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0) == 0);
    CHECK(count(xml, "<testcase ") == 4);
    CHECK(count(xml, "<failure ") == 2);
    CHECK(count(xml, "<skipped ") == 2);
    CHECK(xml.find("tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"2\"") != std::string::npos);
    CHECK(xml.find("name=\"max-peak-rss\"") != std::string::npos);
    CHECK(xml.find("412.0 MB &gt; 256MB budget") != std::string::npos);
    CHECK(xml.find("&lt;Sink &quot;a&amp;b&quot;&gt;") != std::string::npos);
    CHECK(xml.find('\x01') == std::string::npos);
    CHECK(xml.find('\xff') == std::string::npos);
    CHECK(xml.find("name=\"ignored-backpressure @ /app/up.js:42 (2)\"") != std::string::npos);  // unique names
}

TEST_CASE("text summary: what failed by how much where and the verdict last") {
    const std::string text = gate_text(sample_result());
    CHECK(text.find("FAIL max-peak-rss: 412.0 MB > 256MB budget") != std::string::npos);
    CHECK(text.find("SKIP max-growth-heap") != std::string::npos);
    CHECK(text.find("FAIL ignored-backpressure (error)") != std::string::npos);
    CHECK(text.find("at /app/up.js:42") != std::string::npos);
    CHECK(text.find("fix: use pipeline()") != std::string::npos);
    CHECK(text.find("ALLOWED ignored-backpressure") != std::string::npos);
    CHECK(text.find("tidemark gate FAILED: 2 failures") != std::string::npos);
}

TEST_CASE("JSON carries status numbers and outcome for each item") {
    const auto j = gate_json_value(sample_result());
    CHECK(j["passed"] == false);
    CHECK(j["failures"] == 2);
    CHECK(j["budgets"][0]["status"] == "fail");
    CHECK(j["budgets"][0]["measured"] == 412e6);
    CHECK(j["budgets"][1]["status"] == "not-judged");
    CHECK(j["findings"][0]["outcome"] == "fail");
    CHECK(j["findings"][1]["outcome"] == "allowed");
    const std::string text = gate_json(sample_result());  // invalid UTF-8 must not throw
    CHECK(nlohmann::json::parse(text)["findings"].size() == 2);
}

TEST_CASE("markdown: a table row per item — a pipe in a message does not split the row") {
    const std::string md = gate_markdown(sample_result());
    CHECK(md.find("## tidemark memory gate: ❌ failed") != std::string::npos);
    CHECK(md.find("\\|") != std::string::npos);
    CHECK(md.find("&lt;Sink") != std::string::npos);
    for (size_t at = md.find("| ❌ | ignored"); at != std::string::npos; at = std::string::npos) {
        const std::string row = md.substr(at, md.find('\n', at) - at);
        size_t unescaped = 0;
        for (size_t i = 0; i < row.size(); ++i) unescaped += row[i] == '|' && (i == 0 || row[i - 1] != '\\');
        CHECK(unescaped == 6);
    }
}

TEST_CASE("a passing result with nothing to report still says so in every form") {
    GateResult r;
    r.processes = 1;
    r.samples = 10;
    CHECK(gate_text(r).find("tidemark gate PASSED: 0 failures") != std::string::npos);
    CHECK(count(gate_junit(r), "<testcase ") == 1);
    CHECK(gate_markdown(r).find("✅ passed") != std::string::npos);
}

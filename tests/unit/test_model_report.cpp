// Report tests: the JSON report carries every key PRODUCT.md promises with the timeline's numbers;
// the text report puts findings first (most severe first) with evidence and fix, then the process
// summary and a capped stream table; Markdown and JUnit carry the same findings.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "model/report.h"

using namespace tidemark;
using namespace tidemark::model;

namespace {

constexpr uint64_t kStart = 1'700'000'000'000'000ull;
constexpr uint64_t ms(uint64_t n) { return kStart + n * 1000; }

Timeline sample_timeline(int extra_streams = 0, bool child = false) {
    Timeline t;
    t.set_start_us(kStart);
    proto::Hello h; h.t_us = ms(0); h.pid = 321; h.runtime = proto::Runtime::Node; h.cmdline = "node app.js";
    t.apply(h);
    t.apply(proto::StringDef{ms(0), 1, "Writable"});
    t.apply(proto::StringDef{ms(0), 2, "app.js:7"});
    t.apply(proto::StringDef{ms(0), 3, "app.js:19"});
    t.apply(proto::StringDef{ms(0), 4, "Readable"});
    t.apply(proto::ProcessSample{ms(100), 0, 10'000'000, 4'000'000, 8'000'000, 1'000, 500, 0, 0, 0});
    t.apply(proto::ProcessSample{ms(5000), 0, 90'000'000, 5'000'000, 8'000'000, 70'000'000, 69'000'000, 0, 0, 0});
    proto::StreamCreated w; w.t_us = ms(50); w.id = 1; w.kind = proto::kKindWritable; w.type_str = 1;
    w.site_str = 2; w.writable_hwm = 16384;
    t.apply(w);
    proto::StreamCreated r; r.t_us = ms(60); r.id = 2; r.kind = proto::kKindReadable; r.type_str = 4;
    r.readable_hwm = 65536;
    t.apply(r);
    proto::StreamSample s; s.t_us = ms(200); s.id = 1; s.flags = uint32_t(proto::Flowing::Null);
    s.writable_length = 60'000'000; s.writes_after_false = 1234;
    t.apply(s);
    proto::StreamSample rs; rs.t_us = ms(200); rs.id = 2; rs.flags = uint32_t(proto::Flowing::Paused);
    rs.readable_length = 10;
    t.apply(rs);
    rs.t_us = ms(300); rs.flags = uint32_t(proto::Flowing::Flowing);
    t.apply(rs);
    t.apply(proto::StreamEvent{ms(250), 2, proto::StreamEventKind::Pipe, 1, 0});
    for (int i = 0; i < extra_streams; ++i) {
        proto::StreamCreated c; c.t_us = ms(400); c.id = 100 + uint64_t(i); c.kind = proto::kKindReadable; c.type_str = 4;
        t.apply(c);
    }
    if (child) {
        proto::Hello ch; ch.t_us = ms(1000); ch.pid = 322; ch.ppid = 321; ch.proc = 1; ch.cmdline = "node worker.js";
        t.apply(ch);
        t.apply(proto::ProcessSample{ms(1100), 1, 5'000'000, 1, 1, 1, 1, 0, 0, 0});
        t.apply(proto::ProcessExit{ms(2000), 1, 3, 0});
    }
    t.apply(proto::Dropped{ms(5000), 0, 7});
    t.apply(proto::ProcessExit{ms(5100), 0, -1, 9});
    return t;
}

std::vector<Finding> sample_findings() {
    Finding warn;
    warn.kind = "external-growth";
    warn.severity = Severity::Warning;
    warn.message = "external memory climbs while the heap stays flat";
    warn.fix = "look for Buffers kept alive";
    warn.onset_s = 0.5;
    warn.evidence = {{"external_slope_bytes_per_s", 14'000'000}, {"r2", 0.97}};
    Finding err;
    err.kind = "ignored-backpressure";
    err.severity = Severity::Error;
    err.message = "Writable #1 created at app.js:7 kept receiving write() after it returned false";
    err.fix = "wait for 'drain' before writing again, or use pipeline()";
    err.onset_s = 1.5;
    err.evidence = {{"peak_writable_length_bytes", 60'000'000}, {"writes_after_false", 1234}};
    err.stream = FindingStream{1, "Writable", "app.js:7"};
    err.site = "app.js:19";
    return {warn, err};
}

}  // namespace

TEST_CASE("json report carries the keys PRODUCT.md lists", "[model][report]") {
    const Timeline t = sample_timeline();
    const std::string text = report_json(t, sample_findings());
    CHECK_THAT(text, Catch::Contains("\"writes_after_false\": 1234\n") && Catch::Contains("\"r2\": 0.97"));
    const auto j = nlohmann::json::parse(text);

    const auto& p = j.at("process");
    CHECK(p.at("duration_s").get<double>() == Approx(5.1));
    CHECK(p.at("samples") == 2);
    CHECK(p.at("peak_rss_bytes") == 90'000'000);
    CHECK(p.at("peak_heap_used_bytes") == 5'000'000);
    CHECK(p.at("peak_external_bytes") == 70'000'000);
    CHECK(p.at("peak_array_buffers_bytes") == 69'000'000);
    CHECK(p.at("exit") == nlohmann::json{{"signal", 9}});
    CHECK(p.at("dropped") == 7);
    CHECK_FALSE(j.contains("processes"));  // one process: no array

    const auto& streams = j.at("streams");
    REQUIRE(streams.size() == 2);
    const auto& w = streams[0];
    CHECK(w.at("id") == 1);
    CHECK(w.at("type") == "Writable");
    CHECK(w.at("created_at") == "app.js:7");
    CHECK(w.at("readable_high_water_mark") == 0);
    CHECK(w.at("writable_high_water_mark") == 16384);
    CHECK(w.at("peak_readable_length") == 0);
    CHECK(w.at("peak_writable_length") == 60'000'000);
    CHECK(w.at("flowing_modes_seen") == nlohmann::json::array());  // a pure writable has no readableFlowing
    CHECK(w.at("writes_after_false") == 1234);
    CHECK(w.at("piped_to") == nlohmann::json::array());
    CHECK(w.at("pid") == 321);
    const auto& r = streams[1];
    CHECK(r.at("created_at").is_null());
    CHECK(r.at("flowing_modes_seen") == nlohmann::json::array({false, true}));
    CHECK(r.at("piped_to") == nlohmann::json::array({1}));

    const auto& findings = j.at("findings");
    REQUIRE(findings.size() == 2);
    const auto& f = findings[0];  // most severe first
    CHECK(f.at("kind") == "ignored-backpressure");
    CHECK(f.at("severity") == "error");
    CHECK(f.at("message").get<std::string>().find("write()") != std::string::npos);
    CHECK(f.at("onset_s").get<double>() == Approx(1.5));
    CHECK(f.at("evidence").at("writes_after_false") == 1234);
    CHECK(f.at("stream") == nlohmann::json{{"id", 1}, {"type", "Writable"}, {"created_at", "app.js:7"}});
    CHECK(f.at("site") == "app.js:19");
    CHECK(f.at("fix").get<std::string>().find("drain") != std::string::npos);
    CHECK(findings[1].at("severity") == "warning");
    CHECK_FALSE(findings[1].contains("stream"));
    CHECK_FALSE(findings[1].contains("site"));
}

TEST_CASE("json report lists every process when children were tracked", "[model][report]") {
    const auto j = report_json_value(sample_timeline(0, true), {});
    REQUIRE(j.contains("processes"));
    REQUIRE(j.at("processes").size() == 2);
    CHECK(j.at("process").at("pid") == 321);
    const auto& child = j.at("processes")[1];
    CHECK(child.at("pid") == 322);
    CHECK(child.at("exit") == nlohmann::json{{"code", 3}});
    CHECK(child.at("duration_s").get<double>() == Approx(1.0));
    CHECK(j.at("findings").empty());
}

TEST_CASE("text report: findings first — then process and a capped stream table", "[model][report]") {
    const std::string text = report_text(sample_timeline(30), sample_findings());
    const auto err = text.find("ERROR  ignored-backpressure");
    const auto warn = text.find("WARNING  external-growth");
    const auto proc = text.find("Process node app.js (pid 321)");
    const auto table = text.find("Streams: 32 seen");
    REQUIRE(err != std::string::npos);
    REQUIRE(warn != std::string::npos);
    REQUIRE(proc != std::string::npos);
    REQUIRE(table != std::string::npos);
    CHECK(err < warn);
    CHECK(warn < proc);
    CHECK(proc < table);
    CHECK_THAT(text, Catch::Contains("evidence: peak_writable_length_bytes=57 MiB writes_after_false=1234"));
    CHECK_THAT(text, Catch::Contains("fix:      wait for 'drain'"));
    CHECK_THAT(text, Catch::Contains("site:     app.js:19"));
    CHECK_THAT(text, Catch::Contains("peak rss 86 MiB"));
    CHECK_THAT(text, Catch::Contains("killed by signal 9"));
    CHECK_THAT(text, Catch::Contains("… 12 more"));
    // The stream holding the most bytes heads the table.
    const auto first_row = text.find('\n', text.find("CREATED AT", table)) + 1;
    CHECK(text.substr(first_row, 40).find("1 ") != std::string::npos);
    CHECK(text.substr(first_row, 80).find("Writable") != std::string::npos);

    CHECK_THAT(report_text(sample_timeline(), {}), Catch::Contains("No findings."));
}

TEST_CASE("markdown and junit reports carry the findings", "[model][report]") {
    const Timeline t = sample_timeline(25);
    const std::string md = report_markdown(t, sample_findings());
    CHECK_THAT(md, Catch::Contains("### Findings (2)") && Catch::Contains("`ignored-backpressure`") &&
                       Catch::Contains("site: `app.js:19`") && Catch::Contains("### Streams (27") &&
                       Catch::Contains("… 7 more"));
    const std::string xml = report_junit(t, sample_findings());
    CHECK_THAT(xml, Catch::Contains("tests=\"2\" failures=\"1\"") &&
                        Catch::Contains("<failure type=\"ignored-backpressure\"") &&
                        Catch::Contains("fix: wait for 'drain' before writing again"));
    CHECK_THAT(report_junit(t, {}), Catch::Contains("name=\"no findings\""));
}

TEST_CASE("format_bytes reads like a person would write it", "[model][report]") {
    CHECK(format_bytes(312) == "312 B");
    CHECK(format_bytes(16384) == "16 KiB");
    CHECK(format_bytes(1.5 * 1024 * 1024) == "1.5 MiB");
}

// Report tests: the JSON report carries every key PRODUCT.md promises with the timeline's numbers;
// the text report puts findings first (most severe first) with evidence and fix, then the process
// summary and a capped stream table; Markdown and JUnit carry the same findings.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tidemark/model/report/report.h"

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
    warn.kind = model::FindingKind::ExternalGrowth;
    warn.severity = Severity::Warning;
    warn.message = "external memory climbs while the heap stays flat";
    warn.fix = "look for Buffers kept alive";
    warn.onset_s = 0.5;
    warn.evidence = {{"external_slope_bytes_per_s", 14'000'000}, {"r2", 0.97}};
    Finding err;
    err.kind = model::FindingKind::IgnoredBackpressure;
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

namespace {

// sample_timeline plus a worker thread of pid 321 (proc 1, threadId 1) with one tracked stream,
// and three folded keys: two in the main thread, one in the worker.
Timeline timeline_with_aggregates(int extra_keys = 0) {
    Timeline t = sample_timeline();
    proto::Hello w; w.t_us = ms(1000); w.pid = 321; w.ppid = 1; w.proc = 1; w.thread_id = 1;
    w.runtime = proto::Runtime::Node; w.cmdline = "node app.js";
    t.apply(w);
    t.apply(proto::StringDef{ms(1000), 5, "IncomingMessage"});
    t.apply(proto::StringDef{ms(1000), 6, "server.js:10"});
    t.apply(proto::StringDef{ms(1000), 7, "ReadableStream"});
    t.apply(proto::StringDef{ms(1000), 8, "worker.js:3"});
    proto::StreamCreated ws; ws.t_us = ms(1100); ws.proc = 1; ws.id = 9; ws.type_str = 7; ws.site_str = 8;
    ws.kind = proto::kKindReadable | proto::kKindWeb | proto::kKindSiteInferred; ws.readable_hwm = 1;
    t.apply(ws);
    proto::StreamCreated us; us.t_us = ms(1200); us.id = 10; us.type_str = 4; us.site_str = 3;
    us.kind = proto::kKindReadable | proto::kKindUserland; us.readable_hwm = 16384;
    t.apply(us);

    proto::StreamAggregate a;  // IncomingMessage at server.js:10, main thread: superseded below
    a.t_us = ms(1500); a.proc = 0; a.type_str = 5; a.site_str = 6; a.kind = proto::kKindReadable;
    a.created = 100; a.promoted = 1; a.retired = 90; a.bytes_pushed = 5000; a.readable_hwm = 16384;
    a.lifetime_hist[0] = 90;
    t.apply(a);
    a.t_us = ms(2500); a.created = 1200; a.promoted = 2; a.retired = 1190; a.site_inferred = 40;
    a.bytes_pushed = 1'200'000; a.push_calls = 2400; a.peak_readable_length = 8192;
    a.lifetime_hist[0] = 300; a.lifetime_hist[1] = 800; a.lifetime_hist[2] = 90;
    t.apply(a);
    proto::StreamAggregate b;  // Writable at app.js:7, main thread
    b.t_us = ms(2000); b.proc = 0; b.type_str = 1; b.site_str = 2; b.kind = proto::kKindWritable;
    b.created = 30; b.retired = 30; b.bytes_in = 3000; b.write_calls = 60; b.peak_writable_length = 100;
    b.writable_hwm = 16384; b.lifetime_hist[5] = 30;
    t.apply(b);
    proto::StreamAggregate c;  // ReadableStream at worker.js:3, in the worker
    c.t_us = ms(2200); c.proc = 1; c.type_str = 7; c.site_str = 8; c.kind = proto::kKindReadable | proto::kKindWeb;
    c.created = 500; c.promoted = 1; c.retired = 499; c.bytes_pushed = 499; c.readable_hwm = 1;
    c.lifetime_hist[3] = 499;
    t.apply(c);
    for (int i = 0; i < extra_keys; ++i) {
        const uint32_t site = 100 + uint32_t(i);
        t.apply(proto::StringDef{ms(3000), site, "gen.js:" + std::to_string(i + 1)});
        proto::StreamAggregate x;
        x.t_us = ms(3000); x.proc = 0; x.type_str = 4; x.site_str = site; x.kind = proto::kKindReadable;
        x.created = 2; x.retired = 2; x.lifetime_hist[0] = 2;
        t.apply(x);
    }
    t.apply(proto::Goodbye{ms(4000), 1, 0});
    return t;
}

}  // namespace

TEST_CASE("json report: stream_aggregates by count with the latest numbers of each key", "[model][report]") {
    const auto j = nlohmann::json::parse(report_json(timeline_with_aggregates(), {}));
    const auto& aggs = j.at("stream_aggregates");
    REQUIRE(aggs.size() == 3);
    const auto& im = aggs[0];  // most streams first
    CHECK(im.at("type") == "IncomingMessage");
    CHECK(im.at("created_at") == "server.js:10");
    CHECK(im.at("pid") == 321);
    CHECK(im.at("thread") == 0);
    CHECK(im.at("api") == "node");
    CHECK(im.at("count") == 1200);  // the later record superseded created = 100
    CHECK(im.at("tracked") == 2);
    CHECK(im.at("retired") == 1190);
    CHECK(im.at("site_inferred") == 40);
    CHECK(im.at("bytes_in") == 0);
    CHECK(im.at("bytes_pushed") == 1'200'000);
    CHECK(im.at("write_calls") == 0);
    CHECK(im.at("push_calls") == 2400);
    CHECK(im.at("peak_readable_length") == 8192);
    CHECK(im.at("peak_writable_length") == 0);
    CHECK(im.at("readable_high_water_mark") == 16384);
    CHECK(im.at("writable_high_water_mark") == 0);
    CHECK(im.at("lifetime_histogram") == nlohmann::json::array({300, 800, 90, 0, 0, 0}));
    CHECK(im.at("first_s").get<double>() == Approx(1.5));
    CHECK(im.at("updated_s").get<double>() == Approx(2.5));
    const auto& web = aggs[1];
    CHECK(web.at("type") == "ReadableStream");
    CHECK(web.at("count") == 500);
    CHECK(web.at("thread") == 1);
    CHECK(web.at("pid") == 321);
    CHECK(web.at("api") == "web");
    const auto& w = aggs[2];
    CHECK(w.at("type") == "Writable");
    CHECK(w.at("count") == 30);
    CHECK(w.at("bytes_in") == 3000);
    CHECK(w.at("write_calls") == 60);
    CHECK(w.at("lifetime_histogram") == nlohmann::json::array({0, 0, 0, 0, 0, 30}));

    // Streams say which thread and which stream API they belong to and whether their site was inferred.
    const auto& streams = j.at("streams");
    REQUIRE(streams.size() == 4);
    CHECK(streams[0].at("thread") == 0);
    CHECK(streams[0].at("api") == "node");
    CHECK(streams[0].at("site_inferred") == false);
    CHECK(streams[2].at("id") == 9);
    CHECK(streams[2].at("thread") == 1);
    CHECK(streams[2].at("pid") == 321);
    CHECK(streams[2].at("api") == "web");
    CHECK(streams[2].at("site_inferred") == true);
    CHECK(streams[3].at("api") == "readable-stream");

    // The worker is listed with the processes, as a thread of the main process's pid.
    CHECK(j.at("process").at("thread") == 0);
    REQUIRE(j.at("processes").size() == 2);
    CHECK(j.at("processes")[1].at("thread") == 1);
    CHECK(j.at("processes")[1].at("pid") == 321);
    CHECK(j.at("processes")[1].at("samples") == 0);

    // A trace without aggregates still has the key.
    CHECK(report_json_value(sample_timeline(), {}).at("stream_aggregates") == nlohmann::json::array());
}

TEST_CASE("text report: folded streams table after the streams — workers marked", "[model][report]") {
    const std::string text = report_text(timeline_with_aggregates(), {});
    INFO(text);
    const auto table = text.find("Streams: 4 seen");
    const auto folded = text.find("Short-lived streams folded by type and site: 3 kinds, 1727 streams");
    REQUIRE(table != std::string::npos);
    REQUIRE(folded != std::string::npos);
    CHECK(table < folded);
    CHECK_THAT(text, Catch::Contains("ReadableStream [worker 1]"));
    CHECK_THAT(text, Catch::Contains("worker.js:3 (inferred)"));
    CHECK_THAT(text, Catch::Contains("server.js:10 (site inferred for 40)"));
    CHECK_THAT(text, Catch::Contains("TYPE") && Catch::Contains("COUNT") && Catch::Contains("TRACKED") &&
                         Catch::Contains("LIFETIME"));
    // The IncomingMessage row: count, tracked, peaks, bytes and the median lifetime bucket.
    const auto row = text.find("IncomingMessage", folded);
    REQUIRE(row != std::string::npos);
    const std::string line = text.substr(row, text.find('\n', row) - row);
    CHECK_THAT(line, Catch::Contains("1200") && Catch::Contains("8.0 KiB / -") &&
                         Catch::Contains("1.1 MiB / -") && Catch::Contains("<10 ms"));
    // The worker appears as a thread of its process, not as another process.
    CHECK_THAT(text, Catch::Contains("Worker thread 1 of pid 321 (node app.js): 3.00 s, 1 stream tracked, 499 folded, exit code 0"));
    CHECK(text.find("Process node app.js (pid 321)") == text.rfind("Process node app.js (pid 321)"));
    CHECK(text.find("… and") == std::string::npos);

    // Bounded: 20 rows by count, then how many more.
    const std::string many = report_text(timeline_with_aggregates(25), {});
    CHECK_THAT(many, Catch::Contains("28 kinds, 1777 streams") && Catch::Contains("… and 8 more"));
    ReportOptions few;
    few.max_aggregates_text = 2;
    CHECK_THAT(report_text(timeline_with_aggregates(), {}, few), Catch::Contains("… and 1 more"));
    // No aggregates: no section.
    CHECK(report_text(sample_timeline(), {}).find("Short-lived") == std::string::npos);
}

TEST_CASE("markdown report: folded streams and worker threads", "[model][report]") {
    const std::string md = report_markdown(timeline_with_aggregates(), {});
    CHECK_THAT(md, Catch::Contains("### Short-lived streams folded by type and site: 3 kinds, 1727 streams") &&
                       Catch::Contains("| IncomingMessage | server.js:10 (site inferred for 40) | 1200 | 2 |") &&
                       Catch::Contains("| 321 (worker thread 1) |") &&
                       Catch::Contains("ReadableStream [worker 1]"));
}

// A sampled recording too short for the detector: a site sampled five times climbs, and the text
// and JSON reports say it was too few to judge rather than leaving "No findings" to read as "no leak";
// a site sampled twenty times is judged and carries no mark.
TEST_CASE("native report: a sampled site with under 8 changes is marked too few to judge", "[report][native]") {
    Timeline t;
    t.set_start_us(kStart);
    proto::Hello h; h.t_us = ms(0); h.pid = 77; h.runtime = proto::Runtime::Native; h.interval_ms = 100; h.cmdline = "svc";
    t.apply(h);
    proto::NativeModules m; m.t_us = ms(0); m.generation = 1;
    t.apply(m);
    for (uint32_t site = 1; site <= 2; ++site) {
        proto::NativeStack st; st.t_us = ms(0); st.site = site; st.frames = {0x1000ull * site};
        t.apply(st);
    }
    constexpr uint64_t kSample = 512 * 1024;
    for (int i = 1; i <= 40; ++i) {
        proto::NativeSites s;
        s.t_us = ms(static_cast<uint64_t>(i) * 100);
        proto::NativeSiteCounters few;  // one more sample every 8th tick: 5 changes
        few.site = 1;
        few.alloc_bytes = kSample * static_cast<uint64_t>(i / 8);
        few.allocs = static_cast<uint64_t>(i / 8) * 128;
        proto::NativeSiteCounters many;  // one every other tick: 20 changes
        many.site = 2;
        many.alloc_bytes = kSample * static_cast<uint64_t>(i / 2);
        many.allocs = static_cast<uint64_t>(i / 2) * 128;
        // As the tracker does, a site is shipped only when its counters changed.
        if (i % 8 == 0) s.sites.push_back(few);
        if (i % 2 == 0) s.sites.push_back(many);
        t.apply(s);
        proto::NativeStatus st;
        st.t_us = s.t_us;
        st.mode = proto::NativeMode::Sampled;
        st.sample_interval_bytes = kSample;
        st.sites = 2;
        st.live_bytes = few.alloc_bytes + many.alloc_bytes;
        t.apply(st);
    }
    const std::string text = native_sites_text(t, 10);
    INFO(text);
    CHECK(text.find("(5 sampled changes: too few to judge whether it grows)") != std::string::npos);
    CHECK(text.find("20 sampled changes") == std::string::npos);
    CHECK(text.find("record longer, or sample more often with --native-sample-interval") != std::string::npos);
    const auto j = native_json(t, 10);
    REQUIRE(j.size() == 1);
    int marked = 0, judged = 0;
    for (const auto& s : j[0]["top_sites"]) {
        if (s["site"] == 1) { CHECK(s["too_few_samples"] == true); CHECK(s["series_points"] == 5); ++marked; }
        if (s["site"] == 2) { CHECK(s["too_few_samples"] == false); ++judged; }
    }
    CHECK(marked == 1);
    CHECK(judged == 1);
}

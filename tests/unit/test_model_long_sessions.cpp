// Long sessions (issue: bounded agent memory, incremental detection): series coarsen with age and
// keep their peaks, retired streams are judged then folded, the memory budget coarsens further
// and says so, and the incremental DetectionEngine reaches the findings detect() reaches on the
// whole timeline — live (records applied one by one) and replayed from a trace file alike.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <unistd.h>

#include "test_model_detectors_builder.h"
#include "tidemark/model/detect/analysis.h"
#include "tidemark/model/trace/writer.h"

using namespace tidemark;
using namespace tidemark::test;
using proto::CallSiteKind;
using proto::StreamEventKind;

namespace {

std::vector<std::string> signature(const std::vector<model::Finding>& findings) {
    std::vector<std::string> out;
    for (const auto& f : findings) {
        char onset[32];
        std::snprintf(onset, sizeof onset, "%.3f", f.onset_s);
        out.push_back(model::finding_key(f) + "|" + model::severity_name(f.severity) + "|" + onset + "|" + f.message);
    }
    return out;
}

// The builder writes each stream's story in turn; the agent receives records in time order.
std::vector<proto::Record> by_time(std::vector<proto::Record> records) {
    std::stable_sort(records.begin(), records.end(), [](const proto::Record& a, const proto::Record& b) {
        return proto::record_time_us(a) < proto::record_time_us(b);
    });
    return records;
}

model::Analysis replay(const std::vector<proto::Record>& records, const model::Timeline::Limits& limits = {}) {
    model::Analysis a(limits);
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    for (const auto& r : by_time(records)) a.apply(r);
    a.finish();
    return a;
}

// An incident with something for most detectors, plus churn: 40 s of a writable whose writes
// ignore false, a parked readable nobody reads, a heap that climbs, 300 idle streams, and 60
// short-lived streams retiring early (folded long before the end), one of which ignored
// backpressure before it was destroyed.
TimelineBuilder incident() {
    TimelineBuilder b;
    b.created(7, proto::kKindWritable, "SlowSink", "/srv/app/upload.js:12");
    b.created(11, proto::kKindReadable, "Readable", "/srv/app/feed.js:3");
    b.state(11).readable_length = 16384;
    b.sample(0.2, 11);
    for (uint64_t id = 100; id < 400; ++id) {
        b.created(id, proto::kKindReadable | proto::kKindWritable, "Socket", "/srv/app/server.js:40", 0.1);
        b.sample(0.1, id);
    }
    for (uint64_t id = 1000; id < 1060; ++id) {
        const double t0 = 0.5 + 0.05 * static_cast<double>(id - 1000);
        b.created(id, proto::kKindWritable, "PassThrough", "/srv/app/job.js:21", t0);
        b.state(id).write_calls = 3;
        b.state(id).bytes_in = 3000;
        b.sample(t0 + 0.1, id);
        b.state(id).flags = proto::kFlagFinished;
        b.sample(t0 + 0.2, id);
        b.event(t0 + 0.2, id, StreamEventKind::Finish);
        b.event(t0 + 0.3, id, StreamEventKind::Destroy);
    }
    // A job stream that ignored false, then was destroyed at 9 s.
    b.created(2000, proto::kKindWritable, "Writable", "/srv/app/export.js:8", 1.0);
    auto& j = b.state(2000);
    for (int i = 0; i < 70; ++i) {
        const double t = 1.0 + 0.1 * i;
        j.writable_length += 300 * 1024;
        j.writes_after_false += 5;
        j.write_calls += 5;
        j.flags = proto::kFlagNeedDrain;
        if (i == 0) b.call_site(t, 2000, CallSiteKind::WriteAfterFalse, "/srv/app/export.js:30", 1);
        b.sample(t, 2000);
    }
    j.flags = proto::kFlagDestroyed;
    b.sample(8.1, 2000);
    b.event(8.1, 2000, StreamEventKind::Destroy);
    b.event(8.2, 2000, StreamEventKind::Gone);

    auto& s = b.state(7);
    for (int i = 1; i <= 400; ++i) {
        const double t = i * 0.1;
        if (i >= 30) {
            s.writable_length += 200 * 1024;
            s.writes_after_false += 4;
            s.write_calls += 4;
            s.flags = proto::kFlagNeedDrain;
            if (i == 30) b.call_site(t, 7, CallSiteKind::WriteAfterFalse, "/srv/app/upload.js:31", 1);
        }
        b.sample(t, 7);
        b.process(t, static_cast<uint64_t>(20e6 + 2.5e6 * t + 3e6 * ((i % 12) / 12.0)), 2'000'000 + s.writable_length);
    }
    return b;
}

}  // namespace

TEST_CASE("long sessions: a stream's history coarsens with age and keeps its peaks", "[timeline][long]") {
    model::Timeline::Limits limits;
    limits.max_points = 256;
    model::Timeline tl(limits);
    tl.set_start_us(TimelineBuilder::kStartUs);
    proto::StreamCreated c;
    c.t_us = TimelineBuilder::kStartUs;
    c.id = 1;
    c.kind = proto::kKindWritable;
    tl.apply(c);
    proto::StreamSample x;
    x.id = 1;
    for (int i = 0; i < 20000; ++i) {
        x.t_us = TimelineBuilder::us(i * 0.1);
        x.write_calls = static_cast<uint64_t>(i);
        x.writable_length = i == 500 ? 9'000'000 : static_cast<uint64_t>(i % 7) * 1000;  // one early spike
        tl.apply(x);
    }
    const model::StreamInfo* s = tl.stream(1);
    REQUIRE(s);
    CHECK(s->samples.size() <= 256);
    CHECK(s->coarsened);
    CHECK(s->sample_count == 20000);
    CHECK(s->peak_writable_length == 9'000'000);
    uint64_t peak_in_points = 0;
    for (const auto& p : s->samples) peak_in_points = std::max(peak_in_points, p.s.writable_length);
    CHECK(peak_in_points == 9'000'000);  // the spike survives as a bucket's maximum
    // The newest points are raw: the last one is the last sample, at its own time.
    CHECK(s->samples.back().s.write_calls == 19999);
    CHECK(s->samples.back().t_s == Approx(1999.9));
    const double newest_gap = s->samples[s->samples.size() - 1].t_s - s->samples[s->samples.size() - 2].t_s;
    const double oldest_gap = s->samples[1].t_s - s->samples[0].t_s;
    CHECK(newest_gap == Approx(0.1).margin(1e-6));
    CHECK(oldest_gap > 10 * newest_gap);  // older history is coarser
    // Times stay ordered.
    for (size_t i = 1; i < s->samples.size(); ++i) CHECK(s->samples[i - 1].t_s < s->samples[i].t_s);
}

TEST_CASE("long sessions: process series keep count, extremes and decreasing resolution", "[timeline][long]") {
    model::Timeline::Limits limits;
    limits.max_process_points = 512;
    model::Timeline tl(limits);
    tl.set_start_us(TimelineBuilder::kStartUs);
    proto::ProcessSample p;
    for (int i = 0; i < 36000; ++i) {  // an hour at 10 samples/s
        p.t_us = TimelineBuilder::us(i * 0.1);
        p.heap_used_bytes = 10'000'000 + static_cast<uint64_t>(i % 50) * 100'000;  // a GC sawtooth
        p.rss_bytes = i == 1234 ? 900'000'000 : 50'000'000;
        p.external_bytes = 1'000'000;
        tl.apply(p);
    }
    const model::ProcessInfo& proc = tl.processes().at(0);
    CHECK(proc.samples.size() <= 512);
    CHECK(proc.sample_count == 36000);
    uint64_t merged = 0, peak_rss = 0, heap_min = UINT64_MAX, heap_max = 0;
    for (const auto& pt : proc.samples) {
        merged += pt.merged;
        peak_rss = std::max(peak_rss, pt.rss_max);
        heap_min = std::min(heap_min, pt.heap_used_min);
        heap_max = std::max(heap_max, pt.heap_used_max);
    }
    CHECK(merged == 36000);
    CHECK(peak_rss == 900'000'000);
    CHECK(heap_min == 10'000'000);
    CHECK(heap_max == 10'000'000 + 49 * 100'000);
    CHECK(proc.samples.front().merged > proc.samples.back().merged);
    CHECK(proc.samples.back().merged == 1);
}

TEST_CASE("long sessions: retired streams are judged, folded, and totalled past the listed detail",
          "[timeline][long][engine]") {
    model::Timeline::Limits limits;
    limits.max_retired_detail = 100;
    model::Analysis a(limits);
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    uint32_t next_str = 1;
    auto def = [&](const std::string& text) {
        a.apply(proto::StringDef{TimelineBuilder::kStartUs, next_str, text});
        return next_str++;
    };
    const uint32_t type = def("IncomingMessage"), site = def("/srv/app/server.js:10");
    // 20,000 request streams over 200 s: each lives 0.3 s, holds a little data, then is destroyed.
    for (uint64_t i = 0; i < 20000; ++i) {
        const double t = 0.01 * static_cast<double>(i);
        proto::StreamCreated c;
        c.t_us = TimelineBuilder::us(t);
        c.id = i + 1;
        c.kind = proto::kKindReadable;
        c.type_str = type;
        c.site_str = site;
        a.apply(c);
        proto::StreamSample x;
        x.id = i + 1;
        x.t_us = TimelineBuilder::us(t + 0.1);
        x.readable_length = 512;
        x.bytes_pushed = 512;
        a.apply(x);
        x.t_us = TimelineBuilder::us(t + 0.3);
        x.readable_length = 0;
        x.flags = proto::kFlagReadableEnded | proto::kFlagDestroyed;
        a.apply(x);
        proto::StreamEvent e;
        e.t_us = x.t_us;
        e.id = i + 1;
        e.kind = StreamEventKind::Destroy;
        a.apply(e);
    }
    a.finish();
    const model::Timeline& tl = a.timeline();
    // Listed: the 100 most recently folded plus those retired within the linger (not folded yet).
    CHECK(tl.streams().size() <= 100 + 1100);
    CHECK(tl.retired_count() + tl.streams().size() == 20000);
    REQUIRE(tl.retired().size() == 1);
    const model::RetiredStreams& r = tl.retired()[0];
    CHECK(r.type == "IncomingMessage");
    CHECK(r.site == "/srv/app/server.js:10");
    CHECK(r.count == tl.retired_count());
    CHECK(r.peak_readable_length == 512);
    CHECK(r.bytes_pushed == 512 * r.count);
    CHECK(r.max_lifetime_s == Approx(0.3).margin(1e-3));
    for (const auto& s : tl.streams())
        if (s.folded) CHECK(s.samples.size() == 1);
    CHECK(a.engine().stats().streams_folded >= 18000);
    CHECK(a.findings().empty());
    CHECK(tl.estimated_bytes() < (8u << 20));
}

TEST_CASE("long sessions: at the memory budget the timeline coarsens further and says so", "[timeline][long]") {
    model::Timeline::Limits limits;
    limits.budget_bytes = 4u << 20;  // 4 MiB
    model::Analysis a(limits);
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    // 500 hot streams sampled 10 times a second for 120 s: ~600,000 distinct points raw.
    for (uint64_t id = 1; id <= 500; ++id) {
        proto::StreamCreated c;
        c.t_us = TimelineBuilder::kStartUs;
        c.id = id;
        c.kind = proto::kKindWritable;
        a.apply(c);
    }
    proto::StreamSample x;
    uint64_t peak_estimate = 0;
    for (int i = 0; i < 1200; ++i) {
        for (uint64_t id = 1; id <= 500; ++id) {
            x.id = id;
            x.t_us = TimelineBuilder::us(i * 0.1);
            x.write_calls = static_cast<uint64_t>(i);
            x.writable_length = static_cast<uint64_t>((i * 7 + id) % 13) * 100;
            a.apply(x);
        }
        if (i % 50 == 0) peak_estimate = std::max(peak_estimate, a.timeline().estimated_bytes());
    }
    a.finish();
    const model::Timeline& tl = a.timeline();
    REQUIRE_FALSE(tl.coarsenings().empty());
    CHECK(tl.limits().max_points < model::Timeline::Limits{}.max_points);
    // It stays near the budget: at most one tick's worth of growth past it.
    CHECK(peak_estimate < (6u << 20));
    CHECK(tl.estimated_bytes() < (5u << 20));
    bool noted = false;
    for (const auto& n : tl.notes()) noted |= n.text.find("memory budget of 4 MiB reached") != std::string::npos;
    CHECK(noted);
}

TEST_CASE("incremental engine: the same findings as detect() on the whole timeline", "[engine][long]") {
    TimelineBuilder b = incident();
    const auto whole = model::detect(b.tl);
    model::Analysis live = replay(b.records);
    const auto inc = live.findings();
    std::set<std::string> kinds;
    for (const auto& f : whole) kinds.insert(model::finding_kind_name(f.kind));
    CHECK(kinds.count("ignored-backpressure"));
    CHECK(kinds.count("no-consumer"));
    CHECK(signature(inc) == signature(whole));
    // The job stream that was destroyed at 8 s was folded, and its finding kept.
    const model::StreamInfo* job = live.timeline().stream(2000);
    REQUIRE(job);
    CHECK(job->folded);
    bool job_found = false;
    for (const auto& f : inc) job_found |= f.stream && f.stream->id == 2000 && f.kind == model::FindingKind::IgnoredBackpressure;
    CHECK(job_found);
    // Incremental: the 300 idle sockets were judged when they changed, not on every tick.
    const auto& st = live.engine().stats();
    CHECK(st.ticks >= 70);
    CHECK(st.streams_judged < st.ticks * 20 + 2 * 420);
}

TEST_CASE("incremental engine: live and replayed from the trace file give identical findings", "[engine][long][trace]") {
    TimelineBuilder b = incident();
    model::Analysis live = replay(b.records);
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("tidemark-live-replay-" + std::to_string(::getpid()) + ".tidemark")).string();
    {
        auto created = model::TraceWriter::create(path, TimelineBuilder::kStartUs);
        REQUIRE(created.status.ok());
        for (const auto& r : by_time(b.records)) REQUIRE(created.writer->append(r).ok());
        REQUIRE(created.writer->close().ok());
    }
    const model::AnalyzedTrace replayed = model::analyze_trace(path);
    std::filesystem::remove(path);
    REQUIRE(replayed.error.empty());
    CHECK_FALSE(live.findings().empty());
    CHECK(signature(replayed.analysis.findings()) == signature(live.findings()));
    CHECK(replayed.timeline().streams().size() == live.timeline().streams().size());
}

TEST_CASE("incremental engine: a finding prints within 2 s of onset when fed record by record", "[engine][live]") {
    TimelineBuilder b = incident();
    model::Analysis a;
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    std::optional<double> seen_at;
    for (const auto& r : by_time(b.records)) {
        a.apply(r);
        if (seen_at) continue;
        for (const auto& f : a.engine().findings())
            if (f.kind == model::FindingKind::IgnoredBackpressure && f.stream && f.stream->id == 7) seen_at = a.timeline().end_s();
    }
    REQUIRE(seen_at);
    CHECK(*seen_at - 3.0 <= 2.0);  // its writes after false began at 3.0 s
}

TEST_CASE("long sessions: streams dropped from the list stay dropped, and take their buffered bytes with them",
          "[timeline][long][engine]") {
    model::Timeline::Limits limits;
    limits.max_retired_detail = 50;
    model::Analysis a(limits);
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    a.apply(proto::StringDef{TimelineBuilder::kStartUs, 1, "Socket"});
    // 2,000 sockets over 100 s, each destroyed while it still holds 4 KiB (errored connections).
    for (uint64_t i = 0; i < 2000; ++i) {
        const double t = 0.05 * static_cast<double>(i);
        proto::StreamCreated c;
        c.t_us = TimelineBuilder::us(t);
        c.id = i + 1;
        c.kind = proto::kKindReadable | proto::kKindWritable;
        c.type_str = 1;
        a.apply(c);
        proto::StreamSample x;
        x.id = i + 1;
        x.t_us = TimelineBuilder::us(t + 0.02);
        x.writable_length = 4096;
        x.flags = proto::kFlagDestroyed | proto::kFlagErrored;
        a.apply(x);
        proto::ProcessSample p;
        p.t_us = TimelineBuilder::us(t + 0.03);
        p.heap_used_bytes = 10'000'000;
        a.apply(p);
    }
    const model::Timeline& tl = a.timeline();
    const uint64_t listed = tl.streams().size();
    const uint64_t dropped = tl.retired_count();
    REQUIRE(dropped > 1500);
    // Only listed streams still count in the process's buffered total.
    CHECK(tl.processes().at(0).samples.back().stream_buffered_bytes <= listed * 4096);
    // Late records about dropped streams (the collector's Gone, a call site) do not bring them back.
    for (uint64_t id = 1; id <= 100; ++id) {
        proto::StreamEvent e;
        e.t_us = TimelineBuilder::us(100.5);
        e.id = id;
        e.kind = StreamEventKind::Gone;
        a.apply(e);
        proto::CallSite cs;
        cs.t_us = TimelineBuilder::us(100.5);
        cs.id = id;
        cs.kind = CallSiteKind::WriteAfterFalse;
        a.apply(cs);
    }
    a.finish();
    CHECK(tl.streams().size() + tl.retired_count() == 2000);  // none came back as a placeholder
    for (const auto& st : tl.streams()) CHECK(st.type == "Socket");
    CHECK(tl.retired_count() >= dropped);
    REQUIRE(tl.retired().size() == 1);
    CHECK(tl.retired()[0].type == "Socket");
}

TEST_CASE("long sessions: a process's streams retire when it ends", "[timeline][long]") {
    TimelineBuilder b;
    b.worker(0.1, 1, 7);
    b.created_in(1, 50, proto::kKindReadable, "Readable", "/srv/w.js:3", 0.2);
    b.sample(0.3, 50);
    model::Analysis a;
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    for (const auto& r : b.records) a.apply(r);
    proto::Goodbye g;
    g.t_us = TimelineBuilder::us(1.0);
    g.proc = 1;
    a.apply(g);
    const model::StreamInfo* s = a.timeline().stream(50);
    REQUIRE(s);
    REQUIRE(s->retired_s);
    CHECK(*s->retired_s == Approx(1.0));
}

TEST_CASE("incremental engine: the same mistake on thousands of retired streams is one counted finding",
          "[engine][long]") {
    model::Timeline::Limits limits;
    limits.max_retired_detail = 20;
    model::Analysis a(limits);
    TimelineBuilder b;  // strings and records, replayed into the bounded analysis
    // Every "request" writes 3 MiB into its response ignoring false over 1.5 s, then ends.
    for (uint64_t i = 0; i < 120; ++i) {
        const double t0 = 0.5 * static_cast<double>(i);
        const uint64_t id = 100 + i;
        b.created(id, proto::kKindWritable, "ServerResponse", "/srv/app/server.js:12", t0);
        auto& s = b.state(id);
        for (int k = 1; k <= 15; ++k) {
            s.writable_length += 200 * 1024;
            s.writes_after_false += 3;
            s.write_calls += 3;
            s.flags = proto::kFlagNeedDrain;
            if (k == 1) b.call_site(t0 + 0.1, id, CallSiteKind::WriteAfterFalse, "/srv/app/report.js:40", 1);
            b.sample(t0 + 0.1 * k, id);
        }
        s.flags = proto::kFlagDestroyed;
        b.sample(t0 + 1.6, id);
        b.event(t0 + 1.6, id, StreamEventKind::Destroy);
    }
    b.process(80, 10'000'000, 1'000'000);
    a.timeline().set_start_us(TimelineBuilder::kStartUs);
    for (const auto& r : by_time(b.records)) a.apply(r);
    a.finish();
    const auto all = a.findings();
    size_t ib = 0;
    double counted = 0;
    for (const auto& f : all) {
        if (f.kind != model::FindingKind::IgnoredBackpressure) continue;
        ++ib;
        for (const auto& [k, v] : f.evidence)
            if (k == "streams_with_this_finding") counted = v;
    }
    CHECK(ib <= 20 + 25);         // the listed ones (and those within the linger), plus one counted
    CHECK(counted >= 60);         // the dropped ones, as one finding that says how many
    CHECK(a.timeline().retired_count() >= 60);
}

TEST_CASE("long sessions: two long-lived streams that pipe and unpipe all day stay two edges", "[timeline][long]") {
    TimelineBuilder b;
    b.created(1, proto::kKindReadable, "Feed", "/srv/feed.js:1");
    b.created(2, proto::kKindWritable, "Client", "/srv/client.js:1");
    for (int i = 0; i < 5000; ++i) {
        b.event(0.1 + i * 0.2, 1, StreamEventKind::Pipe, 2);
        b.event(0.2 + i * 0.2, 1, StreamEventKind::Unpipe, 2);
    }
    b.event(1000.5, 1, StreamEventKind::Pipe, 2);
    const auto& edges = b.tl.edges();
    REQUIRE(edges.size() == 2);
    CHECK(edges[0].piped_s == Approx(0.1));
    CHECK(edges[1].piped_s == Approx(1000.5));  // the latest pipe, still open
    CHECK_FALSE(edges[1].unpiped_s);
}

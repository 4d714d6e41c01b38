// Timeline tests: what apply() builds from each record type — process counters and exit, stream
// identity, collapsed sample runs with peaks, pipes, errors, call sites — and that applying a
// keyframe's repeated state changes nothing.
#include <catch2/catch.hpp>

#include "tidemark/model/timeline/timeline.h"

using namespace tidemark;
using namespace tidemark::model;

namespace {

constexpr uint64_t kStart = 1'700'000'000'000'000ull;
constexpr uint64_t ms(uint64_t n) { return kStart + n * 1000; }

proto::StreamSample sample(uint64_t t, uint64_t id, uint64_t readable, uint64_t writable, proto::Flowing f,
                           uint32_t extra = 0) {
    proto::StreamSample s;
    s.t_us = t;
    s.id = id;
    s.flags = uint32_t(f) | extra;
    s.readable_length = readable;
    s.writable_length = writable;
    return s;
}

std::vector<proto::Record> scenario() {
    std::vector<proto::Record> v;
    proto::Hello h; h.t_us = ms(0); h.pid = 10; h.ppid = 1; h.runtime = proto::Runtime::Node;
    h.runtime_version = "v22.0.0"; h.cmdline = "node server.js"; h.interval_ms = 100;
    v.emplace_back(h);
    v.emplace_back(proto::StringDef{ms(0), 1, "Transform"});
    v.emplace_back(proto::StringDef{ms(0), 2, "server.js:12"});
    v.emplace_back(proto::StringDef{ms(0), 3, "ECONNRESET"});
    v.emplace_back(proto::ProcessSample{ms(100), 0, 1000, 500, 800, 40, 30, 0, 0, 0});
    v.emplace_back(proto::ProcessSample{ms(200), 0, 3000, 600, 800, 90, 80, 0, 0, 0});
    proto::StreamCreated c; c.t_us = ms(150); c.id = 5; c.kind = proto::kKindReadable | proto::kKindWritable;
    c.type_str = 1; c.site_str = 2; c.readable_hwm = 16384; c.writable_hwm = 16384;
    v.emplace_back(c);
    v.emplace_back(sample(ms(200), 5, 0, 0, proto::Flowing::Null));
    for (uint64_t i = 3; i <= 12; ++i) v.emplace_back(sample(ms(i * 100), 5, 100, 0, proto::Flowing::Paused));
    v.emplace_back(sample(ms(1300), 5, 70'000, 20'000, proto::Flowing::Flowing, proto::kFlagNeedDrain));
    v.emplace_back(proto::StreamEvent{ms(1350), 5, proto::StreamEventKind::Pipe, 6, 0});
    v.emplace_back(proto::StreamEvent{ms(1360), 5, proto::StreamEventKind::Pipe, 6, 0});  // repeat: one edge
    v.emplace_back(proto::CallSite{ms(1400), 5, proto::CallSiteKind::WriteAfterFalse, 2, 3});
    v.emplace_back(proto::CallSite{ms(1500), 5, proto::CallSiteKind::WriteAfterFalse, 2, 9});
    v.emplace_back(proto::StreamEvent{ms(1600), 5, proto::StreamEventKind::Error, 0, 3});
    v.emplace_back(proto::StreamEvent{ms(1700), 5, proto::StreamEventKind::Unpipe, 6, 0});
    v.emplace_back(proto::StreamEvent{ms(1800), 5, proto::StreamEventKind::Gone, 0, 0});
    v.emplace_back(proto::Dropped{ms(1800), 0, 4});
    v.emplace_back(proto::Dropped{ms(1850), 0, 2});  // cumulative counters never go back
    v.emplace_back(proto::Goodbye{ms(1900), 0, 0});
    v.emplace_back(proto::ProcessExit{ms(2000), 0, -1, 9});
    v.emplace_back(proto::AgentNote{ms(2000), "target killed"});
    return v;
}

Timeline build(const std::vector<proto::Record>& records) {
    Timeline t;
    t.set_start_us(kStart);
    for (const auto& r : records) t.apply(r);
    return t;
}

}  // namespace

TEST_CASE("timeline: processes — counters and how they ended", "[model][timeline]") {
    const Timeline t = build(scenario());
    REQUIRE(t.processes().size() == 1);
    const ProcessInfo& p = t.processes()[0];
    CHECK(p.pid == 10);
    CHECK(p.cmdline == "node server.js");
    CHECK(p.runtime == proto::Runtime::Node);
    REQUIRE(p.samples.size() == 2);
    CHECK(p.samples[1].t_s == Approx(0.2));
    CHECK(p.samples[1].rss_bytes == 3000);
    CHECK(p.dropped_records == 4);
    CHECK_FALSE(p.exit_code.has_value());  // the agent saw SIGKILL: that wins over Goodbye
    REQUIRE(p.exit_signal.has_value());
    CHECK(*p.exit_signal == 9);
    CHECK(*p.end_s == Approx(2.0));
    CHECK(t.end_s() == Approx(2.0));
    REQUIRE(t.notes().size() == 1);
    CHECK(t.notes()[0].text == "target killed");
}

TEST_CASE("timeline: streams — collapsed sample runs — peaks and events", "[model][timeline]") {
    const Timeline t = build(scenario());
    const StreamInfo* s = t.stream(5);
    REQUIRE(s != nullptr);
    CHECK(s->type == "Transform");
    CHECK(s->site == "server.js:12");
    CHECK(s->created_s == Approx(0.15));
    CHECK(s->readable_hwm == 16384);
    // 12 samples: null, ten identical paused ones (kept as first + last), the flowing one.
    CHECK(s->sample_count == 12);
    REQUIRE(s->samples.size() == 4);
    CHECK(s->samples[1].t_s == Approx(0.3));
    CHECK(s->samples[2].t_s == Approx(1.2));
    CHECK(s->samples[2].s.readable_length == 100);
    CHECK(s->peak_readable_length == 70'000);
    CHECK(s->peak_writable_length == 20'000);
    CHECK(s->flowing_seen == 0b111);
    REQUIRE(s->piped_to == std::vector<StreamId>{6});
    REQUIRE(t.edges().size() == 1);
    CHECK(t.edges()[0].piped_s == Approx(1.35));
    CHECK(*t.edges()[0].unpiped_s == Approx(1.7));
    REQUIRE(t.stream(6) != nullptr);  // a pipe destination never announced gets a placeholder
    CHECK(t.stream(6)->piped_from == std::vector<StreamId>{5});
    REQUIRE(s->call_sites.size() == 1);
    CHECK(s->call_sites[0].count == 9);
    CHECK(s->call_sites[0].first_s == Approx(1.4));
    CHECK(*s->error_s == Approx(1.6));
    CHECK(s->error_message == "ECONNRESET");
    CHECK(*s->gone_s == Approx(1.8));
}

TEST_CASE("timeline: applying a keyframe's repeated state changes nothing", "[model][timeline]") {
    auto records = scenario();
    const Timeline once = build(records);
    // A keyframe repeats earlier records verbatim (same times); apply them all a second time.
    auto twice_records = records;
    twice_records.insert(twice_records.end(), records.begin(), records.end());
    const Timeline twice = build(twice_records);
    REQUIRE(twice.streams().size() == once.streams().size());
    CHECK(twice.stream(5)->samples.size() == once.stream(5)->samples.size());
    CHECK(twice.stream(5)->piped_to.size() == 1);
    CHECK(twice.edges().size() == 1);
    CHECK(twice.processes()[0].samples.size() == 2);
    CHECK(twice.stream(5)->call_sites.size() == 1);
}

TEST_CASE("timeline: samples for unknown streams and out-of-order ids are tolerated", "[model][timeline]") {
    Timeline t;
    t.set_start_us(kStart);
    t.apply(sample(ms(500), 99, 10, 0, proto::Flowing::Null));
    REQUIRE(t.stream(99) != nullptr);
    CHECK(t.stream(99)->type.empty());
    CHECK(t.stream(99)->created_s == Approx(0.5));
    t.apply(proto::ProcessSample{ms(600), 3, 1, 1, 1, 1, 1, 0, 0, 0});
    REQUIRE(t.process(3) != nullptr);
    CHECK(t.process(3)->samples.size() == 1);
    CHECK(t.process(0) == nullptr);
    CHECK(t.string(42).empty());
}

TEST_CASE("timeline: an idle stream costs two points however long the trace", "[model][timeline]") {
    Timeline t;
    t.set_start_us(kStart);
    for (uint64_t i = 0; i < 36'000; ++i) t.apply(sample(ms(i * 100), 1, 0, 0, proto::Flowing::Flowing));
    CHECK(t.stream(1)->samples.size() == 2);
    CHECK(t.stream(1)->samples.back().t_s == Approx(3599.9));
    CHECK(t.stream(1)->sample_count == 36'000);
}

namespace {

proto::StreamAggregate aggregate(uint64_t t, uint32_t proc, uint32_t type_str, uint32_t site_str, uint64_t created) {
    proto::StreamAggregate a;
    a.t_us = t;
    a.proc = proc;
    a.type_str = type_str;
    a.site_str = site_str;
    a.kind = proto::kKindReadable;
    a.created = created;
    a.retired = created;
    a.bytes_pushed = created * 100;
    a.lifetime_hist[1] = created;
    return a;
}

}  // namespace

TEST_CASE("timeline: the latest stream aggregate of a key supersedes the earlier ones", "[model][timeline]") {
    Timeline t = build(scenario());
    t.apply(proto::StringDef{ms(0), 10, "IncomingMessage"});
    t.apply(proto::StringDef{ms(0), 11, "server.js:30"});
    t.apply(proto::StringDef{ms(0), 12, "server.js:31"});
    t.apply(proto::StringDef{ms(0), 13, "server.js:30"});  // the same text under another id: the same key
    t.apply(aggregate(ms(500), 0, 10, 11, 4));
    t.apply(aggregate(ms(700), 0, 10, 11, 9));
    t.apply(aggregate(ms(600), 0, 10, 11, 6));   // older than what it holds: a keyframe repeat
    t.apply(aggregate(ms(800), 0, 10, 13, 12));  // same texts
    t.apply(aggregate(ms(800), 0, 10, 12, 2));   // another site
    t.apply(aggregate(ms(900), 1, 10, 11, 3));   // another process
    REQUIRE(t.aggregates().size() == 3);
    const StreamAggregateInfo& a = t.aggregates()[0];
    CHECK(a.proc == 0);
    CHECK(a.type == "IncomingMessage");
    CHECK(a.site == "server.js:30");
    CHECK(a.first_s == Approx(0.5));
    CHECK(a.updated_s == Approx(0.8));
    CHECK(a.latest.created == 12);
    CHECK(a.latest.bytes_pushed == 1200);
    CHECK(a.latest.lifetime_hist[1] == 12);
    CHECK(a.kind() == proto::kKindReadable);
    CHECK(t.aggregates()[1].site == "server.js:31");
    CHECK(t.aggregates()[1].latest.created == 2);
    CHECK(t.aggregates()[2].proc == 1);
    CHECK(t.aggregates()[2].latest.created == 3);

    // Applying everything twice (a keyframe after the originals) changes nothing.
    const auto first = t.aggregates()[0].latest.created;
    t.apply(aggregate(ms(500), 0, 10, 11, 4));
    t.apply(aggregate(ms(800), 0, 10, 11, 12));
    CHECK(t.aggregates().size() == 3);
    CHECK(t.aggregates()[0].latest.created == first);
    CHECK(t.aggregates()[0].first_s == Approx(0.5));
}

TEST_CASE("timeline: a worker thread's Hello keeps its thread id", "[model][timeline]") {
    Timeline t = build(scenario());
    proto::Hello w;
    w.t_us = ms(300);
    w.pid = 10;
    w.ppid = 1;
    w.runtime = proto::Runtime::Node;
    w.cmdline = "node server.js";
    w.proc = 1;
    w.thread_id = 2;
    t.apply(w);
    REQUIRE(t.processes().size() == 2);
    CHECK_FALSE(t.process(0)->worker());
    CHECK(t.process(0)->thread_id == 0);
    REQUIRE(t.process(1) != nullptr);
    CHECK(t.process(1)->worker());
    CHECK(t.process(1)->thread_id == 2);
    CHECK(t.process(1)->pid == 10);
    CHECK(t.process(1)->start_s == Approx(0.3));
    CHECK(t.process(1)->samples.empty());
}

// Detector unit tests for the buffer rules — ignored-backpressure, unbounded-readable,
// no-consumer — and the chain view, each with healthy twins that must produce nothing.
#include <catch2/catch.hpp>

#include "test_model_detectors_builder.h"

using namespace tidemark;
using namespace tidemark::test;
using model::Severity;
using proto::CallSiteKind;
using proto::Flowing;
using proto::StreamEventKind;

namespace {

constexpr uint32_t kWritable = proto::kKindWritable;
constexpr uint32_t kReadable = proto::kKindReadable;
constexpr uint32_t kDuplex = proto::kKindReadable | proto::kKindWritable;

uint32_t flowing(Flowing f, uint32_t extra = 0) { return static_cast<uint32_t>(f) | extra; }

// A writable fed by user code ignoring false: +1 MiB every 100 ms from t = 0.5 s until `until`.
void ignoring_writer(TimelineBuilder& b, double until, double stop_writing_at = 1e9, const std::string& site = "/app/incident.js:31") {
    b.created(7, kWritable, "SlowSink", "/app/incident.js:12");
    auto& s = b.state(7);
    s.writable_length = 0;
    b.sample(0.1, 7);
    bool site_sent = false;
    for (double t = 0.5; t <= until + 1e-9; t += 0.1) {
        if (t < stop_writing_at) {
            s.write_calls += 16;
            s.bytes_in += 1 << 20;
            s.writable_length += 1 << 20;
            s.writes_after_false += t == 0.5 ? 15 : 16;
            s.flags = proto::kFlagNeedDrain | proto::kFlagWriting;
            if (!site_sent) {
                b.call_site(t - 0.05, 7, CallSiteKind::WriteAfterFalse, site, 1);
                site_sent = true;
            }
        } else if (s.writable_length >= 64 * 1024) {
            s.writable_length -= 64 * 1024;  // the slow sink drains a little
        }
        b.sample(t, 7);
    }
}

}  // namespace

TEST_CASE("ignored-backpressure: user code keeps writing after false, buffer climbs", "[detectors]") {
    TimelineBuilder b;
    ignoring_writer(b, 4.0);
    const auto found = of_kind(model::detect(b.tl), "ignored-backpressure");
    REQUIRE(found.size() == 1);
    const auto& f = found[0];
    CHECK(f.severity == Severity::Error);
    CHECK(f.site == "/app/incident.js:31");
    REQUIRE(f.stream);
    CHECK(f.stream->type == "SlowSink");
    CHECK(f.stream->created_at == "/app/incident.js:12");
    CHECK(f.onset_s == Approx(0.45).margin(0.06));  // the first write after false, not the detection
    CHECK(evidence(f, "peak_buffered_bytes") >= 30.0 * (1 << 20));
    CHECK(evidence(f, "high_water_mark_bytes") == 16384);
    CHECK(evidence(f, "peak_to_hwm_ratio") > 1000);
    CHECK(evidence(f, "writes_after_false") > 500);
    CHECK(evidence(f, "growth_bytes_per_s") == Approx(10.0 * (1 << 20)).epsilon(0.05));
    CHECK(f.message.find("SlowSink") != std::string::npos);
    CHECK(f.message.find("/app/incident.js:31") != std::string::npos);
    CHECK(f.message.find("Nothing pipes into it") != std::string::npos);
    CHECK(f.fix.find("'drain'") != std::string::npos);
    CHECK(f.fix.find("pipeline()") != std::string::npos);
}

TEST_CASE("ignored-backpressure: a producer ignoring false on a plateau is a warning", "[detectors]") {
    // Writes after false keep coming, but at the pace the sink drains: the buffer sits at 6 MiB.
    TimelineBuilder b;
    b.created(7, kWritable, "SlowSink", "/app/plateau.js:4");
    auto& s = b.state(7);
    b.sample(0.1, 7);
    b.call_site(0.45, 7, CallSiteKind::WriteAfterFalse, "/app/plateau.js:9", 1);
    for (int i = 5; i <= 50; ++i) {
        s.writable_length = (6u << 20) + static_cast<uint64_t>(i % 2) * 65536;
        s.writes_after_false += 4;
        s.write_calls += 4;
        s.flags = proto::kFlagNeedDrain;
        b.sample(i * 0.1, 7);
    }
    const auto found = of_kind(model::detect(b.tl), "ignored-backpressure");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Warning);
    CHECK(found[0].message.find("stays there") != std::string::npos);
}

TEST_CASE("ignored-backpressure: growth that stopped with the writes is still an error", "[detectors]") {
    TimelineBuilder b;
    ignoring_writer(b, 5.0, 2.0);
    const auto found = of_kind(model::detect(b.tl), "ignored-backpressure");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
    CHECK(found[0].message.find("while the writes continued") != std::string::npos);
}

TEST_CASE("unbounded-readable healthy twin: a Transform pushing one chunk of lines at a time", "[detectors]") {
    // Each chunk yields ~3000 lines pushed past the hwm (Transform holds the callback until
    // they are read); the next chunk refills it only after they drained: bounded by design.
    TimelineBuilder b;
    b.created(20, kDuplex | proto::kKindReadableObjectMode, "LineParser", "/app/lines_ok.js:8", 0, 16, 16384);
    auto& p = b.state(20);
    p.flags = flowing(Flowing::Flowing, proto::kFlagWriting);
    for (int i = 0; i < 60; ++i) {
        const int phase = i % 30;
        if (phase == 0) {
            p.pushes_after_false += 2984;
            p.push_calls += 3000;
            p.readable_length = 3000;
        } else {
            p.readable_length = 3000 - static_cast<uint64_t>(phase) * 100;
        }
        b.sample(0.1 * i + 0.1, 20);
        if (i == 0) b.call_site(0.1, 20, CallSiteKind::PushAfterFalse, "/app/lines_ok.js:15", 1);
    }
    CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
}

TEST_CASE("ignored-backpressure healthy twins produce nothing", "[detectors]") {
    SECTION("slow consumer with correct backpressure: buffer hovers at the hwm, no writes after false") {
        TimelineBuilder b;
        b.created(3, kWritable, "WriteStream", "/app/copy.js:5");
        auto& s = b.state(3);
        for (int i = 0; i < 60; ++i) {
            s.writable_length = (i % 2) ? 16384 : 65536;
            s.write_calls += 1;
            s.bytes_in += 65536;
            s.flags = (i % 2) ? 0u : static_cast<uint32_t>(proto::kFlagNeedDrain);
            b.sample(0.1 * i, 3);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("node's http client socket: hundreds of writes after false from node: frames, just above hwm") {
        TimelineBuilder b;
        b.created(4, kDuplex, "Socket", "node:_http_agent:340");
        auto& s = b.state(4);
        for (int i = 0; i < 60; ++i) {
            s.writable_length = 16384 + 1200 * (i % 5);
            s.writes_after_false += 10;
            s.write_calls += 11;
            s.flags = flowing(Flowing::Flowing, proto::kFlagNeedDrain);
            b.sample(0.1 * i, 4);
        }
        b.call_site(0.2, 4, CallSiteKind::WriteAfterFalse, "node:_http_outgoing:862", 600);
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("even far past the hwm, writes only from node: frames are not judged") {
        TimelineBuilder b;
        ignoring_writer(b, 4.0, 1e9, "node:internal/streams/readable:1000");
        CHECK(of_kind(model::detect(b.tl), "ignored-backpressure").empty());
    }
    SECTION("a one-off burst ignoring false that then drains") {
        TimelineBuilder b;
        b.created(5, kWritable, "WriteStream", "/app/burst.js:3");
        auto& s = b.state(5);
        b.sample(0.1, 5);
        s.writable_length = 8 << 20;
        s.writes_after_false = 127;
        s.write_calls = 128;
        s.flags = proto::kFlagNeedDrain;
        b.call_site(0.45, 5, CallSiteKind::WriteAfterFalse, "/app/burst.js:9", 1);
        b.sample(0.5, 5);
        for (double t = 0.6; t < 4; t += 0.1) {
            s.writable_length = s.writable_length > (256 << 10) ? s.writable_length - (256 << 10) : 0;
            b.sample(t, 5);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("not yet sustained: 0.5 s of overfill is not reported") {
        TimelineBuilder b;
        ignoring_writer(b, 1.0);
        CHECK(of_kind(model::detect(b.tl), "ignored-backpressure").empty());
    }
}

TEST_CASE("unbounded-readable: push() ignores false while the consumer has it paused", "[detectors]") {
    TimelineBuilder b;
    b.created(9, kReadable, "EventSource", "/app/events.js:8");
    b.created(10, kWritable, "SlowWriter", "/app/events.js:20");
    b.event(0.05, 9, StreamEventKind::Pipe, 10);
    auto& r = b.state(9);
    r.flags = flowing(Flowing::Flowing);
    b.sample(0.1, 9);
    for (double t = 0.3; t <= 4.0; t += 0.1) {
        r.flags = flowing(Flowing::Paused);
        r.push_calls += 20;
        r.pushes_after_false += 20;
        r.readable_length += 640 * 1024;
        r.bytes_pushed += 640 * 1024;
        b.sample(t, 9);
        if (t < 0.35) b.call_site(t - 0.05, 9, CallSiteKind::PushAfterFalse, "/app/events.js:14", 1);
    }
    const auto all = model::detect(b.tl);
    const auto found = of_kind(all, "unbounded-readable");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
    CHECK(found[0].site == "/app/events.js:14");
    CHECK(found[0].stream->type == "EventSource");
    CHECK(found[0].message.find("readableFlowing === false") != std::string::npos);
    CHECK(evidence(found[0], "pushes_after_false") > 500);
    CHECK(of_kind(all, "no-consumer").empty());
}

TEST_CASE("unbounded-readable healthy twin: a source that stops at false", "[detectors]") {
    TimelineBuilder b;
    b.created(9, kReadable, "EventSource", "/app/events.js:8");
    auto& r = b.state(9);
    for (int i = 0; i < 50; ++i) {
        r.flags = flowing(i % 3 ? Flowing::Flowing : Flowing::Paused);
        r.readable_length = (i % 3) ? 0 : 16384;
        r.push_calls += 4;
        r.bytes_pushed += 65536;
        b.sample(0.1 * i, 9);
    }
    CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
}

TEST_CASE("no-consumer: a parked readable that filled to its hwm is a warning after the grace period", "[detectors]") {
    TimelineBuilder b;
    b.created(11, kReadable, "Readable", "/app/parked.js:6");
    auto& r = b.state(11);
    r.flags = flowing(Flowing::Null);
    r.readable_length = 4096;
    b.sample(0.5, 11);
    r.readable_length = 16384;
    b.sample(0.6, 11);
    b.process(2.0, 5'000'000, 1'000'000);  // the trace goes on; the stream does not change
    SECTION("before the grace period: nothing") {
        CHECK(of_kind(model::detect(b.tl), "no-consumer").empty());
    }
    SECTION("after it") {
        b.process(3.7, 5'000'000, 1'000'000);
        const auto found = of_kind(model::detect(b.tl), "no-consumer");
        REQUIRE(found.size() == 1);
        CHECK(found[0].severity == Severity::Warning);
        CHECK(found[0].onset_s == Approx(0.5));
        CHECK(found[0].site == "/app/parked.js:6");
        CHECK(found[0].message.find("readableFlowing === null") != std::string::npos);
        CHECK(evidence(found[0], "held_s") == Approx(3.2).margin(0.01));
    }
}

TEST_CASE("no-consumer: a parked readable whose buffer keeps climbing is an error", "[detectors]") {
    TimelineBuilder b;
    b.created(12, kReadable, "Readable", "/app/parked.js:6");
    auto& r = b.state(12);
    r.flags = flowing(Flowing::Null);
    for (double t = 0.2; t <= 2.5; t += 0.1) {
        r.readable_length += 512 * 1024;
        r.pushes_after_false += 8;
        r.push_calls += 8;
        b.sample(t, 12);
        if (t < 0.25) b.call_site(0.2, 12, CallSiteKind::PushAfterFalse, "/app/parked.js:15", 1);
    }
    const auto all = model::detect(b.tl);
    const auto found = of_kind(all, "no-consumer");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
    CHECK(found[0].site == "/app/parked.js:15");
    CHECK(found[0].message.find("keeps climbing") != std::string::npos);
    CHECK(of_kind(all, "unbounded-readable").empty());  // one finding names the cause
}

TEST_CASE("no-consumer healthy twins", "[detectors]") {
    SECTION("consumed after one second") {
        TimelineBuilder b;
        b.created(13, kReadable, "IncomingMessage", "node:_http_server:100");
        auto& r = b.state(13);
        r.readable_length = 16384;
        b.sample(0.2, 13);
        r.flags = flowing(Flowing::Flowing);
        r.readable_length = 0;
        b.sample(1.2, 13);
        b.process(6.0, 5'000'000, 1'000'000);
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("drained with read() without switching modes") {
        TimelineBuilder b;
        b.created(14, kReadable, "Readable", "/app/pull.js:3");
        auto& r = b.state(14);
        for (int i = 0; i < 60; ++i) {
            r.readable_length = 16384 - static_cast<uint64_t>(i % 4) * 4096;
            b.sample(0.1 * i, 14);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
}

TEST_CASE("chain view: the link where the pressure stops", "[detectors][chain]") {
    TimelineBuilder b;
    b.created(1, kReadable, "ReadStream", "/app/chain.js:3", 0, 65536, 0);
    b.created(2, kDuplex, "Forwarder", "/app/chain.js:4");
    b.created(3, kWritable, "SlowSink", "/app/chain.js:5");
    b.event(0.01, 1, StreamEventKind::Pipe, 2);
    b.event(0.01, 2, StreamEventKind::Pipe, 3);
    SECTION("the sink overfills while its upstream keeps flowing") {
        auto& t = b.state(2);
        auto& k = b.state(3);
        for (double x = 0.1; x < 3; x += 0.1) {
            t.flags = flowing(Flowing::Flowing);
            k.writable_length += 1 << 20;
            b.sample(x, 2);
            b.sample(x, 3);
        }
        const auto views = model::chains(b.tl);
        REQUIRE(views.size() == 1);
        REQUIRE(views[0].stages.size() == 3);
        CHECK(views[0].stages[0].label.find("ReadStream") == 0);
        CHECK(views[0].uses_pipe);
        CHECK(views[0].broken_after == 1);
        CHECK(views[0].stages[2].overfilled);
        CHECK(views[0].summary.find("pressure stops between Forwarder") != std::string::npos);
    }
    SECTION("a slow sink with working backpressure: everything backs up, no broken link") {
        auto& src = b.state(1);
        auto& t = b.state(2);
        auto& k = b.state(3);
        for (double x = 0.1; x < 3; x += 0.1) {
            src.flags = flowing(Flowing::Paused);
            src.readable_length = 65536;
            t.flags = flowing(Flowing::Paused, proto::kFlagNeedDrain);
            t.writable_length = 16384;
            t.readable_length = 16384;
            k.writable_length = 16384 + 4096;
            k.flags = proto::kFlagNeedDrain;
            b.sample(x, 1);
            b.sample(x, 2);
            b.sample(x, 3);
        }
        const auto views = model::chains(b.tl);
        REQUIRE(views.size() == 1);
        CHECK(views[0].broken_after == -1);
        CHECK(views[0].summary.find("backpressure holds") != std::string::npos);
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
}

TEST_CASE("chain view: a pipeline() with a generator stage is one chain", "[detectors][chain]") {
    TimelineBuilder b;
    b.created(1, kReadable, "ReadStream", "/app/p.js:3");
    b.created(3, kWritable, "WriteStream", "/app/p.js:5");
    b.pipeline(0.01, 1, {1, 0, 3}, "/app/p.js:9");
    const auto views = model::chains(b.tl);
    REQUIRE(views.size() == 1);
    REQUIRE(views[0].stages.size() == 3);
    CHECK(views[0].pipeline_id == 1u);
    CHECK(views[0].site == "/app/p.js:9");
    CHECK(views[0].stages[1].id == 0);
    CHECK_FALSE(views[0].uses_pipe);
}

// A tokenizer (objectMode readable, hwm 16) pushing thousands of tokens per input, ignoring false
// within the input. Sampled every 100 ms, the buffer is seen anywhere in its burst/drain cycle.
namespace {
void tokenizer(TimelineBuilder& b, bool consumer_keeps_up) {
    b.created(21, kReadable | proto::kKindReadableObjectMode, "Tokenizer", "/srv/tok.js:30", 0, 16, 0);
    b.created(22, kWritable | proto::kKindWritableObjectMode, "Indexer", "/srv/tok.js:50", 0, 0, 16);
    b.event(0.01, 21, StreamEventKind::Pipe, 22);
    b.call_site(0.05, 21, CallSiteKind::PushAfterFalse, "/srv/tok.js:41", 1);
    auto& r = b.state(21);
    uint64_t backlog = 0;
    for (int i = 1; i <= 110; ++i) {
        const double t = 0.1 * i;
        r.flags = flowing(Flowing::Paused);
        r.push_calls += 14000;  // two inputs of 7000 tokens per interval
        r.pushes_after_false += 13968;
        r.bytes_pushed += 14000;
        if (consumer_keeps_up) {
            // the burst of the latest input, partly drained; seen back at 0 now and then (1.2 s apart)
            r.readable_length = (i % 13 == 0) ? 0 : static_cast<uint64_t>(1000 + (i * 2371) % 6000);
        } else {
            backlog += 3000;  // the consumer takes 11000 of the 14000
            r.readable_length = backlog + static_cast<uint64_t>((i * 2371) % 6000);
        }
        b.sample(t, 21);
    }
    b.process(11.0, 5'000'000, 1'000'000);
}
}  // namespace

TEST_CASE("unbounded-readable: a parser's bursts that drain between inputs are not unbounded", "[detectors][burst]") {
    TimelineBuilder b;
    tokenizer(b, true);
    CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
}

TEST_CASE("unbounded-readable: the same parser whose buffer climbs across inputs is", "[detectors][burst]") {
    TimelineBuilder b;
    tokenizer(b, false);
    const auto found = of_kind(model::detect(b.tl), "unbounded-readable");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
    CHECK(found[0].site == "/srv/tok.js:41");
}

TEST_CASE("unbounded-readable: a climb is not excused by later bursts that drain", "[detectors][burst]") {
    TimelineBuilder b;
    b.created(21, kReadable | proto::kKindReadableObjectMode, "Tokenizer", "/srv/tok.js:30", 0, 16, 0);
    b.created(22, kWritable | proto::kKindWritableObjectMode, "Indexer", "/srv/tok.js:50", 0, 0, 16);
    b.event(0.01, 21, StreamEventKind::Pipe, 22);
    b.call_site(0.05, 21, CallSiteKind::PushAfterFalse, "/srv/tok.js:41", 1);
    auto& r = b.state(21);
    for (int i = 1; i <= 110; ++i) {
        r.flags = flowing(Flowing::Paused);
        r.push_calls += 14000;
        r.pushes_after_false += 13968;
        r.bytes_pushed += 14000;
        if (i <= 50) r.readable_length = static_cast<uint64_t>(3000 * i);  // climbs for 5 s …
        else r.readable_length = (i % 13 == 0) ? 0 : static_cast<uint64_t>(1000 + (i * 2371) % 6000);  // … then bursts
        b.sample(0.1 * i, 21);
    }
    b.process(11.0, 5'000'000, 1'000'000);
    const auto found = of_kind(model::detect(b.tl), "unbounded-readable");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
}

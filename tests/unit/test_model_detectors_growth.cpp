// Detector unit tests for heap-growth and external-growth (and the Theil–Sen statistics they
// stand on): a steady leak is named; GC saw-teeth, one-off spikes and a single step are not.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "tidemark/model/timeline/gc_floors.h"
#include "tidemark/model/util/stats.h"
#include "test_model_detectors_builder.h"

using namespace tidemark;
using namespace tidemark::test;
using model::Severity;

namespace {
constexpr double kMiB = 1024.0 * 1024.0;
}

TEST_CASE("stats: Theil–Sen ignores outliers and brackets the true slope", "[stats]") {
    std::vector<model::stats::TimePoint> pts;
    for (int i = 0; i < 100; ++i) pts.push_back({i * 0.1, 3.0 * i * 0.1 + ((i % 10 == 0) ? 500.0 : 0.0)});
    const auto est = model::stats::theil_sen(pts);
    REQUIRE(est);
    CHECK(est->slope == Approx(3.0).epsilon(0.01));
    CHECK(est->lower <= 3.0);
    CHECK(est->upper >= 3.0);
    CHECK(est->lower > 2.5);
    CHECK(est->points == 100);
    CHECK_FALSE(model::stats::theil_sen(std::vector<model::stats::TimePoint>{{0, 1}, {1, 2}}));
    CHECK(*model::stats::median({5, 1, 3}) == 3);
    CHECK(*model::stats::quantile({1, 2, 3, 4}, 0.5) == Approx(2.5));
    CHECK(model::stats::downsample(pts, 10).size() == 10);
}

TEST_CASE("heap-growth: a steady JS heap leak after warm-up", "[detectors][growth]") {
    TimelineBuilder b;
    for (int i = 0; i <= 80; ++i) {
        const double t = i * 0.1;
        // +6 MiB/s retained, plus garbage (up to 10 MiB) collected every 1.5 s
        const double heap = 8 * kMiB + 6 * kMiB * t + 10 * kMiB * ((i % 15) / 15.0);
        b.process(t, static_cast<uint64_t>(heap), 2'000'000);
    }
    const auto all = model::detect(b.tl);
    const auto found = of_kind(all, "heap-growth");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
    CHECK(evidence(found[0], "heap_growth_bytes_per_s") == Approx(6 * kMiB).epsilon(0.1));
    CHECK(found[0].onset_s < 3.0);
    CHECK(of_kind(all, "external-growth").empty());
}

TEST_CASE("heap-growth healthy twins", "[detectors][growth]") {
    SECTION("a saw-tooth heap: climbs 8 MiB/s and is collected every second") {
        TimelineBuilder b;
        for (int i = 0; i <= 100; ++i) {
            const double t = i * 0.1;
            b.process(t, static_cast<uint64_t>(10 * kMiB + 8 * kMiB * std::fmod(t, 1.0)), 2'000'000);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("one-off spikes") {
        TimelineBuilder b;
        for (int i = 0; i <= 100; ++i) {
            const double heap = 10 * kMiB + ((i == 50 || i == 80) ? 200 * kMiB : 0);
            b.process(i * 0.1, static_cast<uint64_t>(heap), 2'000'000);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("a single step up (a cache filled once) is not steady growth") {
        TimelineBuilder b;
        for (int i = 0; i <= 100; ++i)
            b.process(i * 0.1, static_cast<uint64_t>(10 * kMiB + (i >= 60 ? 64 * kMiB : 0)), 2'000'000);
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("garbage piling up with no collection in the window is not yet a leak") {
        TimelineBuilder b;
        for (int i = 0; i <= 80; ++i)
            b.process(i * 0.1, static_cast<uint64_t>(8 * kMiB + 9 * kMiB * i * 0.1), 2'000'000);
        CHECK(of_kind(model::detect(b.tl), "heap-growth").empty());
    }
    SECTION("one collection that brings the heap back to where it was") {
        TimelineBuilder b;
        for (int i = 0; i <= 80; ++i) {
            const double t = i * 0.1;
            const double heap = t < 4.0 ? 8 * kMiB + 9 * kMiB * t : 10 * kMiB + 9 * kMiB * (t - 4.0);
            b.process(t, static_cast<uint64_t>(heap), 2'000'000);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("a cache that warms up for 5 s, then only serves (heap busy but flat)") {
        TimelineBuilder b;
        for (int i = 0; i <= 110; ++i) {
            const double t = i * 0.1;
            // fills 4 → 30 MiB by t = 5 s (with garbage collected every 0.7 s), then moves
            // between 27 and 37 MiB with request garbage until exit at 11 s
            const double fill = t < 5.0 ? 4 * kMiB + 26 * kMiB * t / 5.0 : 27 * kMiB;
            const double garbage = (t < 5.0 ? 3 : 10) * kMiB * ((i % 7) / 7.0);
            b.process(t, static_cast<uint64_t>(fill + garbage), 2'000'000);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
    SECTION("growth inside the warm-up only") {
        TimelineBuilder b;
        for (int i = 0; i <= 100; ++i) {
            const double t = i * 0.1;
            b.process(t, static_cast<uint64_t>(10 * kMiB + 30 * kMiB * std::min(t, 1.8)), 2'000'000);
        }
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
}

TEST_CASE("external-growth: Buffers outside the heap climb while the heap is flat", "[detectors][growth]") {
    TimelineBuilder b;
    b.created(7, proto::kKindWritable, "SlowSink", "/app/incident.js:12");
    auto& s = b.state(7);
    for (int i = 0; i <= 80; ++i) {
        const double t = i * 0.1;
        const auto ext = static_cast<uint64_t>(2 * kMiB + 12 * kMiB * t);
        b.process(t, static_cast<uint64_t>(9 * kMiB + (i % 5) * 0.2 * kMiB), ext, static_cast<uint64_t>(60 * kMiB + 10 * kMiB * t), ext - 100000);
        s.writable_length = static_cast<uint64_t>(12 * kMiB * t);
        b.sample(t, 7);
    }
    b.call_site(0.3, 7, proto::CallSiteKind::WriteAfterFalse, "/app/incident.js:31", 1);
    const auto found = of_kind(model::detect(b.tl), "external-growth");
    REQUIRE(found.size() == 1);
    const auto& f = found[0];
    CHECK(f.severity == Severity::Error);
    CHECK(evidence(f, "external_growth_bytes_per_s") == Approx(12 * kMiB).epsilon(0.05));
    CHECK(evidence(f, "stream_buffers_growth_bytes_per_s") == Approx(12 * kMiB).epsilon(0.05));
    CHECK(f.message.find("stays flat") != std::string::npos);
    CHECK(f.message.find("RSS climbs") != std::string::npos);
    REQUIRE(f.stream);
    CHECK(f.stream->type == "SlowSink");
    CHECK(f.site == "/app/incident.js:31");
}

TEST_CASE("external-growth keys on external, not RSS alone", "[detectors][growth]") {
    SECTION("RSS climbs, external flat: not external-growth") {
        TimelineBuilder b;
        for (int i = 0; i <= 80; ++i)
            b.process(i * 0.1, static_cast<uint64_t>(9 * kMiB), static_cast<uint64_t>(2 * kMiB),
                      static_cast<uint64_t>(60 * kMiB + 20 * kMiB * i * 0.1));
        CHECK(of_kind(model::detect(b.tl), "external-growth").empty());
    }
    SECTION("external climbs, RSS flat: says RSS barely moves") {
        TimelineBuilder b;
        for (int i = 0; i <= 80; ++i)
            b.process(i * 0.1, static_cast<uint64_t>(9 * kMiB),
                      static_cast<uint64_t>(2 * kMiB + 50 * kMiB * i * 0.1 + 60 * kMiB * ((i % 10) / 10.0)),
                      static_cast<uint64_t>(60 * kMiB));
        const auto found = of_kind(model::detect(b.tl), "external-growth");
        REQUIRE(found.size() == 1);
        CHECK(found[0].message.find("RSS barely moves") != std::string::npos);
    }
    SECTION("external saw-tooth: nothing") {
        TimelineBuilder b;
        for (int i = 0; i <= 100; ++i)
            b.process(i * 0.1, static_cast<uint64_t>(9 * kMiB),
                      static_cast<uint64_t>(2 * kMiB + 40 * kMiB * std::fmod(i * 0.1, 1.5)));
        CHECK(warnings_or_errors(model::detect(b.tl)) == 0);
    }
}

TEST_CASE("growth: a worker thread without samples yields no growth finding and no crash", "[detectors][growth]") {
    SECTION("beside a flat main thread while the worker's own stream buffer climbs") {
        TimelineBuilder b;
        b.worker(0.2, 1, 1);
        b.created_in(1, 50, proto::kKindWritable, "WorkerSink", "/app/worker.js:9", 0.3);
        auto& s = b.state(50);
        b.sample(0.3, 50);
        b.call_site(0.45, 50, proto::CallSiteKind::WriteAfterFalse, "/app/worker.js:20", 1);
        for (int i = 0; i <= 80; ++i) {
            const double t = i * 0.1;
            b.process(t, 20'000'000, 2'000'000);
            if (t < 0.5) continue;
            s.write_calls += 16;
            s.bytes_in += 1 << 20;
            s.writable_length += 1 << 20;
            s.writes_after_false += 16;
            s.flags = proto::kFlagNeedDrain | proto::kFlagWriting;
            b.sample(t, 50);
        }
        const auto all = model::detect(b.tl);
        CHECK(of_kind(all, "heap-growth").empty());
        CHECK(of_kind(all, "external-growth").empty());
        // The worker's stream is judged on its own samples like any other.
        const auto ignored = of_kind(all, "ignored-backpressure");
        REQUIRE(ignored.size() == 1);
        REQUIRE(ignored[0].stream);
        CHECK(ignored[0].stream->id == 50);
        CHECK(ignored[0].site == "/app/worker.js:20");
    }
    SECTION("a worker's connection alone") {
        model::Timeline t;
        t.set_start_us(TimelineBuilder::kStartUs);
        proto::Hello h;
        h.t_us = TimelineBuilder::us(0);
        h.pid = 4242;
        h.proc = 1;
        h.thread_id = 3;
        t.apply(h);
        proto::StreamCreated c;
        c.t_us = TimelineBuilder::us(0.1);
        c.proc = 1;
        c.id = 1;
        c.kind = proto::kKindReadable;
        t.apply(c);
        for (int i = 1; i <= 50; ++i) {
            proto::StreamSample x;
            x.t_us = TimelineBuilder::us(i * 0.1);
            x.id = 1;
            x.readable_length = 10;
            t.apply(x);
        }
        t.apply(proto::Goodbye{TimelineBuilder::us(5.5), 1, 0});
        const auto all = model::detect(t);
        CHECK(of_kind(all, "heap-growth").empty());
        CHECK(of_kind(all, "external-growth").empty());
    }
}

// ---- growth judged on what survives collections (GcEvent records) -----------------------------

namespace {

// A process sampled every 0.1 s for `secs` whose heap after each major collection (every
// `every` s) is floor(t); between collections the heap climbs by `garbage` MiB/s of garbage.
model::Timeline with_floors(double secs, double every, const std::function<double(double)>& floor_mib,
                            double garbage_mib_per_s = 2, bool external = false) {
    TimelineBuilder b;
    double last_gc = 0;
    for (int i = 0; i <= static_cast<int>(secs * 10); ++i) {
        const double t = i * 0.1;
        const double f = floor_mib(t) * kMiB;
        const double heap = (external ? 6 * kMiB : f) + (t - last_gc) * garbage_mib_per_s * kMiB;
        b.process(t, static_cast<uint64_t>(heap), static_cast<uint64_t>(external ? f : 2 * kMiB));
        if (t - last_gc >= every - 1e-9) {
            b.major_gc(t, static_cast<uint64_t>(external ? 6 * kMiB : f), static_cast<uint64_t>(external ? f : 2 * kMiB),
                       static_cast<uint64_t>(heap));
            last_gc = t;
        }
    }
    return std::move(b.tl);
}

}  // namespace

TEST_CASE("heap-growth on floors: a slow leak with no visible drop is found", "[detectors][growth][gc]") {
    // +0.4 MiB/s retained (below the sample path's 512 KiB/s), majors every 4 s that free nothing.
    const auto tl = with_floors(25, 4, [](double t) { return 4 + 0.4 * t; }, 0);
    const auto found = of_kind(model::detect(tl), "heap-growth");
    REQUIRE(found.size() == 1);
    CHECK(found[0].severity == Severity::Error);
    CHECK(evidence(found[0], "heap_floor_growth_bytes_per_s") == Approx(0.4 * kMiB).epsilon(0.05));
    CHECK(found[0].message.find("major collections") != std::string::npos);
}

TEST_CASE("heap-growth on floors: a cache that fills then plateaus is not growth, however long", "[detectors][growth][gc]") {
    for (double secs : {15.0, 30.0, 120.0}) {
        // fills 4 -> 30 MiB over the first 6 s, flat after; lots of garbage between collections
        const auto tl = with_floors(secs, 2, [](double t) { return t < 6 ? 4 + 26 * t / 6 : 30.0; }, 8);
        CAPTURE(secs);
        CHECK(of_kind(model::detect(tl), "heap-growth").empty());
    }
}

TEST_CASE("heap-growth on floors: a one-off allocation held and released is not growth", "[detectors][growth][gc]") {
    const auto tl = with_floors(25, 1.5, [](double t) { return t >= 3 && t < 8 ? 84.0 : 6.0; }, 3);
    CHECK(of_kind(model::detect(tl), "heap-growth").empty());
    // …and one kept and joined by another every 5 s is.
    const auto kept = with_floors(25, 1.5, [](double t) { return 6 + 20.0 * std::floor((t + 2) / 5); }, 3);
    CHECK(of_kind(model::detect(kept), "heap-growth").size() == 1);
}

TEST_CASE("external-growth on floors: retained Buffers with few collections", "[detectors][growth][gc]") {
    // +0.4 MiB/s of external memory, a major every 5 s (the GC probe's pace), heap flat.
    const auto tl = with_floors(25, 5, [](double t) { return 2 + 0.4 * t; }, 0, true);
    const auto found = of_kind(model::detect(tl), "external-growth");
    REQUIRE(found.size() == 1);
    CHECK(evidence(found[0], "external_floor_growth_bytes_per_s") == Approx(0.4 * kMiB).epsilon(0.05));
    CHECK(of_kind(model::detect(tl), "heap-growth").empty());
    // Buffers that are collected: external climbs between collections, floors flat.
    TimelineBuilder b;
    for (int i = 0; i <= 250; ++i) {
        const double t = i * 0.1;
        const double since = std::fmod(t, 5.0);
        b.process(t, 6 * kMiB, static_cast<uint64_t>((2 + 0.4 * since) * kMiB));
        if (since < 0.05 && t > 0) b.major_gc(t, 6 * kMiB, 2 * kMiB);
    }
    CHECK(of_kind(model::detect(b.tl), "external-growth").empty());
}

TEST_CASE("floor_growth's rules", "[detectors][growth][gc]") {
    using model::stats::TimePoint;
    auto pts = [](std::initializer_list<std::pair<double, double>> v) {
        std::vector<TimePoint> out;
        for (auto [t, mib] : v) out.push_back({t, mib * kMiB});
        return out;
    };
    CHECK_FALSE(model::floor_growth(pts({{1, 4}})));
    CHECK_FALSE(model::floor_growth(pts({{3, 4}, {10, 9}}))->rising);                    // too few
    CHECK(std::string(model::floor_growth(pts({{3, 4}, {5, 8}, {7, 12}}))->why_not) == "collections cover too short a time");
    CHECK(model::floor_growth(pts({{3, 8}, {9, 9.3}, {17, 14}, {27, 20}}))->rising);      // the no-churn leak
    CHECK_FALSE(model::floor_growth(pts({{3, 8}, {9, 30}, {17, 30}, {27, 30.2}}))->rising);  // fill, plateau
    CHECK_FALSE(model::floor_growth(pts({{3, 8}, {9, 12}, {17, 8}, {27, 13}}))->rising);  // fell back
    CHECK_FALSE(model::floor_growth(pts({{3, 40}, {9, 41}, {17, 42}, {27, 43}}))->rising); // +3 MiB on 40: too little
}

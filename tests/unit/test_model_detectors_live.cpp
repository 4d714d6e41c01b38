// detect() as the agent uses it live: re-run every 500 ms on a timeline that grows record by
// record. A finding must appear within 2 s (trace time) of its condition starting to hold, keep
// its finding_key from one run to the next, and findings come most severe first.
#include <catch2/catch.hpp>

#include <set>

#include "test_model_detectors_builder.h"

using namespace tidemark;
using namespace tidemark::test;
using proto::CallSiteKind;

TEST_CASE("live: ignored-backpressure appears within 2 s of the first ignored false", "[detectors][live]") {
    TimelineBuilder b;
    b.created(7, proto::kKindWritable, "SlowSink", "/app/incident.js:12");
    auto& s = b.state(7);
    b.sample(0.1, 7);
    const double first_false = 1.0;
    std::optional<double> seen_at;
    std::set<std::string> keys;
    double next_detect = 0.5;
    for (int i = 2; i < 60; ++i) {
        const double t = i * 0.1;
        if (i >= 10) {
            s.writable_length += 400 * 1024;  // ~4 MiB/s
            s.writes_after_false += 7;
            s.write_calls += 7;
            s.flags = proto::kFlagNeedDrain;
            if (i == 10) b.call_site(t, 7, CallSiteKind::WriteAfterFalse, "/app/incident.js:31", 1);
        }
        b.sample(t, 7);
        b.process(t, 9'000'000, 2'000'000 + s.writable_length);
        if (t >= next_detect) {
            next_detect += 0.5;
            for (const auto& f : model::detect(b.tl)) {
                keys.insert(model::finding_key(f));
                if (f.kind == model::FindingKind::IgnoredBackpressure && !seen_at) seen_at = t;
            }
        }
    }
    REQUIRE(seen_at);
    CHECK(*seen_at - first_false <= 2.0);
    // The ignored-backpressure finding kept one key across all the runs that reported it.
    size_t ib_keys = 0;
    for (const auto& k : keys) ib_keys += k.rfind("ignored-backpressure|", 0) == 0;
    CHECK(ib_keys == 1);
}

TEST_CASE("findings are sorted most severe first, then by onset", "[detectors]") {
    TimelineBuilder b;
    // A warning (bounded parked readable) with an early onset …
    b.created(11, proto::kKindReadable, "Readable", "/app/a.js:1");
    auto& r = b.state(11);
    r.readable_length = 16384;
    b.sample(0.2, 11);
    // … and an error (steady heap growth) with a later one.
    for (int i = 0; i <= 80; ++i)
        b.process(i * 0.1, static_cast<uint64_t>(8e6 + 7e6 * i * 0.1 + 1e7 * ((i % 15) / 15.0)), 2'000'000);
    const auto all = model::detect(b.tl);
    REQUIRE(all.size() == 2);
    CHECK(all[0].kind == model::FindingKind::HeapGrowth);
    CHECK(all[1].kind == model::FindingKind::NoConsumer);
    CHECK(model::finding_key(all[1]) == "no-consumer|11|/app/a.js:1");
}

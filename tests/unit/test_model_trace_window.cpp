// Window queries (trace/window.h): process and stream series between t0 and t1 at a resolution
// agree with the same figures computed from every record, hold values across buckets without
// samples, read only from the keyframe before t0 to t1, and refuse nonsense windows.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "tidemark/model/trace/window.h"
#include "test_model_trace_fixture.h"

using namespace trace_test;

TEST_CASE("process series: min/max/last per bucket from the keyframe before t0 to t1", "[model][trace][window]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    auto records = busy_trace(60);
    const std::string path = write_trace("window-proc", records, options);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    const uint64_t total_chunks = reader.keyframes().back().chunk_index + 1;

    const double t0 = 17.03, t1 = 29.5, res = 1.0;
    const uint64_t loaded_before = reader.stats().chunks_loaded;
    ProcessSeries series;
    REQUIRE(process_series(reader, 0, t0, t1, res, series).ok());
    CHECK(reader.stats().chunks_loaded - loaded_before < total_chunks / 3);
    CHECK(series.found);
    REQUIRE(series.buckets.size() == 13);
    CHECK(series.buckets.front().t0_s == Approx(t0));
    CHECK(series.buckets.back().t1_s == Approx(t1));
    // The truth, bucket by bucket.
    for (const auto& b : series.buckets) {
        uint64_t mn = UINT64_MAX, mx = 0, last = 0;
        uint32_t n = 0;
        for (const auto& r : records) {
            const auto* p = std::get_if<proto::ProcessSample>(&r);
            if (!p) continue;
            const double t = secs(p->t_us);
            const bool in = t >= b.t0_s && (t < b.t1_s || (t <= t1 && &b == &series.buckets.back()));
            if (!in) continue;
            mn = std::min(mn, p->rss_bytes);
            mx = std::max(mx, p->rss_bytes);
            last = p->rss_bytes;
            ++n;
        }
        CHECK(b.samples == n);
        CHECK(b.rss_bytes.min == mn);
        CHECK(b.rss_bytes.max == mx);
        CHECK(b.rss_bytes.last == last);
        CHECK(b.heap_used_bytes.last == 10'000'000);
    }

    // Finer than the sampling: empty buckets hold the previous value.
    REQUIRE(process_series(reader, 0, 10.0, 11.0, 0.03, series).ok());
    size_t empty = 0;
    for (size_t i = 1; i < series.buckets.size(); ++i) {
        const auto& b = series.buckets[i];
        if (b.samples) continue;
        ++empty;
        CHECK(b.rss_bytes.last == series.buckets[i - 1].rss_bytes.last);
    }
    CHECK(empty > 10);
    // The first bucket with no sample of its own holds the one before t0.
    REQUIRE(process_series(reader, 0, 10.01, 10.02, 0.01, series).ok());
    REQUIRE(series.buckets.size() == 1);
    CHECK(series.buckets[0].samples == 0);
    CHECK(series.buckets[0].rss_bytes.last == 50'000'000 + 100 * 1000);  // the sample at 10.0 s (tick 100)

    // An unknown process: nothing found, no values.
    REQUIRE(process_series(reader, 9, 0, 5, 1, series).ok());
    CHECK_FALSE(series.found);
    CHECK(series.buckets[0].rss_bytes.max == 0);
    std::remove(path.c_str());
}

TEST_CASE("stream series: buffered lengths, flags and counters per bucket", "[model][trace][window]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(60);
    const std::string path = write_trace("window-stream", records, options);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;

    // Stream 7 (sampled every 100 ms, writable length 50,000 + tick): a window mid-trace.
    StreamSeries series;
    REQUIRE(stream_series(reader, 7, 20.0, 25.0, 0.5, series).ok());
    CHECK(series.found);
    REQUIRE(series.buckets.size() == 10);
    for (const auto& b : series.buckets) {
        CHECK(b.alive);
        CHECK(b.samples == 5);
        // The state holding at the bucket's start (the previous sample) is its minimum.
        const uint64_t first_tick = uint64_t(std::llround(b.t0_s * 10));
        CHECK(b.writable_length.min == 50'000 + first_tick - 1);
        CHECK(b.writable_length.max == 50'000 + first_tick + 4);
        CHECK(b.writable_length.last == 50'000 + first_tick + 4);
        CHECK(b.bytes_in == (50'000 + first_tick + 4) * 3);
    }

    // Stream 110 lives from 20 s to 22 s (busy_trace makes one every 2 s): before it nothing,
    // after its Gone nothing.
    REQUIRE(stream_series(reader, 110, 18.0, 26.0, 1.0, series).ok());
    CHECK(series.found);
    REQUIRE(series.created_s.has_value());
    CHECK(*series.created_s == Approx(20.0));
    REQUIRE(series.gone_s.has_value());
    CHECK(*series.gone_s == Approx(22.0));
    CHECK_FALSE(series.buckets[0].alive);
    CHECK_FALSE(series.buckets[1].alive);
    CHECK(series.buckets[2].alive);
    CHECK(series.buckets[3].alive);
    CHECK(series.buckets[4].alive);  // it went during this bucket
    CHECK_FALSE(series.buckets[5].alive);
    CHECK(series.buckets[2].readable_length.max == 6000);  // ticks 200..209: (tick % 7) * 1000

    // A stream sampled rarely: buckets between samples hold its state.
    REQUIRE(stream_series(reader, 7, 30.0, 30.4, 0.01, series).ok());
    size_t held = 0;
    for (const auto& b : series.buckets)
        if (b.alive && b.samples == 0) {
            ++held;
            CHECK(b.writable_length.min == b.writable_length.max);
        }
    CHECK(held > 20);
    std::remove(path.c_str());
}

TEST_CASE("window queries refuse nonsense windows with a message", "[model][trace][window]") {
    const std::string path = write_trace("window-bad", busy_trace(2));
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    ProcessSeries p;
    StreamSeries s;
    CHECK_THAT(process_series(*opened.reader, 0, 5, 1, 1, p).message(), Catch::Contains("before it starts"));
    CHECK_THAT(process_series(*opened.reader, 0, 0, 1, 0, p).message(), Catch::Contains("more than 0"));
    CHECK_THAT(stream_series(*opened.reader, 7, 0, 3600, 1e-6, s).message(), Catch::Contains("coarser"));
    CHECK(stream_series(*opened.reader, 7, 1, 1, 1, s).ok());  // an instant: one bucket
    CHECK(s.buckets.size() == 1);
    std::remove(path.c_str());
}

// TraceReader::extent(): the time span and record count come from the index of a closed trace
// (nothing else read); without a footer they are derived from the chunk headers, the first record
// and the chunks since the last keyframe, and marked provisional; version-2 files still answer.
#include <catch2/catch.hpp>

#include <cstdio>

#include "test_model_trace_fixture.h"

using namespace trace_test;

namespace {

struct Truth {
    uint64_t first_us = UINT64_MAX, last_us = 0, records = 0;
};

Truth truth_of(const std::vector<proto::Record>& records) {
    Truth t;
    for (const auto& r : records) {
        const uint64_t x = proto::record_time_us(r);
        t.first_us = std::min(t.first_us, x);
        t.last_us = std::max(t.last_us, x);
        ++t.records;
    }
    return t;
}

}  // namespace

TEST_CASE("extent comes from the index of a closed trace", "[model][trace][extent]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("extent", records, options);
    const Truth truth = truth_of(records);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    const uint64_t loaded_at_open = reader.stats().chunks_loaded;  // the index
    const TraceExtent& e = reader.extent();
    CHECK(e.any);
    CHECK_FALSE(e.provisional);
    CHECK(e.first_us == truth.first_us);
    CHECK(e.last_us == truth.last_us);
    REQUIRE(e.records.has_value());
    CHECK(*e.records == truth.records);
    CHECK(e.first_s == Approx(0.0));
    CHECK(e.last_s == Approx(30.0).margin(0.01));
    CHECK(e.duration_s() == Approx(30.0).margin(0.01));
    CHECK(reader.stats().chunks_loaded == loaded_at_open);
    CHECK(reader.stats().header_reads == 0);
    std::remove(path.c_str());
}

TEST_CASE("without a footer the extent is derived cheaply and marked provisional", "[model][trace][extent]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const Truth truth = truth_of(records);
    const std::string path = write_trace("extent-cut", records, options);
    const auto closed = read_bytes(path);

    SECTION("cut between chunks (a killed agent)") {
        drop_footer(path);
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        TraceReader& reader = *opened.reader;
        const TraceExtent& e = reader.extent();
        CHECK(e.provisional);
        CHECK(e.first_us == truth.first_us);
        CHECK(e.last_us == truth.last_us);
        REQUIRE(e.records.has_value());  // the last Summary says how many came before it
        CHECK(*e.records == truth.records);
        // Cheap: every header once, the first chunk, and the chunks from the last keyframe on.
        const auto& keyframes = reader.keyframes();
        REQUIRE(keyframes.size() >= 5);
        const uint64_t total_chunks = keyframes.back().chunk_index + 1;
        CHECK(reader.stats().chunks_loaded < total_chunks / 2);
    }
    SECTION("cut inside the last chunk") {
        // The end of the last Records chunk (the final Summary and the index follow it).
        size_t records_end = 0;
        for (size_t off = format::kFileHeaderBytes; off < index_offset_of(closed);) {
            const size_t end = off + format::kChunkHeaderBytes + format::get_u32(closed.data() + off + 8);
            if (closed[off + 4] == uint8_t(format::ChunkType::Records)) records_end = end;
            off = end;
        }
        write_bytes(path, closed, records_end - 7);
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        const TraceExtent& e = opened.reader->extent();
        CHECK(e.provisional);
        CHECK(e.first_us == truth.first_us);
        CHECK(e.last_us < truth.last_us);
        CHECK(e.last_s > 29.0);  // only the last (250 ms) chunk is lost
        REQUIRE(e.records.has_value());
        CHECK(*e.records < truth.records);
        // It agrees with what a full read delivers.
        uint64_t n = 0, last = 0;
        proto::Record r;
        while (opened.reader->next(r) == ReadResult::Record) {
            ++n;
            last = std::max(last, proto::record_time_us(r));
        }
        CHECK(*e.records == n);
        CHECK(e.last_us == last);
    }
    SECTION("before the first keyframe everything is counted") {
        auto opened0 = TraceReader::open(path);
        REQUIRE(opened0.status.ok());
        const uint64_t first_kf = opened0.reader->keyframes().front().offset;
        write_bytes(path, closed, size_t(first_kf) - 1);
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        const TraceExtent& e = opened.reader->extent();
        CHECK(e.provisional);
        CHECK(e.first_us == truth.first_us);
        CHECK(e.last_s > 4.0);
        CHECK(e.last_s < 5.0);
        CHECK(e.records.has_value());
    }
    SECTION("an empty trace has no extent") {
        write_bytes(path, closed, format::kFileHeaderBytes);
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        CHECK_FALSE(opened.reader->extent().any);
        CHECK(opened.reader->extent().provisional);
    }
    std::remove(path.c_str());
}

TEST_CASE("version-2 traces give their extent too", "[model][trace][extent]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const Truth truth = truth_of(records);
    const std::string path = write_trace("extent-v2", records, options);
    const auto v3 = read_bytes(path);
    rewrite_as_v2(path);
    {
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        CHECK(opened.reader->file_version() == 2);
        CHECK(opened.reader->has_footer());
        const TraceExtent& e = opened.reader->extent();
        CHECK_FALSE(e.provisional);
        CHECK(e.last_us == truth.last_us);
        CHECK(*e.records == truth.records);
    }
    write_bytes(path, v3, v3.size());
    rewrite_as_v2(path, /*with_footer=*/false);
    {
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        const TraceExtent& e = opened.reader->extent();
        CHECK(e.provisional);
        CHECK(e.first_us == truth.first_us);
        CHECK(e.last_us == truth.last_us);
        CHECK_FALSE(e.records.has_value());  // no Summary to count from: unknown, not guessed
    }
    std::remove(path.c_str());
}

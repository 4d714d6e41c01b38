// Whole-trace stream table (format v3 Summary chunks, TraceReader::read_summaries): from a closed
// trace it reads only the Summary chunks and agrees with a full read; from a trace cut short it
// adds the chunks since the last keyframe; version-2 files get a full pass; the writer never keeps
// more than a bounded number of retired streams; hostile Summary payloads are refused.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <random>

#include "tidemark/model/trace/summary.h"
#include "test_model_trace_fixture.h"

using namespace trace_test;

namespace {

// busy_trace plus streams that pipe, error and ignore backpressure, and die young.
std::vector<proto::Record> churn_trace(int seconds) {
    auto v = busy_trace(seconds);
    std::vector<proto::Record> out;
    uint64_t next_id = 10'000;
    for (auto& r : v) {
        out.push_back(r);
        const auto* p = std::get_if<proto::ProcessSample>(&r);
        if (!p) continue;
        const uint64_t t = p->t_us;
        const uint64_t id = next_id++;
        proto::StreamCreated c; c.t_us = t; c.id = id; c.kind = proto::kKindWritable; c.type_str = 1; c.site_str = 2;
        c.writable_hwm = 16384;
        out.emplace_back(c);
        auto s = sample(t, id, 0, 100 * (id % 50), uint32_t(proto::Flowing::Flowing));
        s.writes_after_false = id % 3;
        out.emplace_back(s);
        out.emplace_back(proto::StreamEvent{t, id, proto::StreamEventKind::Pipe, 7, 0});
        if (id % 5 == 0) out.emplace_back(proto::StreamEvent{t, id, proto::StreamEventKind::Error, 0, 2});
        out.emplace_back(sample(t + 1, id, 0, 10, uint32_t(proto::Flowing::Paused) | proto::kFlagFinished));
        out.emplace_back(proto::StreamEvent{t + 2, id, proto::StreamEventKind::Gone, 0, 0});
    }
    return out;
}

StreamTable table_by_full_read(const std::vector<proto::Record>& records) {
    SummaryBuilder b;
    for (const auto& r : records) b.apply(r);
    StreamTable t;
    b.take(t, true);
    return t;
}

std::map<uint64_t, StreamSummary> by_id(const StreamTable& t) {
    std::map<uint64_t, StreamSummary> m;
    for (const auto& s : t.streams) m[s.id] = s;
    return m;
}

void check_same_row(const StreamSummary& a, const StreamSummary& b, bool figures) {
    CHECK(a.proc == b.proc);
    CHECK(a.kind == b.kind);
    CHECK(a.type_str == b.type_str);
    CHECK(a.site_str == b.site_str);
    CHECK(a.created_us == b.created_us);
    CHECK(a.gone_us == b.gone_us);
    CHECK(a.writable_hwm == b.writable_hwm);
    CHECK(a.live == b.live);
    CHECK(a.last_flags == b.last_flags);
    CHECK(a.bytes_in == b.bytes_in);
    CHECK(a.writes_after_false == b.writes_after_false);
    CHECK(a.events == b.events);
    CHECK(a.error_str == b.error_str);
    if (figures) {
        CHECK(a.piped_to == b.piped_to);  // a keyframe repeats only pipes between live streams
        CHECK(a.peak_readable_length == b.peak_readable_length);
        CHECK(a.peak_writable_length == b.peak_writable_length);
        CHECK(a.flowing_seen == b.flowing_seen);
        CHECK(a.samples == b.samples);
    }
}

}  // namespace

TEST_CASE("read_summaries reads only the Summary chunks of a closed trace", "[model][trace][summary]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = churn_trace(30);
    const std::string path = write_trace("summary", records, options);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    StreamTable table;
    REQUIRE(reader.read_summaries(table).ok());
    CHECK(table.exact);
    CHECK_FALSE(table.full_pass);
    const StreamTable truth = table_by_full_read(records);
    REQUIRE(table.streams.size() == truth.streams.size());
    CHECK(table.streams.size() > 300);
    const auto want = by_id(truth);
    for (const auto& s : table.streams) {
        REQUIRE(want.count(s.id));
        check_same_row(s, want.at(s.id), true);
        CHECK_FALSE(s.partial);
    }
    CHECK(table.string(1) == "Writable");
    CHECK(table.string(2) == "app.js:10");
    REQUIRE(table.aggregates.size() == 1);
    CHECK(table.aggregates[0].created == 40);
    // Stream 7 is still live at the end; the errored ones say so.
    const auto got = by_id(table);
    REQUIRE(got.count(7));
    CHECK(got.at(7).live);
    CHECK(got.at(7).peak_writable_length == 50'000 + 300);
    CHECK(got.at(10'005).events & StreamSummary::kErrored);
    CHECK(got.at(10'005).piped_to == std::vector<uint64_t>{7});
    // And it agrees with the Timeline's view of the same streams.
    const LoadedTrace full = load_timeline(path);
    for (const auto& info : full.timeline.streams()) {
        if (!got.count(info.id)) {  // a pipe's destination never announced: a Timeline placeholder
            CHECK(info.type.empty());
            continue;
        }
        const StreamSummary& s = got.at(info.id);
        CHECK(s.peak_writable_length == info.peak_writable_length);
        CHECK(s.peak_readable_length == info.peak_readable_length);
        CHECK(s.flowing_seen == info.flowing_seen);
        CHECK(s.samples == info.sample_count);
        CHECK(bool(s.gone_us) == info.gone_s.has_value());
    }
    // What it read: the Summary chunks (one per keyframe, one at close) and nothing else.
    auto fresh = TraceReader::open(path);
    REQUIRE(fresh.status.ok());
    const uint64_t at_open = fresh.reader->stats().chunks_loaded;
    REQUIRE(fresh.reader->read_summaries(table).ok());
    // its own index, then the Summary before each keyframe and the one at close
    CHECK(fresh.reader->stats().chunks_loaded - at_open == 1 + fresh.reader->keyframes().size() + 1);
    CHECK(fresh.reader->stats().header_reads == 0);
    std::remove(path.c_str());
}

TEST_CASE("read_summaries of a trace cut short adds the chunks since its last keyframe", "[model][trace][summary]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = churn_trace(32);
    const std::string path = write_trace("summary-cut", records, options);
    drop_footer(path);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    StreamTable table;
    REQUIRE(opened.reader->read_summaries(table).ok());
    CHECK_FALSE(table.exact);
    const StreamTable truth = table_by_full_read(records);
    REQUIRE(table.streams.size() == truth.streams.size());
    const auto want = by_id(truth);
    const double last_kf_s = secs(opened.reader->keyframes().back().t_us);
    size_t partial = 0;
    for (const auto& s : table.streams) {
        REQUIRE(want.count(s.id));
        // Rows of streams alive at the last keyframe cover only what came after it.
        check_same_row(s, want.at(s.id), !s.partial);
        if (s.partial) {
            ++partial;
            CHECK(secs(s.created_us) <= last_kf_s);
        }
    }
    CHECK(partial >= 2);  // stream 7 and the busy_trace stream live at 30 s
    CHECK(table.string(2) == "app.js:10");
    std::remove(path.c_str());
}

TEST_CASE("read_summaries of a version-2 trace reads it all, once", "[model][trace][summary]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = churn_trace(12);
    const std::string path = write_trace("summary-v2", records, options);
    rewrite_as_v2(path);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    REQUIRE(opened.reader->file_version() == 2);
    StreamTable table;
    REQUIRE(opened.reader->read_summaries(table).ok());
    CHECK(table.full_pass);
    CHECK(table.exact);
    const auto want = by_id(table_by_full_read(records));
    REQUIRE(table.streams.size() == want.size());
    for (const auto& s : table.streams) check_same_row(s, want.at(s.id), true);
    // The caller's position is untouched: it still reads from the start.
    proto::Record r;
    REQUIRE(opened.reader->next(r) == ReadResult::Record);
    CHECK(std::holds_alternative<proto::Hello>(r));
    std::remove(path.c_str());
}

TEST_CASE("the writer keeps a bounded number of retired streams", "[model][trace][summary]") {
    // No keyframe for the whole trace: Summary chunks are still written as retired streams pile up.
    TraceWriter::Options options;
    options.keyframe_interval_us = UINT64_MAX / 2;
    options.keyframe_bytes = UINT64_MAX / 2;
    const std::string path = temp_path("summary-bounded");
    auto created = TraceWriter::create(path, kStart, options);
    REQUIRE(created.status.ok());
    const uint64_t n = format::kSummaryMaxRows * 2 + 100;
    for (uint64_t id = 1; id <= n; ++id) {
        const uint64_t t = kStart + id * 10;
        proto::StreamCreated c; c.t_us = t; c.id = id; c.kind = proto::kKindReadable;
        REQUIRE(created.writer->append(c).ok());
        REQUIRE(created.writer->append(sample(t, id, id % 100, 0)).ok());
        REQUIRE(created.writer->append(proto::StreamEvent{t + 1, id, proto::StreamEventKind::Gone, 0, 0}).ok());
    }
    REQUIRE(created.writer->close().ok());
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    StreamTable table;
    REQUIRE(opened.reader->read_summaries(table).ok());
    CHECK(table.streams.size() == n);
    CHECK(opened.reader->keyframes().empty());
    // Every record still reads back, and the count in the index is right.
    CHECK(read_all(path).size() == n * 3);
    CHECK(*opened.reader->extent().records == n * 3);
    std::remove(path.c_str());
}

TEST_CASE("hostile Summary payloads are refused, never crash", "[model][trace][summary]") {
    SummaryBuilder b;
    for (const auto& r : churn_trace(2)) b.apply(r);
    std::vector<uint8_t> good;
    b.encode(kStart, 42, true, good);
    SummaryChunk chunk;
    std::string why;
    REQUIRE(decode_summary_chunk(good.data(), good.size(), chunk, why));
    CHECK(chunk.records_before == 42);
    CHECK(chunk.final);
    CHECK(chunk.rows.size() > 10);
    std::mt19937 rng(5);
    size_t refused = 0;
    for (int round = 0; round < 2000; ++round) {
        auto copy = good;
        if (round % 2) copy.resize(rng() % copy.size());
        for (int i = 0; i < 3; ++i) copy[rng() % copy.size()] ^= uint8_t(1u << (rng() % 8));
        if (!decode_summary_chunk(copy.data(), copy.size(), chunk, why)) ++refused;
    }
    CHECK(refused > 500);
    // A row count that would allocate gigabytes is refused before allocating.
    std::vector<uint8_t> huge(8, 0);
    proto::Writer w(huge);
    w.uv(0); w.uv(0); w.uv(0); w.uv(1ull << 40);
    CHECK_FALSE(decode_summary_chunk(huge.data(), huge.size(), chunk, why));
}

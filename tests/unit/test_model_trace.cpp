// Trace file tests: every record type survives writer → reader; keyframes let a reader start
// mid-file; a file without footer is read by scanning; the version window; writer errors as
// values; a size figure for 1,000 streams. Damaged files: test_model_trace_damage.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <variant>
#include <random>
#include <string>
#include <vector>

#include "tidemark/model/trace/keyframe.h"
#include "test_model_trace_fixture.h"

using namespace trace_test;

TEST_CASE("codec round trip for every record type", "[model][trace]") {
    const auto records = one_of_each(kStart);
    proto::Codec enc, dec;
    for (const auto& r : records) {
        std::vector<uint8_t> buf;
        enc.encode(r, buf);
        proto::Record back;
        std::string error;
        REQUIRE(dec.decode(buf.data(), buf.size(), back, error));
        CHECK(back.index() == r.index());
        CHECK(bytes_of(back) == bytes_of(r));
    }
}

TEST_CASE("writer → reader round trip keeps every record once — in order", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;  // several keyframes in a 30 s trace
    const auto records = busy_trace(30);
    const std::string path = write_trace("roundtrip", records, options);

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    CHECK(opened.reader->has_footer());
    CHECK(opened.reader->start_us() == kStart);
    CHECK(opened.reader->keyframes().size() >= 5);

    std::string error;
    const auto back = read_all(path, &error);
    CHECK(error.empty());
    REQUIRE(back.size() == records.size());
    for (size_t i = 0; i < records.size(); ++i) REQUIRE(bytes_of(back[i]) == bytes_of(records[i]));

    // Without compression the same records come back too.
    options.zstd_level = 0;
    const std::string raw_path = write_trace("roundtrip-raw", records, options);
    CHECK(read_all(raw_path).size() == records.size());
    std::remove(path.c_str());
    std::remove(raw_path.c_str());
}

TEST_CASE("seek starts at a keyframe and rebuilds the state", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("seek", records, options);
    const LoadedTrace full = load_timeline(path);
    REQUIRE(full.error.empty());

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    REQUIRE(reader.seek(17.0).ok());
    Timeline partial;
    partial.set_start_us(reader.start_us());
    proto::Record r;
    RecordOrigin origin;
    size_t keyframe_records = 0;
    double first_regular_s = -1;
    while (reader.next(r, &origin) == ReadResult::Record) {
        if (origin.keyframe) ++keyframe_records;
        else if (first_regular_s < 0) first_regular_s = partial.to_seconds(proto::record_time_us(r));
        partial.apply(r);
    }
    CHECK(keyframe_records > 0);
    CHECK(first_regular_s >= 15.0);  // keyframes every 5 s: the one at 15 s
    CHECK(first_regular_s <= 17.0);

    // The state at the end agrees with a full read: processes, strings, the live streams.
    REQUIRE(partial.processes().size() == 1);
    CHECK(partial.processes()[0].pid == 4242);
    CHECK(partial.processes()[0].samples.back().rss_bytes == full.timeline.processes()[0].samples.back().rss_bytes);
    const StreamInfo* w = partial.stream(7);
    REQUIRE(w != nullptr);
    CHECK(w->type == "Writable");
    CHECK(w->site == "app.js:10");
    CHECK(w->last()->writable_length == full.timeline.stream(7)->last()->writable_length);
    CHECK(w->error_message == "app.js:10");
    CHECK(partial.stream(8) == nullptr);  // never created, never piped after the keyframe
    const StreamInfo* last_live = partial.stream(115);
    REQUIRE(last_live != nullptr);
    CHECK(last_live->readable_hwm == 16384);
    CHECK(partial.stream(101) == nullptr);  // gone before the keyframe: not repeated

    // Seeking before the first keyframe reads from the start.
    REQUIRE(reader.seek(0).ok());
    size_t n = 0;
    while (reader.next(r, &origin) == ReadResult::Record) ++n;
    CHECK(n == records.size());
    std::remove(path.c_str());
}

TEST_CASE("a trace without footer is read by scanning — with a warning", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(12);
    const std::string path = write_trace("nofooter", records, options);
    auto bytes = read_bytes(path);
    uint64_t index_offset = 0;
    for (int i = 0; i < 8; ++i) index_offset |= uint64_t(bytes[bytes.size() - 16 + size_t(i)]) << (8 * i);
    write_bytes(path, bytes, size_t(index_offset));  // what a killed agent leaves behind

    const LoadedTrace t = load_timeline(path);
    CHECK(t.error.empty());
    CHECK(t.truncated);
    CHECK_THAT(t.warning, Catch::Contains("no end marker") && Catch::Contains("t=12.0 s"));
    CHECK(t.timeline.processes()[0].samples.size() == 121);

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    CHECK_FALSE(opened.reader->has_footer());
    CHECK(opened.reader->keyframes().size() == 2);  // found by scanning
    std::remove(path.c_str());
}

TEST_CASE("the reader accepts a window of file versions", "[model][trace]") {
    const std::string path = write_trace("version-src", one_of_each(kStart));
    auto bytes = read_bytes(path);
    const std::string other = temp_path("version");
    auto with_version = [&](uint16_t version, uint16_t min_reader) {
        auto copy = bytes;
        format::put_u16(copy.data() + 8, version);
        format::put_u16(copy.data() + 10, min_reader);
        write_bytes(other, copy, copy.size());
        return TraceReader::open(other).status;
    };
    CHECK(with_version(format::kCurrentVersion, format::kCurrentVersion).ok());
    const Status newer = with_version(9, 9);
    CHECK_THAT(newer.message(), Catch::Contains("trace format version 9 is newer than this tidemark (reads 1–5)") &&
                                    Catch::Contains("upgrade tidemark"));
    // A newer writer that promises older readers can skip what they do not know.
    CHECK(with_version(format::kCurrentVersion + 1, format::kCurrentVersion).ok());
    CHECK(with_version(1, 1).ok());  // version 1 is still read (see the next test)
    const Status older = with_version(0, 0);
    CHECK_THAT(older.message(), Catch::Contains("version 0 is older") && Catch::Contains("older tidemark"));
    std::remove(path.c_str());
    std::remove(other.c_str());
}

TEST_CASE("version 5 traces say so and a version-1 trace still reads", "[model][trace]") {
    CHECK(format::kCurrentVersion == 5);
    CHECK(format::kMinReaderWritten == 5);  // native records: a version-4 reader cannot skip them
    CHECK(format::kOldestReadable == 1);
    // Version 1 held no StreamAggregate and no Hello.thread_id; its records encode exactly as
    // version 2 encodes them, so a version-1 file is the same bytes under a version-1 header.
    std::vector<proto::Record> v1;
    for (const auto& r : one_of_each(kStart))
        if (!std::holds_alternative<proto::StreamAggregate>(r)) v1.push_back(r);
    const std::string path = write_trace("v1", v1);
    auto bytes = read_bytes(path);
    CHECK(format::get_u16(bytes.data() + 8) == 5);
    CHECK(format::get_u16(bytes.data() + 10) == 5);  // min_reader 5: no older reader can skip the
                                                     // native records (types 64-67), see docs/FORMAT.md
    format::put_u16(bytes.data() + 8, 1);
    format::put_u16(bytes.data() + 10, 1);
    write_bytes(path, bytes, bytes.size());
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    CHECK(opened.reader->file_version() == 1);
    std::string error;
    const auto back = read_all(path, &error);
    CHECK(error.empty());
    REQUIRE(back.size() == v1.size());
    for (size_t i = 0; i < v1.size(); ++i) CHECK(bytes_of(back[i]) == bytes_of(v1[i]));
    CHECK(std::get<proto::Hello>(back[0]).thread_id == 0);
    std::remove(path.c_str());
}

TEST_CASE("keyframes repeat the latest stream aggregate of each key", "[model][trace]") {
    // KeyframeState directly: one record per (proc, type, site), the newest; an older copy
    // arriving late does not replace it.
    KeyframeState state;
    state.apply(proto::StringDef{kStart, 1, "IncomingMessage"});
    state.apply(proto::StringDef{kStart, 2, "server.js:10"});
    state.apply(proto::StringDef{kStart, 3, "server.js:22"});
    state.apply(aggregate(kStart + 100, 0, 1, 2, 10));
    state.apply(aggregate(kStart + 200, 0, 1, 2, 25));
    state.apply(aggregate(kStart + 150, 0, 1, 2, 17));  // older than what it holds
    state.apply(aggregate(kStart + 300, 0, 1, 3, 5));   // another site
    state.apply(aggregate(kStart + 300, 1, 1, 2, 7));   // another process (a worker thread)
    std::vector<proto::StreamAggregate> snap;
    for (const auto& r : state.snapshot())
        if (const auto* a = std::get_if<proto::StreamAggregate>(&r)) snap.push_back(*a);
    REQUIRE(snap.size() == 3);
    CHECK(bytes_of(snap[0]) == bytes_of(aggregate(kStart + 200, 0, 1, 2, 25)));
    CHECK(bytes_of(snap[1]) == bytes_of(aggregate(kStart + 300, 0, 1, 3, 5)));
    CHECK(bytes_of(snap[2]) == bytes_of(aggregate(kStart + 300, 1, 1, 2, 7)));

    // Through a file: a reader that seeks to a keyframe gets the latest aggregate of each key
    // from it. busy_trace's one_of_each already holds (Writable, app.js:10) with created = 40.
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;  // keyframes at 5 s and 10 s
    auto records = busy_trace(12);
    auto insert_in_time = [&](proto::Record rec) {
        const uint64_t t = proto::record_time_us(rec);
        auto at = std::find_if(records.begin(), records.end(),
                               [&](const proto::Record& x) { return proto::record_time_us(x) > t; });
        records.insert(at, std::move(rec));
    };
    insert_in_time(proto::StringDef{kStart + 2, 9, "server.js:22"});
    insert_in_time(aggregate(kStart + 3'000'000, 0, 1, 2, 60));   // supersedes created = 40
    insert_in_time(aggregate(kStart + 11'000'000, 0, 1, 9, 3));   // after the last keyframe
    const std::string path = write_trace("keyframe-aggregates", records, options);
    const LoadedTrace full = load_timeline(path);
    REQUIRE(full.error.empty());
    REQUIRE(full.timeline.aggregates().size() == 2);
    CHECK(full.timeline.aggregates()[0].latest.created == 60);
    CHECK(full.timeline.aggregates()[0].first_s == Approx(0.000055));

    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    REQUIRE(reader.seek(6.0).ok());
    Timeline partial;
    partial.set_start_us(reader.start_us());
    proto::Record r;
    RecordOrigin origin;
    std::vector<proto::StreamAggregate> in_keyframe;
    while (reader.next(r, &origin) == ReadResult::Record) {
        if (const auto* a = std::get_if<proto::StreamAggregate>(&r); a && origin.keyframe) in_keyframe.push_back(*a);
        partial.apply(r);
    }
    REQUIRE(in_keyframe.size() == 1);
    CHECK(bytes_of(in_keyframe[0]) == bytes_of(aggregate(kStart + 3'000'000, 0, 1, 2, 60)));
    REQUIRE(partial.aggregates().size() == 2);
    for (const auto& a : partial.aggregates()) {
        const StreamAggregateInfo* b = nullptr;
        for (const auto& x : full.timeline.aggregates())
            if (x.site == a.site) b = &x;
        REQUIRE(b != nullptr);
        CHECK(a.type == "Writable");
        CHECK(bytes_of(a.latest) == bytes_of(b->latest));
    }
    std::remove(path.c_str());
}

TEST_CASE("a pipeline too long for readers is trimmed so the file stays readable", "[model][trace]") {
    proto::Pipeline p;
    p.t_us = kStart;
    p.id = 1;
    for (uint64_t i = 0; i < 3000; ++i) { p.stages.push_back(i + 1); p.stage_strs.push_back(0); }
    const std::string path = write_trace("long-pipeline", {proto::Record(p), proto::Record(proto::Dropped{kStart + 5, 0, 1})});
    std::string error;
    const auto back = read_all(path, &error);
    CHECK(error.empty());
    REQUIRE(back.size() == 2);
    CHECK(std::get<proto::Pipeline>(back[0]).stages.size() == 1024);
    CHECK(std::get<proto::Dropped>(back[1]).t_us == kStart + 5);
    std::remove(path.c_str());
}

TEST_CASE("writer errors come back as values", "[model][trace]") {
    auto created = TraceWriter::create("/nonexistent-dir/x.tidemark", kStart);
    CHECK(created.writer == nullptr);
    CHECK_THAT(created.status.message(), Catch::Contains("cannot create trace file") && Catch::Contains("--out"));
}

namespace {

// Writes kSeconds of 1,000 streams sampled at 10 Hz; a sample changes with probability
// 1/change_one_in (0 = never: every sample repeats the previous state, mask = 0). Returns the
// file size and checks every record reads back.
uint64_t measure_idle_trace(uint32_t change_one_in, uint64_t& samples) {
    const std::string path = temp_path("size");
    auto created = TraceWriter::create(path, kStart);
    REQUIRE(created.status.ok());
    TraceWriter& w = *created.writer;
    REQUIRE(w.append(proto::StringDef{kStart, 1, "Socket"}).ok());
    constexpr int kStreams = 1000, kSeconds = 60;
    for (uint64_t id = 1; id <= kStreams; ++id) {
        proto::StreamCreated c; c.t_us = kStart; c.id = id; c.kind = proto::kKindReadable | proto::kKindWritable;
        c.type_str = 1; c.readable_hwm = 16384; c.writable_hwm = 16384;
        REQUIRE(w.append(c).ok());
    }
    std::mt19937 rng(7);
    std::vector<uint64_t> bytes_in(kStreams + 1, 0);
    samples = 0;
    for (int tick = 0; tick < kSeconds * 10; ++tick) {
        const uint64_t t = kStart + uint64_t(tick) * 100'000;
        REQUIRE(w.append(proto::ProcessSample{t, 0, 80'000'000 + rng() % 100'000, 20'000'000 + rng() % 100'000,
                                              30'000'000, 1'000'000, 500'000, 120, 800, 0}).ok());
        for (uint64_t id = 1; id <= kStreams; ++id) {
            if (change_one_in && rng() % change_one_in == 0) bytes_in[id] += 1 + rng() % 4096;
            auto s = sample(t + id, id, 0, 0, uint32_t(proto::Flowing::Flowing));
            s.bytes_in = bytes_in[id];
            s.write_calls = bytes_in[id] / 512;
            REQUIRE(w.append(s).ok());
            ++samples;
        }
    }
    REQUIRE(w.close().ok());
    CHECK(read_all(path).size() == samples + kStreams + 1 + kSeconds * 10);
    std::remove(path.c_str());
    return w.bytes_written();
}

}  // namespace

TEST_CASE("size figure: 1000 mostly idle streams sampled at 10 Hz", "[model][trace][size]") {
    // Prints the figures docs/FORMAT.md quotes; asserts only that the data reads back.
    for (uint32_t change_one_in : {0u, 50u, 1u}) {
        uint64_t samples = 0;
        const double bytes = double(measure_idle_trace(change_one_in, samples));
        std::printf("size figure: 1000 streams x 10 Hz x 60 s, %s: %llu samples, %.0f bytes (%.2f bytes/sample)"
                    " -> %.1f MiB/hour\n",
                    change_one_in == 0 ? "no sample changes" : change_one_in == 1 ? "every sample changes" : "2% of samples change",
                    static_cast<unsigned long long>(samples), bytes, bytes / double(samples),
                    bytes * 60.0 / (1024.0 * 1024.0));
    }
}

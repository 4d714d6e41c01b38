// Seeking by time: seek() binary-searches the keyframe table (from the index, with the chunk
// ordinals of v3, or learned once from the headers) and reads nothing until next(); seek_exact()
// decodes only from that keyframe to the target and delivers the state there, then the records
// from the target on.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <set>

#include "tidemark/model/trace/keyframe.h"
#include "test_model_trace_fixture.h"

using namespace trace_test;

TEST_CASE("seek reads no chunk headers on a closed v3 trace, and learns them once on v2", "[model][trace][seek]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 2'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("seek-table", records, options);
    auto check_seeks = [&](TraceReader& reader, bool expect_no_headers) {
        const auto keyframes = reader.keyframes();
        REQUIRE(keyframes.size() >= 10);
        uint64_t headers_after_first = 0;
        for (int round = 0; round < 2; ++round) {
            for (double t : {29.0, 3.5, 17.2, 0.5, 11.0}) {
                REQUIRE(reader.seek(t).ok());
                proto::Record r;
                RecordOrigin origin;
                REQUIRE(reader.next(r, &origin) == ReadResult::Record);
                // The landing keyframe: the last one at or before t.
                const KeyframeEntry* want = nullptr;
                for (const auto& k : keyframes)
                    if (secs(k.t_us) <= t) want = &k;
                if (want) {
                    CHECK(origin.keyframe);
                    CHECK(origin.chunk_offset == want->offset);
                    // Messages name chunks by ordinal: it is the right one.
                    CHECK(origin.chunk_index == want->chunk_index);
                } else {
                    CHECK(origin.chunk_offset == format::kFileHeaderBytes);
                    CHECK(origin.chunk_index == 0);
                }
            }
            if (round == 0) headers_after_first = reader.stats().header_reads;
        }
        if (expect_no_headers) CHECK(reader.stats().header_reads == 0);
        CHECK(reader.stats().header_reads == headers_after_first);  // learned once
    };
    {
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        check_seeks(*opened.reader, true);
    }
    rewrite_as_v2(path);
    {
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        REQUIRE(opened.reader->file_version() == 2);
        for (const auto& k : opened.reader->keyframes()) CHECK(k.chunk_index == UINT64_MAX);  // not in a v2 index
        // check_seeks compares with the ordinals learned while seeking.
        auto opened2 = TraceReader::open(path);
        REQUIRE(opened2.status.ok());
        REQUIRE(opened2.reader->seek(1e9).ok());  // learns the headers up to the last keyframe
        check_seeks(*opened2.reader, false);
    }
    std::remove(path.c_str());
}

TEST_CASE("seek_exact delivers the state at t, then the first record at or after t", "[model][trace][seek]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("seek-exact", records, options);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    const auto keyframes = reader.keyframes();
    for (double t : {0.0, 0.35, 4.99, 5.0, 12.34, 19.95, 29.9, 40.0}) {
        const uint64_t target_us = kStart + uint64_t(t * 1e6);
        // The truth: every record before t applied to a KeyframeState.
        KeyframeState truth;
        size_t first_at_or_after = records.size();
        for (size_t i = 0; i < records.size(); ++i) {
            if (proto::record_time_us(records[i]) >= target_us) { first_at_or_after = i; break; }
            truth.apply(records[i]);
        }
        std::map<uint64_t, proto::StreamSample> want_samples;
        for (const auto& r : truth.snapshot())
            if (const auto* s = std::get_if<proto::StreamSample>(&r)) want_samples[s->id] = *s;

        const uint64_t loaded_before = reader.stats().chunks_loaded;
        REQUIRE(reader.seek_exact(t).ok());
        const uint64_t loaded_by_seek = reader.stats().chunks_loaded - loaded_before;
        Timeline tl;
        tl.set_start_us(reader.start_us());
        proto::Record r;
        RecordOrigin origin;
        std::map<uint64_t, proto::StreamSample> got_samples;
        std::set<uint64_t> gone;  // folded: went between the keyframe and t
        std::vector<proto::Record> after;
        ReadResult res;
        while ((res = reader.next(r, &origin)) == ReadResult::Record) {
            if (origin.keyframe) {
                CHECK(origin.folded);
                CHECK(after.empty());  // the state comes first
                CHECK(proto::record_time_us(r) < target_us);
                if (const auto* s = std::get_if<proto::StreamSample>(&r)) {
                    CHECK(got_samples.count(s->id) == 0);  // one sample per stream: the latest
                    got_samples[s->id] = *s;
                }
                if (const auto* e = std::get_if<proto::StreamEvent>(&r); e && e->kind == proto::StreamEventKind::Gone)
                    gone.insert(e->id);
            } else {
                after.push_back(r);
            }
            tl.apply(r);
        }
        CHECK(res == ReadResult::End);
        // The state at t: each live stream's latest sample, exactly.
        for (uint64_t id : gone) {
            CHECK(want_samples.count(id) == 0);
            got_samples.erase(id);
        }
        REQUIRE(got_samples.size() == want_samples.size());
        for (const auto& [id, s] : want_samples) CHECK(bytes_of(got_samples[id]) == bytes_of(s));
        // Then every record from t on, in order.
        REQUIRE(after.size() == records.size() - first_at_or_after);
        for (size_t i = 0; i < after.size(); ++i) REQUIRE(bytes_of(after[i]) == bytes_of(records[first_at_or_after + i]));
        // Only the keyframe interval holding t was decoded (plus the chunk with the first record >= t).
        const double kf_s = [&] {
            double best = 0;
            for (const auto& k : keyframes)
                if (secs(k.t_us) <= t) best = secs(k.t_us);
            return best;
        }();
        CHECK(loaded_by_seek <= uint64_t((t - kf_s) / 0.25) + 3);
        if (t < 30) CHECK(tl.processes().size() == 1);
    }
    std::remove(path.c_str());
}

TEST_CASE("seek on a trace still being written uses the keyframes found so far", "[model][trace][seek]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("seek-open", records, options);
    const size_t closed_keyframes = TraceReader::open(path).reader->keyframes().size();
    drop_footer(path);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    REQUIRE(reader.seek_exact(22.0).ok());
    proto::Record r;
    RecordOrigin origin;
    uint64_t first_regular = 0;
    while (reader.next(r, &origin) == ReadResult::Record)
        if (!origin.keyframe && !first_regular) first_regular = proto::record_time_us(r);
    CHECK(secs(first_regular) >= 22.0);
    CHECK(secs(first_regular) < 22.2);
    CHECK(reader.keyframes().size() == closed_keyframes);
    std::remove(path.c_str());
}

// Damaged-trace tests: a file cut at every byte offset, flipped bits, random bytes, hostile
// records behind valid checksums and foreign files all give a clear error and never a crash;
// the records before the damage are delivered, and reading resumes at the next keyframe.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <random>

#include "test_model_trace_fixture.h"

using namespace trace_test;

TEST_CASE("truncation at every byte offset yields a prefix and an error — never a crash", "[model][trace]") {
    TraceWriter::Options options;
    options.flush_interval_us = 200'000;  // many small chunks
    options.keyframe_interval_us = 1'000'000;
    const auto records = busy_trace(3);
    const std::string path = write_trace("cut-src", records, options);
    const auto bytes = read_bytes(path);
    const auto full = read_all(path);
    REQUIRE(full.size() == records.size());
    const std::string cut = temp_path("cut");
    size_t errors = 0, clean = 0;
    for (size_t n = 0; n < bytes.size(); ++n) {
        write_bytes(cut, bytes, n);
        auto opened = TraceReader::open(cut);
        if (n < format::kFileHeaderBytes) {
            REQUIRE_FALSE(opened.status.ok());
            continue;
        }
        REQUIRE(opened.status.ok());
        std::vector<proto::Record> got;
        proto::Record r;
        ReadResult res;
        while ((res = opened.reader->next(r)) == ReadResult::Record) got.push_back(r);
        REQUIRE(got.size() <= full.size());
        for (size_t i = 0; i < got.size(); ++i) REQUIRE(bytes_of(got[i]) == bytes_of(full[i]));
        if (res == ReadResult::Error) {
            ++errors;
            REQUIRE_THAT(opened.reader->error(), Catch::Contains("truncated at byte " + std::to_string(n)) &&
                                                     Catch::Contains("readable"));
        } else {
            ++clean;  // cut exactly between chunks: readable, flagged as cut short
            REQUIRE(opened.reader->truncated());
        }
    }
    CHECK(errors > 0);
    CHECK(clean > 1);
    std::remove(path.c_str());
    std::remove(cut.c_str());
}

TEST_CASE("corrupt and foreign files give clear errors", "[model][trace]") {
    const auto records = busy_trace(3);
    const std::string path = write_trace("corrupt-src", records);
    const auto bytes = read_bytes(path);
    const std::string bad = temp_path("corrupt");

    SECTION("not a trace") {
        std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'};
        write_bytes(bad, text, text.size());
        auto opened = TraceReader::open(bad);
        REQUIRE_FALSE(opened.status.ok());
        CHECK_THAT(opened.status.message(), Catch::Contains("not a tidemark trace (bad magic)"));
        const LoadedTrace t = load_timeline(bad);
        CHECK_THAT(t.error, Catch::Contains("bad magic"));
        write_bytes(bad, text, 0);
        CHECK_THAT(TraceReader::open(bad).status.message(), Catch::Contains("bad magic"));
    }
    SECTION("missing file") {
        CHECK_THAT(TraceReader::open(temp_path("does-not-exist")).status.message(),
                   Catch::Contains("cannot open trace file") && Catch::Contains("No such file"));
    }
    SECTION("a flipped bit in a chunk payload is a CRC mismatch") {
        auto copy = bytes;
        copy[format::kFileHeaderBytes + format::kChunkHeaderBytes + 3] ^= 0x10;
        write_bytes(bad, copy, copy.size());
        const LoadedTrace t = load_timeline(bad);
        CHECK_THAT(t.error, Catch::Contains("chunk 0 at byte 24 is corrupt (CRC mismatch)") &&
                                Catch::Contains("no records before it are readable"));
    }
    SECTION("random bit flips and random bytes never crash") {
        std::mt19937 rng(12345);
        for (int round = 0; round < 300; ++round) {
            auto copy = bytes;
            const int flips = 1 + int(rng() % 4);
            for (int i = 0; i < flips; ++i) copy[rng() % copy.size()] ^= uint8_t(1u << (rng() % 8));
            const size_t n = (round % 3 == 0) ? rng() % copy.size() : copy.size();
            write_bytes(bad, copy, n);
            const LoadedTrace t = load_timeline(bad);  // must return, with or without an error
            if (t.error.empty()) CHECK(t.timeline.processes().size() <= 1);
        }
        for (int round = 0; round < 200; ++round) {
            std::vector<uint8_t> noise(rng() % 4096);
            for (auto& b : noise) b = uint8_t(rng());
            if (round % 2 == 0) {  // a valid header followed by noise
                noise.insert(noise.begin(), bytes.begin(), bytes.begin() + format::kFileHeaderBytes);
            }
            write_bytes(bad, noise, noise.size());
            const LoadedTrace t = load_timeline(bad);
            if (round % 2 == 1) CHECK_FALSE(t.error.empty());
        }
    }
    std::remove(path.c_str());
    std::remove(bad.c_str());
}

TEST_CASE("reading resumes at the next keyframe after a damaged chunk", "[model][trace]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 5'000'000;
    const auto records = busy_trace(30);
    const std::string path = write_trace("resync-src", records, options);
    const LoadedTrace full = load_timeline(path);
    REQUIRE(full.error.empty());
    auto bytes = read_bytes(path);
    auto opened = TraceReader::open(path);
    REQUIRE(opened.status.ok());
    const auto keyframes = opened.reader->keyframes();
    REQUIRE(keyframes.size() >= 4);
    // Damage a Records chunk between the 2nd and 3rd keyframes.
    const uint64_t chunk_after_kf2 = keyframes[1].offset + format::kChunkHeaderBytes +
                                     format::get_u32(bytes.data() + keyframes[1].offset + 8);
    bytes[chunk_after_kf2 + format::kChunkHeaderBytes + 2] ^= 0xFF;
    const std::string bad = temp_path("resync");
    for (const bool with_footer : {true, false}) {
        const uint64_t index_offset = format::get_u64(bytes.data() + bytes.size() - 16);
        write_bytes(bad, bytes, with_footer ? bytes.size() : size_t(index_offset));
        const LoadedTrace t = load_timeline(bad);
        CHECK_THAT(t.error, Catch::Contains("at byte " + std::to_string(chunk_after_kf2) + " is corrupt (CRC mismatch)") &&
                                Catch::Contains("data up to t=9.9 s is readable") &&
                                Catch::Contains("reading resumed at the next intact keyframe (byte " +
                                                std::to_string(keyframes[2].offset) + ")"));
        // What came after the damage is there again; only the gap is missing.
        const auto& samples = t.timeline.processes()[0].samples;
        CHECK(samples.back().rss_bytes == full.timeline.processes()[0].samples.back().rss_bytes);
        CHECK(samples.size() < full.timeline.processes()[0].samples.size());
        CHECK(t.timeline.stream(7)->last()->writable_length == full.timeline.stream(7)->last()->writable_length);
    }
    std::remove(path.c_str());
    std::remove(bad.c_str());
}

TEST_CASE("hostile records behind valid CRCs give errors — never crashes", "[model][trace]") {
    // A crafted file can carry correct checksums around garbage: the record decoder is the last
    // line of defence. Chunks of random framed records, some plausible (right type bytes).
    const std::string path = temp_path("hostile");
    std::mt19937 rng(99);
    size_t errors = 0;
    for (int round = 0; round < 400; ++round) {
        std::vector<uint8_t> file(format::kFileHeaderBytes);
        std::memcpy(file.data(), format::kFileMagic, 8);
        format::put_u16(file.data() + 8, format::kCurrentVersion);
        format::put_u16(file.data() + 10, format::kCurrentVersion);
        format::put_u32(file.data() + 12, format::kFileHeaderBytes);
        format::put_u64(file.data() + 16, kStart);
        for (int c = 0; c < 3; ++c) {
            std::vector<uint8_t> payload;
            const bool keyframe = rng() % 4 == 0;
            if (keyframe) payload.resize(8, 0);
            for (int r = 0; r < 20; ++r) {
                std::vector<uint8_t> rec;
                const uint8_t types[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 32, 33, uint8_t(rng())};
                rec.push_back(types[rng() % 13]);
                const size_t n = rng() % 24;
                for (size_t i = 0; i < n; ++i) rec.push_back(uint8_t(rng() % 3 == 0 ? 0x80 | rng() : rng() % 8));
                proto::Writer(payload).uv(rng() % 16 == 0 ? rng() : rec.size());
                payload.insert(payload.end(), rec.begin(), rec.end());
            }
            std::vector<uint8_t> h(format::kChunkHeaderBytes);
            format::put_u32(h.data(), format::kChunkMagic);
            h[4] = keyframe ? 2 : 1;
            format::put_u32(h.data() + 8, uint32_t(payload.size()));
            format::put_u32(h.data() + 12, uint32_t(payload.size()));
            format::put_u32(h.data() + 16, format::crc32(payload.data(), payload.size()));
            file.insert(file.end(), h.begin(), h.end());
            file.insert(file.end(), payload.begin(), payload.end());
        }
        write_bytes(path, file, file.size());
        const LoadedTrace t = load_timeline(path);
        if (!t.error.empty()) {
            ++errors;
            CHECK_THAT(t.error, Catch::Contains("is corrupt") || Catch::Contains("truncated"));
        }
        auto opened = TraceReader::open(path);
        REQUIRE(opened.status.ok());
        CHECK(opened.reader->seek(double(rng() % 5)).ok());
        proto::Record r;
        while (opened.reader->next(r) == ReadResult::Record) {
        }
    }
    CHECK(errors > 300);  // garbage is almost always caught
    std::remove(path.c_str());
}

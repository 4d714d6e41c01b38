// Following a trace that is still being written (TraceReader::Options::follow): at the current end
// of a file without a footer — or inside a chunk only partly written — next() says Pending, and a
// later call picks up what was appended; the writer's close ends the read with End. A chunk that
// never completes stays Pending (the caller decides when to give up); damage is still an Error.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include "test_model_trace_fixture.h"

using namespace trace_test;

namespace {

// Reads until the reader stops delivering records; returns how it stopped.
ReadResult drain(TraceReader& reader, std::vector<proto::Record>& into) {
    proto::Record r;
    ReadResult res;
    while ((res = reader.next(r)) == ReadResult::Record) into.push_back(r);
    return res;
}

// Appends bytes[from, to) to the file at path (as a writer's write() would).
void append_bytes(const std::string& path, const std::vector<uint8_t>& bytes, size_t from, size_t to) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, bytes.data() + from, to - from) == ssize_t(to - from));
    ::close(fd);
}

}  // namespace

TEST_CASE("a reader follows a TraceWriter writing in steps", "[model][trace][follow]") {
    const auto records = busy_trace(20);
    TraceWriter::Options options;
    options.keyframe_interval_us = 3'000'000;
    const std::string path = temp_path("follow");
    auto created = TraceWriter::create(path, kStart, options);
    REQUIRE(created.status.ok());
    TraceWriter& writer = *created.writer;

    TraceReader::Options follow;
    follow.follow = true;
    auto opened = TraceReader::open(path, follow);  // only the file header exists yet
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    std::vector<proto::Record> got;
    CHECK(drain(reader, got) == ReadResult::Pending);
    CHECK(got.empty());
    CHECK_FALSE(reader.extent().any);

    size_t written = 0, pendings = 0;
    const size_t step = records.size() / 13 + 1;
    while (written < records.size()) {
        const size_t upto = std::min(records.size(), written + step);
        for (; written < upto; ++written) REQUIRE(writer.append(records[written]).ok());
        REQUIRE(writer.flush().ok());
        REQUIRE(drain(reader, got) == ReadResult::Pending);
        ++pendings;
        // Everything flushed so far has arrived, in order.
        REQUIRE(got.size() == written);
        const TraceExtent& e = reader.extent();
        CHECK(e.provisional);
        CHECK(e.last_us == proto::record_time_us(records[written - 1]));
        REQUIRE(e.records.has_value());
        CHECK(*e.records == written);
    }
    CHECK(reader.keyframes().size() >= 5);  // learned as they were appended
    CHECK(reader.warning().empty());        // following is not being cut short
    REQUIRE(writer.close().ok());
    CHECK(drain(reader, got) == ReadResult::End);
    CHECK(reader.has_footer());  // the index it ended on is now its own
    CHECK_FALSE(reader.truncated());
    CHECK_FALSE(reader.extent().provisional);
    REQUIRE(got.size() == records.size());
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(bytes_of(got[i]) == bytes_of(records[i]));
    CHECK(pendings == 13);
    std::remove(path.c_str());
}

TEST_CASE("a chunk written in two halves is Pending until its second half", "[model][trace][follow]") {
    TraceWriter::Options options;
    options.keyframe_interval_us = 2'000'000;
    const auto records = busy_trace(6);
    const std::string src = write_trace("follow-halves-src", records, options);
    const auto bytes = read_bytes(src);
    // Chunk boundaries of the source.
    std::vector<size_t> ends;
    for (size_t off = format::kFileHeaderBytes; off < bytes.size() - format::kFooterBytes;) {
        off += format::kChunkHeaderBytes + format::get_u32(bytes.data() + off + 8);
        ends.push_back(off);
    }
    REQUIRE(ends.size() > 10);
    const std::string path = temp_path("follow-halves");
    write_bytes(path, bytes, format::kFileHeaderBytes);
    TraceReader::Options follow;
    follow.follow = true;
    auto opened = TraceReader::open(path, follow);
    REQUIRE(opened.status.ok());
    TraceReader& reader = *opened.reader;
    std::vector<proto::Record> got;
    size_t at = format::kFileHeaderBytes;
    for (size_t i = 0; i < ends.size(); ++i) {
        // Every chunk arrives in two writes; the split falls inside the header for some of them.
        const size_t mid = at + (i % 3 == 0 ? 7 : (ends[i] - at) / 2);
        append_bytes(path, bytes, at, mid);
        const size_t before = got.size();
        REQUIRE(drain(reader, got) == ReadResult::Pending);
        CHECK(got.size() == before);  // nothing of a half chunk
        append_bytes(path, bytes, mid, ends[i]);
        const ReadResult res = drain(reader, got);
        if (i + 1 < ends.size()) REQUIRE(res == ReadResult::Pending);
        else REQUIRE(res == ReadResult::End);  // the last chunk is the index: the writer closed
        at = ends[i];
    }
    append_bytes(path, bytes, at, bytes.size());
    REQUIRE(got.size() == records.size());
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(bytes_of(got[i]) == bytes_of(records[i]));
    std::remove(src.c_str());
    std::remove(path.c_str());
}

TEST_CASE("a followed chunk that never completes stays Pending, and damage is an error", "[model][trace][follow]") {
    const auto records = busy_trace(3);
    const std::string src = write_trace("follow-stuck-src", records);
    const auto bytes = read_bytes(src);
    const size_t first_end = format::kFileHeaderBytes + format::kChunkHeaderBytes +
                             format::get_u32(bytes.data() + format::kFileHeaderBytes + 8);
    const std::string path = temp_path("follow-stuck");
    TraceReader::Options follow;
    follow.follow = true;

    SECTION("stuck half way: Pending every time, never a hang; giving up reports the cut") {
        write_bytes(path, bytes, first_end + 30);
        auto opened = TraceReader::open(path, follow);
        REQUIRE(opened.status.ok());
        std::vector<proto::Record> got;
        for (int i = 0; i < 100; ++i) REQUIRE(drain(*opened.reader, got) == ReadResult::Pending);
        const size_t whole = got.size();
        CHECK(whole > 0);
        opened.reader->set_follow(false);
        CHECK(drain(*opened.reader, got) == ReadResult::Error);
        CHECK_THAT(opened.reader->error(), Catch::Contains("truncated at byte " + std::to_string(first_end + 30)));
        CHECK(got.size() == whole);
    }
    SECTION("a hostile header claiming 60 MiB is Pending without allocating it") {
        auto copy = std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(first_end) + 20);
        format::put_u32(copy.data() + first_end + 8, 60u << 20);
        write_bytes(path, copy, copy.size());
        auto opened = TraceReader::open(path, follow);
        REQUIRE(opened.status.ok());
        std::vector<proto::Record> got;
        REQUIRE(drain(*opened.reader, got) == ReadResult::Pending);
        CHECK(opened.reader->stats().bytes_unpacked < (1u << 20));
    }
    SECTION("a complete chunk with a bad CRC is an error, followed or not") {
        auto copy = bytes;
        copy[first_end + format::kChunkHeaderBytes + 2] ^= 0x40;
        write_bytes(path, copy, size_t(index_offset_of(copy)));
        auto opened = TraceReader::open(path, follow);
        REQUIRE(opened.status.ok());
        std::vector<proto::Record> got;
        REQUIRE(drain(*opened.reader, got) == ReadResult::Error);
        CHECK_THAT(opened.reader->error(), Catch::Contains("CRC mismatch"));
    }
    SECTION("bad chunk magic at the end is an error, not a wait") {
        auto copy = std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(first_end));
        for (int i = 0; i < 24; ++i) copy.push_back(uint8_t(0xA5));
        write_bytes(path, copy, copy.size());
        auto opened = TraceReader::open(path, follow);
        REQUIRE(opened.status.ok());
        std::vector<proto::Record> got;
        REQUIRE(drain(*opened.reader, got) == ReadResult::Error);
        CHECK_THAT(opened.reader->error(), Catch::Contains("bad chunk magic"));
    }
    std::remove(src.c_str());
    std::remove(path.c_str());
}

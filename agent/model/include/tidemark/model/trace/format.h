// The on-disk layout of a .tidemark trace (docs/FORMAT.md draws it): file header, chunk header,
// index and footer constants, plus the small shared pieces (CRC-32, Status) used by the writer
// and the reader. The records inside chunks are proto::Codec encodings (tidemark/protocol.h).
//
// File header (24 bytes, little-endian):
//   0       8      10       12            16                24
//   +-------+------+--------+-------------+-----------------+
//   | magic | ver  | min_rd | header_len  | start_us        |
//   | "TIDEMARK"   | u16    | u32         | u64 wall µs     |
//   +-------+------+--------+-------------+-----------------+
// Chunk header (20 bytes), followed by payload_len stored bytes:
//   0        4      5       6          8             12              16        20
//   +--------+------+-------+----------+-------------+---------------+---------+
//   | "TMCK" | type | flags | reserved | payload_len | raw_len       | crc32   |
//   | u32    | u8   | u8    | u16 = 0  | u32 stored  | u32 unpacked  | stored  |
//   +--------+------+-------+----------+-------------+---------------+---------+
// Footer (16 bytes, last in a cleanly closed file):
//   | u64 index chunk offset | u32 crc32 of those 8 bytes | u32 "TMFT" |
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace tidemark::model::format {

// File format version: separate from proto::kWireVersion. A reader of version kCurrentVersion
// opens files whose version is in [kOldestReadable, kCurrentVersion], and newer files whose
// header says min_reader <= kCurrentVersion (a newer writer promising it only added things an
// older reader can skip: new chunk types).
// Version history (docs/FORMAT.md "Versions"):
//   1  the first format.
//   2  record type 11 (StreamAggregate), Hello's optional trailing thread_id and StreamCreated kind
//      bits 6-8 (web, readable-stream, site inferred). Written with min_reader = 2: a version-1
//      reader cannot skip a record it does not know. Version-1 files decode unchanged.
//   3  chunk type 4 (Summary: retired streams' whole-life rows, so a stream table needs no full
//      pass) and fields appended to the Index (summary offsets, keyframe chunk ordinals). Both are
//      skipped by a version-2 reader, so it is written with min_reader = 2.
//   4  record type 12 (GcEvent: garbage collections), StreamEvent kind 9 (DrainWait) and
//      StreamCreated kind bit 9 (handle). A version-3 reader cannot skip a record it does not
//      know, so it is written with min_reader = 4.
//   5  record types 64-67 (NativeModules, NativeStack, NativeSites, NativeStatus: native allocation
//      tracking). A version-4 reader cannot skip them, so it is written with min_reader = 5.
//      Version 1-4 files decode unchanged (they hold no native records).
inline constexpr uint16_t kCurrentVersion = 5;
inline constexpr uint16_t kOldestReadable = 1;
inline constexpr uint16_t kMinReaderWritten = 5;  // what a kCurrentVersion writer puts in min_rdr

inline constexpr char kFileMagic[8] = {'T', 'I', 'D', 'E', 'M', 'A', 'R', 'K'};
inline constexpr size_t kFileHeaderBytes = 24;

inline constexpr uint32_t kChunkMagic = 0x4B434D54;   // "TMCK" as little-endian bytes
inline constexpr size_t kChunkHeaderBytes = 20;
inline constexpr uint32_t kFooterMagic = 0x54464D54;  // "TMFT"
inline constexpr size_t kFooterBytes = 16;

enum class ChunkType : uint8_t {
    Records = 1,   // a run of records, delta-coded against the codec state since the last keyframe
    Keyframe = 2,  // u64 LE keyframe time (wall µs), then the full state as records (codec reset)
    Index = 3,     // written at close: keyframe list and trace summary
    Summary = 4,   // v3: whole-life rows of the streams retired since the previous Summary
};
inline constexpr uint8_t kChunkFlagZstd = 1u << 0;

// Hostile-input limits: a chunk may not claim more than this, stored or unpacked.
inline constexpr uint32_t kMaxChunkBytes = 64u << 20;

// Writer policy defaults (see TraceWriter::Options).
inline constexpr uint64_t kFlushIntervalUs = 250'000;
inline constexpr size_t kFlushBytes = 256 * 1024;
inline constexpr uint64_t kKeyframeIntervalUs = 30'000'000;
inline constexpr uint64_t kKeyframeBytes = 8u << 20;
inline constexpr int kZstdLevel = 3;
// A Summary chunk is written before every keyframe, at close, and early when this many retired
// streams are waiting (so the writer's memory stays bounded whatever the churn).
inline constexpr size_t kSummaryMaxRows = 32768;

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0);

inline void put_u16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void put_u32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline void put_u64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i)); }
inline uint16_t get_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t get_u32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
inline uint64_t get_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

const char* chunk_type_name(uint8_t type);

}  // namespace tidemark::model::format

namespace tidemark::model {

// An operation's outcome: empty message = success. Errors cross the model's boundary as values
// with a message a user can act on; nothing here throws into the caller's loop.
class Status {
public:
    Status() = default;
    static Status error(std::string message) { Status s; s.message_ = std::move(message); return s; }
    bool ok() const { return message_.empty(); }
    explicit operator bool() const { return ok(); }
    const std::string& message() const { return message_; }
private:
    std::string message_;
};

}  // namespace tidemark::model

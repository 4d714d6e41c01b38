// TraceFile's file access (trace_file.h): pread (no mmap, so a file shrinking underneath cannot
// SIGBUS us), chunk headers and checked payloads, the footer and index, the chunk table learned
// from headers (so a seek never re-reads what it has seen) and the extent of a trace that has no
// index yet: chunk headers once, the first record, and the chunks since the last keyframe.
#include "trace_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace tidemark::model {
namespace {

// "chunk 12 at byte 3456", or "chunk at byte 3456" when its ordinal is not known.
std::string chunk_where(uint64_t ordinal, uint64_t off) {
    return (ordinal == UINT64_MAX ? std::string("chunk") : "chunk " + std::to_string(ordinal)) + " at byte " +
           std::to_string(off);
}

// Parses the 20-byte header at off; does not count as a read in the stats.
std::string parse_header(const TraceFile& f, uint64_t off, ChunkHeader& h, bool& cut) {
    cut = false;
    const std::string where = chunk_where(f.chunk_index, off);
    if (f.size < off || f.size - off < format::kChunkHeaderBytes) {
        cut = true;
        return "truncated at byte " + std::to_string(f.size) + " inside the header of " + where;
    }
    uint8_t hb[format::kChunkHeaderBytes];
    if (!f.read_at(off, hb, sizeof hb)) return "cannot read " + where + ": " + std::strerror(errno);
    if (format::get_u32(hb) != format::kChunkMagic) return where + " is corrupt (bad chunk magic)";
    h.type = hb[4];
    h.flags = hb[5];
    h.stored = format::get_u32(hb + 8);
    h.raw = format::get_u32(hb + 12);
    h.crc = format::get_u32(hb + 16);
    if (h.stored > format::kMaxChunkBytes || h.raw > format::kMaxChunkBytes)
        return where + " is corrupt (claims " + std::to_string(std::max(h.stored, h.raw)) +
               " bytes, over the 64 MiB chunk limit)";
    if (f.size - off - format::kChunkHeaderBytes < h.stored) {
        cut = true;
        return "truncated at byte " + std::to_string(f.size) + " inside " + where;
    }
    return {};
}

}  // namespace

std::string seconds_text(double t_s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", t_s);
    return buf;
}

TraceFile::~TraceFile() {
    if (fd >= 0) ::close(fd);
    ZSTD_freeDCtx(dctx);
    ZSTD_freeDCtx(peek_dctx);
}

bool TraceFile::read_at(uint64_t off, void* buf, size_t n) const {
    auto* p = static_cast<uint8_t*>(buf);
    while (n > 0) {
        const ssize_t k = ::pread(fd, p, n, static_cast<off_t>(off));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        off += static_cast<uint64_t>(k);
        n -= static_cast<size_t>(k);
    }
    return true;
}

void TraceFile::refresh_size() {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return;
    size = static_cast<uint64_t>(st.st_size);
    if (!has_footer) data_end = size;
    else data_end = std::min(data_end, size);
}

std::string TraceFile::read_header(uint64_t off, ChunkHeader& h, bool& cut) {
    ++stats.header_reads;
    return parse_header(*this, off, h, cut);
}

std::string TraceFile::load_chunk(uint64_t off, ChunkHeader& h, std::vector<uint8_t>& raw, bool& cut) {
    std::string problem = parse_header(*this, off, h, cut);
    if (!problem.empty()) return problem;
    const std::string where = chunk_where(chunk_index, off);
    ++stats.chunks_loaded;
    stored.resize(h.stored);
    if (h.stored && !read_at(off + format::kChunkHeaderBytes, stored.data(), h.stored))
        return "cannot read " + where + ": " + std::strerror(errno);
    if (format::crc32(stored.data(), stored.size()) != h.crc) return where + " is corrupt (CRC mismatch)";
    if (h.flags & ~format::kChunkFlagZstd)
        return where + " uses flags this tidemark does not know (0x" + std::to_string(h.flags) + "); upgrade tidemark";
    if (h.flags & format::kChunkFlagZstd) {
        if (!dctx) dctx = ZSTD_createDCtx();
        raw.resize(h.raw);
        const size_t k = dctx ? ZSTD_decompressDCtx(dctx, raw.data(), raw.size(), stored.data(), stored.size()) : 0;
        if (!dctx || ZSTD_isError(k) || k != h.raw) return where + " is corrupt (its compressed data does not unpack)";
    } else {
        if (h.raw != h.stored) return where + " is corrupt (length fields disagree)";
        raw.swap(stored);
    }
    stats.bytes_unpacked += raw.size();
    return {};
}

void TraceFile::read_footer() {
    if (size < data_begin + format::kChunkHeaderBytes + format::kFooterBytes) return;
    uint8_t ft[format::kFooterBytes];
    if (!read_at(size - format::kFooterBytes, ft, sizeof ft) || format::get_u32(ft + 12) != format::kFooterMagic ||
        format::crc32(ft, 8) != format::get_u32(ft + 8))
        return;
    const uint64_t index_off = format::get_u64(ft);
    if (index_off >= data_begin && index_off <= size - format::kFooterBytes - format::kChunkHeaderBytes &&
        read_index(index_off)) {
        has_footer = true;
        data_end = index_off;
        warning.clear();
    } else {
        warning = path + ": the trace index is damaged; reading by scanning chunks";
    }
}

// Index payload: uv count | count × (uv t_us, uv offset) | uv first_us | uv last_us | uv records
//                | v3: uv n_summaries | n × (uv t_us, uv offset) | count × uv keyframe chunk ordinal
bool TraceFile::read_index(uint64_t index_off) {
    ChunkHeader h;
    std::vector<uint8_t> raw;
    bool cut = false;
    if (!load_chunk(index_off, h, raw, cut).empty() || h.type != uint8_t(format::ChunkType::Index)) return false;
    proto::Reader r(raw.data(), raw.size());
    const uint64_t n = r.uv();
    if (!r.ok() || n > raw.size()) return false;
    std::vector<KeyframeEntry> list;
    for (uint64_t i = 0; i < n; ++i) {
        KeyframeEntry e;
        e.t_us = r.uv();
        e.offset = r.uv();
        if (!r.ok() || e.offset < data_begin || e.offset >= index_off) return false;
        list.push_back(e);
    }
    if (!r.ok()) return false;
    // The totals (every version writes them) and the v3 fields; a shorter index is an older one.
    if (!r.at_end()) {
        const uint64_t first = r.uv(), last = r.uv(), records = r.uv();
        if (!r.ok()) return false;
        index_extent = true;
        index_first_us = first;
        index_last_us = last;
        index_records = records;
    }
    std::vector<uint64_t> summaries;
    if (!r.at_end()) {
        const uint64_t ns = r.uv();
        if (!r.ok() || ns > raw.size()) return false;
        for (uint64_t i = 0; i < ns; ++i) {
            r.uv();  // the summary's time: not needed to read it
            const uint64_t off = r.uv();
            if (!r.ok() || off < data_begin || off >= index_off) return false;
            summaries.push_back(off);
        }
        if (!r.at_end()) {
            for (auto& e : list) e.chunk_index = r.uv();
            if (!r.ok()) return false;
        }
    }
    keyframes = std::move(list);
    summary_offsets = std::move(summaries);
    return true;
}

void TraceFile::note_chunk(uint64_t off, const ChunkHeader& h, std::optional<uint64_t> kf_time) {
    if (scan_blocked || off != scan_end) return;
    const uint64_t ordinal = chunk_offsets.size();
    chunk_offsets.push_back(off);
    scan_end = off + format::kChunkHeaderBytes + h.stored;
    if (h.type == uint8_t(format::ChunkType::Keyframe)) {
        if (has_footer) {
            auto it = std::lower_bound(keyframes.begin(), keyframes.end(), off,
                                       [](const KeyframeEntry& k, uint64_t o) { return k.offset < o; });
            if (it != keyframes.end() && it->offset == off) it->chunk_index = ordinal;
        } else if (kf_time) {
            keyframes.push_back({*kf_time, off, ordinal});
        }
    } else if (h.type == uint8_t(format::ChunkType::Summary) && !has_footer) {
        summary_offsets.push_back(off);
    }
}

void TraceFile::learn_chunks(uint64_t upto) {
    while (!scan_blocked && scan_end < data_end && scan_end <= upto) {
        ChunkHeader h;
        bool cut = false;
        if (!read_header(scan_end, h, cut).empty()) {
            scan_blocked = !cut;  // a chunk still being written may complete; damage will not
            return;
        }
        if (h.type == uint8_t(format::ChunkType::Index)) return;  // the end of the data
        std::optional<uint64_t> t;
        uint64_t kt = 0;
        if (h.type == uint8_t(format::ChunkType::Keyframe) && !has_footer && peek_keyframe_time(scan_end, h, kt)) t = kt;
        note_chunk(scan_end, h, t);
    }
}

uint64_t TraceFile::ordinal_of(uint64_t offset) {
    auto find = [&]() -> uint64_t {
        auto it = std::lower_bound(chunk_offsets.begin(), chunk_offsets.end(), offset);
        return it != chunk_offsets.end() && *it == offset ? uint64_t(it - chunk_offsets.begin()) : UINT64_MAX;
    };
    if (uint64_t k = find(); k != UINT64_MAX) return k;
    if (offset >= scan_end) learn_chunks(offset);
    return find();
}

// A keyframe's time is its payload's first 8 bytes: unpack only the first zstd block for them.
bool TraceFile::peek_keyframe_time(uint64_t off, const ChunkHeader& h, uint64_t& t_us) {
    uint8_t first[8];
    if (h.raw < 8) return false;
    if (!(h.flags & format::kChunkFlagZstd)) {
        if (h.stored < 8 || !read_at(off + format::kChunkHeaderBytes, first, 8)) return false;
        t_us = format::get_u64(first);
        return true;
    }
    constexpr size_t kPrefix = (128u << 10) + 1024;  // one zstd block, compressed, and its headers
    const size_t n = std::min<size_t>(h.stored, kPrefix);
    scratch.resize(n);
    if (!read_at(off + format::kChunkHeaderBytes, scratch.data(), n)) return false;
    if (!peek_dctx) peek_dctx = ZSTD_createDCtx();
    if (!peek_dctx) return false;
    ZSTD_DCtx_reset(peek_dctx, ZSTD_reset_session_only);
    ZSTD_inBuffer in{scratch.data(), n, 0};
    ZSTD_outBuffer out{first, sizeof first, 0};
    for (int i = 0; i < 4 && out.pos < out.size; ++i)
        if (ZSTD_isError(ZSTD_decompressStream(peek_dctx, &out, &in))) return false;
    if (out.pos < out.size) return false;
    t_us = format::get_u64(first);
    return true;
}

namespace {

// Follows the time deltas (and counts the records) of one chunk's framed records without decoding
// them: every record starts with its type byte and its time delta.
bool walk_frames(TraceFile::Walk& w, const uint8_t* p, size_t n, bool keyframe) {
    proto::Reader r(p, n);
    while (!r.at_end()) {
        const uint64_t len = r.uv();
        if (!r.ok() || len == 0 || len > r.remaining()) return false;
        const uint8_t* rec = p + (n - r.remaining());
        proto::Reader rr(rec, static_cast<size_t>(len));
        rr.u8();
        const int64_t dt = rr.sv();
        if (!rr.ok()) return false;
        if (w.timing) {
            w.prev_t_us = static_cast<uint64_t>(static_cast<int64_t>(w.prev_t_us) + dt);
            if (!w.first_known) { w.first_known = true; w.first_us = w.prev_t_us; }
            w.max_us = w.any ? std::max(w.max_us, w.prev_t_us) : w.prev_t_us;
            w.any = true;
        }
        if (!keyframe && w.counting) ++w.count;
        r = proto::Reader(rec + len, r.remaining() - static_cast<size_t>(len));
    }
    return true;
}

}  // namespace

void TraceFile::update_extent() {
    auto seconds = [&](uint64_t t) {
        return t >= start_us ? double(t - start_us) / 1e6 : -double(start_us - t) / 1e6;
    };
    if (has_footer && index_extent) {
        extent = TraceExtent{};
        extent.any = index_records > 0;
        extent.first_us = index_first_us;
        extent.last_us = index_last_us;
        extent.first_s = seconds(index_first_us);
        extent.last_s = seconds(index_last_us);
        extent.records = index_records;
        return;
    }
    learn_chunks(data_end);
    if (walk.started && extent_data_end == scan_end) return;
    extent_data_end = scan_end;
    const uint64_t saved_index = chunk_index;
    std::vector<uint8_t> raw;
    if (!walk.started) {
        walk.started = true;
        uint64_t start = data_begin;
        walk.timing = walk.counting = true;
        if (!keyframes.empty()) {
            // Decode from the last keyframe (its codec reset makes times absolute) and count from
            // the last Summary (its records_before is exact) — whichever comes first.
            start = keyframes.back().offset;
            walk.timing = walk.counting = false;
            if (!summary_offsets.empty() && summary_offsets.back() < start) start = summary_offsets.back();
        }
        walk.next_chunk = start == data_begin ? 0 : ordinal_of(start);
        if (walk.next_chunk == UINT64_MAX) walk.blocked = true;
        if (start != data_begin && !chunk_offsets.empty()) {
            // The first record's time: the first record of the first chunk (absolute after a reset).
            ChunkHeader h;
            bool cut = false;
            chunk_index = 0;
            if (load_chunk(chunk_offsets[0], h, raw, cut).empty()) {
                Walk first;
                first.timing = true;
                const size_t skip = h.type == uint8_t(format::ChunkType::Keyframe) ? 8 : 0;
                if (raw.size() >= skip) {
                    // Only its first frame matters; a malformed rest is reported when read.
                    proto::Reader r(raw.data() + skip, raw.size() - skip);
                    const uint64_t len = r.uv();
                    if (r.ok() && len > 0 && len <= r.remaining())
                        walk_frames(first, raw.data() + skip, raw.size() - skip - r.remaining() + size_t(len), false);
                }
                if (first.first_known) { walk.first_known = true; walk.first_us = first.first_us; }
            }
        }
    }
    while (!walk.blocked && walk.next_chunk < chunk_offsets.size()) {
        ChunkHeader h;
        bool cut = false;
        chunk_index = walk.next_chunk;
        if (!load_chunk(chunk_offsets[walk.next_chunk], h, raw, cut).empty()) {
            walk.blocked = true;  // damage: the extent covers what comes before it
            break;
        }
        if (h.type == uint8_t(format::ChunkType::Keyframe)) {
            walk.prev_t_us = 0;
            walk.timing = true;
            if (raw.size() < 8 || !walk_frames(walk, raw.data() + 8, raw.size() - 8, true)) walk.blocked = true;
        } else if (h.type == uint8_t(format::ChunkType::Records)) {
            if (!walk_frames(walk, raw.data(), raw.size(), false)) walk.blocked = true;
        } else if (h.type == uint8_t(format::ChunkType::Summary)) {
            proto::Reader r(raw.data() + std::min<size_t>(8, raw.size()), raw.size() - std::min<size_t>(8, raw.size()));
            const uint64_t before = r.uv();
            if (raw.size() >= 8 && r.ok()) {
                walk.count = before;
                walk.counting = true;
            }
        }
        if (walk.blocked) break;
        ++walk.next_chunk;
    }
    chunk_index = saved_index;
    extent = TraceExtent{};
    extent.provisional = !has_footer;
    extent.any = walk.any || walk.first_known;
    extent.first_us = walk.first_known ? walk.first_us : walk.max_us;
    extent.last_us = walk.any ? std::max(walk.max_us, extent.first_us) : extent.first_us;
    extent.first_s = seconds(extent.first_us);
    extent.last_s = seconds(extent.last_us);
    if (walk.counting) extent.records = walk.count;
}

// The first chunk after `after` that is an intact keyframe: from the index when there is one,
// otherwise by searching the bytes for a chunk header whose payload checks out.
bool TraceFile::find_keyframe_after(uint64_t after, uint64_t& found) {
    if (has_footer) {
        for (const auto& k : keyframes)
            if (k.offset > after) { found = k.offset; return true; }
        return false;
    }
    std::vector<uint8_t> block(1 << 16), raw;
    uint64_t off = after + 1;
    const uint64_t saved_index = chunk_index;
    while (off + format::kChunkHeaderBytes <= data_end) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), data_end - off));
        if (!read_at(off, block.data(), n)) break;
        size_t i = 0;
        bool jumped = false;
        for (; i + 4 <= n; ++i) {
            if (format::get_u32(block.data() + i) != format::kChunkMagic) continue;
            ChunkHeader h;
            bool cut = false;
            if (!load_chunk(off + i, h, raw, cut).empty()) continue;
            if (h.type == uint8_t(format::ChunkType::Keyframe) && raw.size() >= 8) {
                chunk_index = saved_index;
                found = off + i;
                return true;
            }
            off += i + format::kChunkHeaderBytes + h.stored;  // an intact chunk: skip it whole
            jumped = true;
            break;
        }
        if (!jumped) off += (i > 3 ? i - 3 : 1);
    }
    chunk_index = saved_index;
    return false;
}

}  // namespace tidemark::model

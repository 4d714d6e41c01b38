// TraceReader (trace_reader.h): validates the header and footer, walks chunks with pread (no
// mmap, so a file shrinking underneath cannot SIGBUS us), checks each chunk's CRC, unpacks it and
// decodes its records with a proto::Codec that is reset at every keyframe. Every failure becomes
// an error message naming the byte offset and how far the data was readable.
#include "tidemark/model/trace/reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

namespace tidemark::model {
namespace {

struct ChunkHeader {
    uint8_t type = 0;
    uint8_t flags = 0;
    uint32_t stored = 0;
    uint32_t raw = 0;
    uint32_t crc = 0;
};

std::string seconds_text(double t_s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", t_s);
    return buf;
}

}  // namespace

class TraceFile {
public:
    ~TraceFile() {
        if (fd >= 0) ::close(fd);
        ZSTD_freeDCtx(dctx);
    }

    bool read_at(uint64_t off, void* buf, size_t n) const {
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

    // Reads and checks the chunk at off into raw (unpacked). Returns "" or the problem.
    std::string load_chunk(uint64_t off, ChunkHeader& h, std::vector<uint8_t>& raw, bool& cut) {
        cut = false;
        const std::string where = "chunk " + std::to_string(chunk_index) + " at byte " + std::to_string(off);
        if (size - off < format::kChunkHeaderBytes) {
            cut = true;
            return "truncated at byte " + std::to_string(size) + " inside the header of " + where;
        }
        uint8_t hb[format::kChunkHeaderBytes];
        if (!read_at(off, hb, sizeof hb)) return "cannot read " + where + ": " + std::strerror(errno);
        if (format::get_u32(hb) != format::kChunkMagic)
            return where + " is corrupt (bad chunk magic)";
        h.type = hb[4];
        h.flags = hb[5];
        h.stored = format::get_u32(hb + 8);
        h.raw = format::get_u32(hb + 12);
        h.crc = format::get_u32(hb + 16);
        if (h.stored > format::kMaxChunkBytes || h.raw > format::kMaxChunkBytes)
            return where + " is corrupt (claims " + std::to_string(std::max(h.stored, h.raw)) +
                   " bytes, over the 64 MiB chunk limit)";
        if (size - off - format::kChunkHeaderBytes < h.stored) {
            cut = true;
            return "truncated at byte " + std::to_string(size) + " inside " + where;
        }
        stored.resize(h.stored);
        if (h.stored && !read_at(off + format::kChunkHeaderBytes, stored.data(), h.stored))
            return "cannot read " + where + ": " + std::strerror(errno);
        if (format::crc32(stored.data(), stored.size()) != h.crc)
            return where + " is corrupt (CRC mismatch)";
        if (h.flags & ~format::kChunkFlagZstd)
            return where + " uses flags this tidemark does not know (0x" + std::to_string(h.flags) +
                   "); upgrade tidemark";
        if (h.flags & format::kChunkFlagZstd) {
            if (!dctx) dctx = ZSTD_createDCtx();
            raw.resize(h.raw);
            const size_t k = dctx ? ZSTD_decompressDCtx(dctx, raw.data(), raw.size(), stored.data(), stored.size()) : 0;
            if (!dctx || ZSTD_isError(k) || k != h.raw)
                return where + " is corrupt (its compressed data does not unpack)";
        } else {
            if (h.raw != h.stored) return where + " is corrupt (length fields disagree)";
            raw.swap(stored);
        }
        return {};
    }

    bool read_index(uint64_t index_off) {
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
        keyframes = std::move(list);
        return true;
    }

    void scan_keyframes() {
        if (has_footer || scanned) return;
        scanned = true;
        keyframes.clear();
        const uint64_t saved_index = chunk_index;
        uint64_t off = data_begin;
        std::vector<uint8_t> raw;
        chunk_index = 0;
        while (off < data_end) {
            ChunkHeader h;
            bool cut = false;
            if (!load_chunk(off, h, raw, cut).empty()) break;
            if (h.type == uint8_t(format::ChunkType::Keyframe) && raw.size() >= 8)
                keyframes.push_back({format::get_u64(raw.data()), off});
            if (h.type == uint8_t(format::ChunkType::Index)) break;
            off += format::kChunkHeaderBytes + h.stored;
            ++chunk_index;
        }
        chunk_index = saved_index;
    }

    std::string readable_upto() const {
        return any_record ? "; data up to t=" + seconds_text(last_time_s) + " s is readable"
                          : "; no records before it are readable";
    }

    // Records the damage (the first one names where and how far data was good), then looks for
    // the next intact keyframe after it: from there the state is complete again, so reading
    // resumes and the caller still gets ReadResult::Error at the end. Returns true if resumed.
    bool fail(const std::string& message, bool resumable, uint64_t damaged_at) {
        failed = true;
        if (error.empty()) error = path + ": " + message + readable_upto();
        else ++later_damage;
        uint64_t next_keyframe = 0;
        if (!resumable || !find_keyframe_after(damaged_at, next_keyframe)) {
            done = true;
            if (later_damage) error += " (" + std::to_string(later_damage) + " more damaged places after it)";
            return false;
        }
        if (!later_damage)
            error += "; reading resumed at the next intact keyframe (byte " + std::to_string(next_keyframe) + ")";
        pos = next_keyframe;
        in_chunk = false;
        payload.clear();
        payload_pos = 0;
        codec.reset();
        after_seek = true;  // deliver that keyframe's state: what was lost is repeated there
        return true;
    }

    // The first chunk after `after` that is an intact keyframe: from the index when there is one,
    // otherwise by searching the bytes for a chunk header whose payload checks out.
    bool find_keyframe_after(uint64_t after, uint64_t& found) {
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

    // Loads the chunk at pos into payload. Returns Record when a chunk with records is ready.
    ReadResult load_next_chunk() {
        for (;;) {
            if (pos >= data_end) {
                done = true;
                if (failed) return ReadResult::Error;
                if (!has_footer) {
                    truncated = true;
                    if (warning.empty())
                        warning = path + ": the trace has no end marker (the recording was cut short, e.g. the "
                                         "agent was killed); data up to t=" + seconds_text(last_time_s) + " s is readable";
                }
                return ReadResult::End;
            }
            ChunkHeader h;
            bool cut = false;
            std::string problem = load_chunk(pos, h, payload, cut);
            if (!problem.empty()) {
                truncated = truncated || cut;
                if (fail(problem, !cut, pos)) continue;
                return ReadResult::Error;
            }
            cur = RecordOrigin{};
            cur.chunk_index = chunk_index;
            cur.chunk_offset = pos;
            cur.chunk_type = static_cast<format::ChunkType>(h.type);
            cur.stored_bytes = h.stored;
            cur.raw_bytes = h.raw;
            cur.compressed = h.flags & format::kChunkFlagZstd;
            pos += format::kChunkHeaderBytes + h.stored;
            ++chunk_index;
            payload_pos = 0;
            record_in_chunk = 0;
            if (h.type == uint8_t(format::ChunkType::Index)) {
                done = true;
                if (failed) return ReadResult::Error;
                if (!has_footer) {
                    truncated = true;
                    warning = path + ": the trace's footer is missing or damaged; all records were read";
                }
                return ReadResult::End;
            }
            if (h.type == uint8_t(format::ChunkType::Keyframe)) {
                if (payload.size() < 8) {
                    if (fail("keyframe " + cur_where() + " is corrupt (too short)", true, cur.chunk_offset)) continue;
                    return ReadResult::Error;
                }
                codec.reset();
                payload_pos = 8;
                cur.keyframe = true;
                deliver_keyframe = options.include_keyframes || after_seek;
            }
            after_seek = false;
            if (h.type != uint8_t(format::ChunkType::Records) && h.type != uint8_t(format::ChunkType::Keyframe))
                continue;  // a chunk type from a newer writer that promised we may skip it
            return ReadResult::Record;
        }
    }

    std::string cur_where() const {
        return "chunk " + std::to_string(cur.chunk_index) + " at byte " + std::to_string(cur.chunk_offset);
    }

    ReadResult next(proto::Record& record, RecordOrigin* origin) {
        for (;;) {
            if (done) return failed ? ReadResult::Error : ReadResult::End;
            if (payload_pos >= payload.size() || !in_chunk) {
                in_chunk = false;
                ReadResult r = load_next_chunk();
                if (r != ReadResult::Record) return r;
                in_chunk = true;
                continue;
            }
            proto::Reader r(payload.data() + payload_pos, payload.size() - payload_pos);
            const uint64_t len = r.uv();
            if (!r.ok() || len == 0 || len > r.remaining()) {
                if (fail("record " + std::to_string(record_in_chunk) + " of " + cur_where() + " is corrupt (bad length)",
                         true, cur.chunk_offset))
                    continue;
                return ReadResult::Error;
            }
            const size_t begin = payload.size() - r.remaining();
            std::string why;
            if (!codec.decode(payload.data() + begin, static_cast<size_t>(len), record, why)) {
                if (fail("record " + std::to_string(record_in_chunk) + " of " + cur_where() + " is corrupt (" + why + ")",
                         true, cur.chunk_offset))
                    continue;
                return ReadResult::Error;
            }
            payload_pos = begin + static_cast<size_t>(len);
            ++record_in_chunk;
            if (cur.keyframe && !deliver_keyframe) continue;
            const uint64_t t = proto::record_time_us(record);
            const double t_s = t >= start_us ? double(t - start_us) / 1e6 : -double(start_us - t) / 1e6;
            if (!cur.keyframe && (!any_record || t_s > last_time_s)) last_time_s = t_s;
            any_record = true;
            if (origin) *origin = cur;
            return ReadResult::Record;
        }
    }

    int fd = -1;
    std::string path;
    uint64_t size = 0;
    uint16_t version = 0;
    uint64_t start_us = 0;
    uint64_t data_begin = 0;
    uint64_t data_end = 0;
    bool has_footer = false;
    bool scanned = false;
    std::vector<KeyframeEntry> keyframes;
    TraceReader::Options options;

    uint64_t pos = 0;
    uint64_t chunk_index = 0;
    std::vector<uint8_t> payload, stored;
    size_t payload_pos = 0;
    uint64_t record_in_chunk = 0;
    bool in_chunk = false;
    bool deliver_keyframe = false;
    bool after_seek = false;
    RecordOrigin cur;
    proto::Codec codec;
    ZSTD_DCtx* dctx = nullptr;

    bool done = false, failed = false, truncated = false, any_record = false;
    uint64_t later_damage = 0;
    double last_time_s = 0;
    std::string error, warning;
};

TraceReader::TraceReader(std::unique_ptr<TraceFile> file) : file_(std::move(file)) {}
TraceReader::~TraceReader() = default;

TraceReader::Opened TraceReader::open(const std::string& path) { return open(path, Options{}); }

TraceReader::Opened TraceReader::open(const std::string& path, const Options& options) {
    Opened out;
    auto f = std::make_unique<TraceFile>();
    f->path = path;
    f->options = options;
    f->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (f->fd < 0 || ::fstat(f->fd, &st) != 0) {
        out.status = Status::error("cannot open trace file " + path + ": " + std::strerror(errno));
        return out;
    }
    if (!S_ISREG(st.st_mode)) {
        out.status = Status::error(path + " is not a regular file; give the path of a .tidemark trace");
        return out;
    }
    f->size = static_cast<uint64_t>(st.st_size);
    uint8_t h[format::kFileHeaderBytes] = {};
    const size_t got = static_cast<size_t>(std::min<uint64_t>(f->size, sizeof h));
    if (got > 0 && !f->read_at(0, h, got)) {
        out.status = Status::error("cannot read trace file " + path + ": " + std::strerror(errno));
        return out;
    }
    const size_t magic_n = std::min<size_t>(got, 8);
    if (got < 8 ? (magic_n == 0 || std::memcmp(h, format::kFileMagic, magic_n) != 0)
                : std::memcmp(h, format::kFileMagic, 8) != 0) {
        out.status = Status::error(path + " is not a tidemark trace (bad magic)");
        return out;
    }
    if (got < format::kFileHeaderBytes) {
        out.status = Status::error(path + ": truncated at byte " + std::to_string(f->size) +
                                   " inside the file header; no data is readable");
        return out;
    }
    f->version = format::get_u16(h + 8);
    const uint16_t min_reader = format::get_u16(h + 10);
    const uint32_t header_len = format::get_u32(h + 12);
    f->start_us = format::get_u64(h + 16);
    const std::string window = "(reads " + std::to_string(format::kOldestReadable) + "–" +
                               std::to_string(format::kCurrentVersion) + ")";
    if (f->version < format::kOldestReadable) {
        out.status = Status::error(path + ": trace format version " + std::to_string(f->version) +
                                   " is older than this tidemark can read " + window +
                                   "; open it with an older tidemark release");
        return out;
    }
    if (f->version > format::kCurrentVersion && min_reader > format::kCurrentVersion) {
        out.status = Status::error(path + ": trace format version " + std::to_string(f->version) +
                                   " is newer than this tidemark " + window + "; upgrade tidemark");
        return out;
    }
    if (header_len < format::kFileHeaderBytes || header_len > f->size) {
        out.status = Status::error(path + ": the file header is corrupt (header length " +
                                   std::to_string(header_len) + ")");
        return out;
    }
    f->data_begin = header_len;
    f->data_end = f->size;
    f->pos = f->data_begin;
    if (f->size >= f->data_begin + format::kChunkHeaderBytes + format::kFooterBytes) {
        uint8_t ft[format::kFooterBytes];
        if (f->read_at(f->size - format::kFooterBytes, ft, sizeof ft) &&
            format::get_u32(ft + 12) == format::kFooterMagic && format::crc32(ft, 8) == format::get_u32(ft + 8)) {
            const uint64_t index_off = format::get_u64(ft);
            if (index_off >= f->data_begin && index_off <= f->size - format::kFooterBytes - format::kChunkHeaderBytes &&
                f->read_index(index_off)) {
                f->has_footer = true;
                f->data_end = index_off;
            } else {
                f->warning = path + ": the trace index is damaged; reading by scanning chunks";
            }
        }
    }
    out.reader.reset(new TraceReader(std::move(f)));
    return out;
}

ReadResult TraceReader::next(proto::Record& record, RecordOrigin* origin) { return file_->next(record, origin); }

Status TraceReader::seek(double t_s) {
    TraceFile& f = *file_;
    f.scan_keyframes();
    const double target = static_cast<double>(f.start_us) + t_s * 1e6;
    uint64_t offset = f.data_begin;
    for (const auto& k : f.keyframes)
        if (static_cast<double>(k.t_us) <= target && k.offset > offset) offset = k.offset;
    f.pos = offset;
    f.chunk_index = 0;  // recounted below so messages name the right chunk
    if (offset != f.data_begin) {
        for (uint64_t off = f.data_begin; off < offset;) {
            uint8_t hb[format::kChunkHeaderBytes];
            if (!f.read_at(off, hb, sizeof hb)) break;
            off += format::kChunkHeaderBytes + format::get_u32(hb + 8);
            ++f.chunk_index;
        }
    }
    f.codec.reset();
    f.in_chunk = false;
    f.payload.clear();
    f.payload_pos = 0;
    f.done = f.failed = false;
    f.error.clear();
    f.later_damage = 0;
    f.any_record = false;
    f.last_time_s = 0;
    f.after_seek = true;
    return {};
}

uint64_t TraceReader::start_us() const { return file_->start_us; }
uint16_t TraceReader::file_version() const { return file_->version; }
uint64_t TraceReader::file_size() const { return file_->size; }
bool TraceReader::has_footer() const { return file_->has_footer; }
const std::vector<KeyframeEntry>& TraceReader::keyframes() const {
    file_->scan_keyframes();
    return file_->keyframes;
}
const std::string& TraceReader::error() const { return file_->error; }
const std::string& TraceReader::warning() const { return file_->warning; }
bool TraceReader::truncated() const { return file_->truncated; }
double TraceReader::last_time_s() const { return file_->last_time_s; }

LoadedTrace load_timeline(const std::string& path) {
    LoadedTrace out;
    auto opened = TraceReader::open(path);
    if (!opened.status) {
        out.error = opened.status.message();
        return out;
    }
    TraceReader& reader = *opened.reader;
    out.timeline.set_start_us(reader.start_us());
    proto::Record record;
    ReadResult r;
    while ((r = reader.next(record)) == ReadResult::Record) out.timeline.apply(record);
    if (r == ReadResult::Error) out.error = reader.error();
    out.warning = reader.warning();
    out.truncated = reader.truncated();
    return out;
}

}  // namespace tidemark::model

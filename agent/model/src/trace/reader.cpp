// TraceReader (trace/reader.h): validates the header and footer, then decodes chunk after chunk
// (trace_file.cpp checks each one's CRC and unpacks it) with a proto::Codec that is reset at every
// keyframe. Every failure becomes an error message naming the byte offset and how far the data was
// readable. Seeking binary-searches the keyframe table; following re-reads the file size at the
// end of the data instead of ending.
#include "tidemark/model/trace/reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <tuple>
#include <unordered_map>

#include "trace_file.h"

namespace tidemark::model {

std::string TraceFile::readable_upto() const {
    return any_record ? "; data up to t=" + seconds_text(last_time_s) + " s is readable"
                      : "; no records before it are readable";
}

// Records the damage (the first one names where and how far data was good), then looks for
// the next intact keyframe after it: from there the state is complete again, so reading
// resumes and the caller still gets ReadResult::Error at the end. Returns true if resumed.
bool TraceFile::fail(const std::string& message, bool resumable, uint64_t damaged_at) {
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

// Loads the chunk at pos into payload. Returns Record when a chunk with records is ready.
ReadResult TraceFile::load_next_chunk() {
    const bool following = options.follow && !has_footer;
    for (;;) {
        if (pos >= data_end) {
            if (following) {
                refresh_size();
                if (pos >= data_end) return ReadResult::Pending;
                continue;
            }
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
            if (cut && following) {
                // The writer is inside this chunk (or has not written it yet): wait for the rest.
                // A bigger file may complete it; a chunk that never completes stays Pending.
                const uint64_t before = size;
                refresh_size();
                if (size > before) continue;
                return ReadResult::Pending;
            }
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
        std::optional<uint64_t> kf_time;
        if (h.type == uint8_t(format::ChunkType::Keyframe) && payload.size() >= 8) kf_time = format::get_u64(payload.data());
        if (h.type != uint8_t(format::ChunkType::Index)) note_chunk(pos, h, kf_time);
        pos += format::kChunkHeaderBytes + h.stored;
        ++chunk_index;
        payload_pos = 0;
        record_in_chunk = 0;
        if (h.type == uint8_t(format::ChunkType::Index)) {
            done = true;
            if (!has_footer) {
                refresh_size();
                read_footer();  // a followed file: the writer has just closed it
            }
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
            continue;  // a Summary (read by read_summaries) or a type from a newer writer that may be skipped
        return ReadResult::Record;
    }
}

std::string TraceFile::cur_where() const {
    return "chunk " + std::to_string(cur.chunk_index) + " at byte " + std::to_string(cur.chunk_offset);
}

ReadResult TraceFile::next(proto::Record& record, RecordOrigin* origin) {
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

void TraceFile::reposition(uint64_t offset, uint64_t ordinal) {
    pos = offset;
    chunk_index = ordinal;
    codec.reset();
    in_chunk = false;
    payload.clear();
    payload_pos = 0;
    done = failed = false;
    error.clear();
    later_damage = 0;
    any_record = false;
    last_time_s = 0;
    after_seek = true;
    folded.clear();
    folded_pos = 0;
    held.reset();
    held_result.reset();
}

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
    f->scan_end = f->data_begin;
    f->read_footer();
    out.reader.reset(new TraceReader(std::move(f)));
    return out;
}

ReadResult TraceReader::next(proto::Record& record, RecordOrigin* origin) {
    TraceFile& f = *file_;
    if (f.folded_pos < f.folded.size()) {  // seek_exact(): the state at its target first
        record = std::move(f.folded[f.folded_pos++]);
        if (f.folded_pos == f.folded.size()) {
            f.folded.clear();
            f.folded_pos = 0;
        }
        if (origin) *origin = f.folded_origin;
        return ReadResult::Record;
    }
    if (f.held) {
        record = std::move(*f.held);
        f.held.reset();
        if (origin) *origin = f.held_origin;
        return ReadResult::Record;
    }
    if (f.held_result) {
        const ReadResult r = *f.held_result;
        f.held_result.reset();
        return r;
    }
    return f.next(record, origin);
}

Status TraceReader::seek(double t_s) {
    TraceFile& f = *file_;
    if (!f.has_footer) {
        if (f.options.follow) f.refresh_size();
        f.learn_chunks(f.data_end);
    }
    const double target = static_cast<double>(f.start_us) + t_s * 1e6;
    // The last keyframe at or before the target. Keyframes are in file order, and their times
    // ascend (the writer keys them on record time); a hostile index that is not sorted still gets
    // an answer, just not necessarily the best one.
    auto it = std::upper_bound(f.keyframes.begin(), f.keyframes.end(), target,
                               [](double t, const KeyframeEntry& k) { return t < static_cast<double>(k.t_us); });
    uint64_t offset = f.data_begin, ordinal = 0;
    if (it != f.keyframes.begin()) {
        const KeyframeEntry& k = *(it - 1);
        offset = k.offset;
        ordinal = k.chunk_index != UINT64_MAX ? k.chunk_index : f.ordinal_of(k.offset);
        if (ordinal == UINT64_MAX) {
            // Not reachable through intact headers (damage before it): count what can be counted.
            ordinal = 0;
            for (uint64_t off = f.data_begin; off < offset; ++ordinal) {
                uint8_t hb[format::kChunkHeaderBytes];
                if (!f.read_at(off, hb, sizeof hb)) break;
                ++f.stats.header_reads;
                off += format::kChunkHeaderBytes + format::get_u32(hb + 8);
            }
        }
    }
    f.reposition(offset, ordinal);
    return {};
}

Status TraceReader::seek_exact(double t_s) {
    if (Status s = seek(t_s); !s) return s;
    TraceFile& f = *file_;
    const double target = static_cast<double>(f.start_us) + t_s * 1e6;
    // The fold: the keyframe's records as they are, then the records before the target — a stream's
    // or a process's newer sample (or an aggregate's newer copy) replaces the one held in place, the
    // rest (creations, events, strings, pipelines) is appended in order. Cheaper than rebuilding a
    // KeyframeState, and bounded by one keyframe interval of non-sample records.
    std::vector<proto::Record>& state = f.folded;
    state.clear();
    size_t hint = 0;
    // Size the fold once from the keyframe's unpacked size (its chunk header), so the first seek
    // does not grow the vector step by step: each step copies it and touches fresh pages, which
    // made the first seek of a process ~10x slower than the next ones.
    {
        auto kf = std::upper_bound(f.keyframes.begin(), f.keyframes.end(), target,
                                   [](double t, const KeyframeEntry& k) { return t < static_cast<double>(k.t_us); });
        uint8_t hb[format::kChunkHeaderBytes];
        if (kf != f.keyframes.begin() && f.read_at((kf - 1)->offset, hb, sizeof hb)) {
            const uint64_t raw = std::min<uint64_t>(format::get_u32(hb + 12), format::kMaxChunkBytes);
            const size_t estimate = static_cast<size_t>(raw / 12) + 1024;  // a state record packs into ~18 bytes
            if (state.capacity() < estimate) state.reserve(estimate);
            hint = estimate;
        }
    }
    std::unordered_map<uint64_t, size_t> sample_at;
    sample_at.reserve(hint);
    std::unordered_map<uint32_t, size_t> process_at;
    std::map<std::tuple<uint32_t, uint32_t, uint32_t>, size_t> aggregate_at;
    auto place = [&](proto::Record& r) {
        size_t* slot = nullptr;
        if (const auto* x = std::get_if<proto::StreamSample>(&r)) {
            slot = &sample_at.try_emplace(x->id, state.size()).first->second;
        } else if (const auto* p = std::get_if<proto::ProcessSample>(&r)) {
            slot = &process_at.try_emplace(p->proc, state.size()).first->second;
        } else if (const auto* a = std::get_if<proto::StreamAggregate>(&r)) {
            slot = &aggregate_at.try_emplace({a->proc, a->type_str, a->site_str}, state.size()).first->second;
            if (*slot < state.size() && proto::record_time_us(state[*slot]) > a->t_us) return;  // older copy
        } else if (std::holds_alternative<proto::AgentNote>(r)) {
            return;  // free text of its moment, not state
        } else if (const auto* e = std::get_if<proto::StreamEvent>(&r); e && e->kind == proto::StreamEventKind::Gone) {
            sample_at.erase(e->id);
        }
        if (slot && *slot < state.size()) state[*slot] = std::move(r);
        else state.push_back(std::move(r));
    };
    proto::Record r;
    RecordOrigin o;
    ReadResult res;
    bool landed = false;
    while ((res = f.next(r, &o)) == ReadResult::Record) {
        if (!landed) {
            f.folded_origin = o;
            landed = true;
        }
        if (!o.keyframe && static_cast<double>(proto::record_time_us(r)) >= target) break;
        place(r);
    }
    f.folded_pos = 0;
    f.folded_origin.keyframe = true;
    f.folded_origin.folded = true;
    if (res == ReadResult::Record) {
        f.held = std::move(r);
        f.held_origin = o;
    } else {
        f.held_result = res;
    }
    return {};
}

void TraceReader::set_follow(bool follow) { file_->options.follow = follow; }

const TraceExtent& TraceReader::extent() const {
    TraceFile& f = *file_;
    if (f.options.follow && !f.has_footer) f.refresh_size();
    f.update_extent();
    return f.extent;
}

uint64_t TraceReader::start_us() const { return file_->start_us; }
uint16_t TraceReader::file_version() const { return file_->version; }
uint64_t TraceReader::file_size() const { return file_->size; }
bool TraceReader::has_footer() const { return file_->has_footer; }
const std::vector<KeyframeEntry>& TraceReader::keyframes() const {
    if (!file_->has_footer) file_->learn_chunks(file_->data_end);
    return file_->keyframes;
}
const std::string& TraceReader::error() const { return file_->error; }
const std::string& TraceReader::warning() const { return file_->warning; }
bool TraceReader::truncated() const { return file_->truncated; }
double TraceReader::last_time_s() const { return file_->last_time_s; }
const ReadStats& TraceReader::stats() const { return file_->stats; }
const std::string& TraceReader::path() const { return file_->path; }

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

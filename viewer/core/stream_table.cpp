#include "core/stream_table.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <unordered_map>

#include "tidemark/model/util/bytes.h"

namespace tidemark::viewer {

namespace {

bool contains_ci(std::string_view hay, const std::string& needle) {
    if (needle.empty()) return true;
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    return it != hay.end();
}

int flowing_of(uint32_t flags) {
    switch (static_cast<proto::Flowing>(flags & proto::kFlowingMask)) {
        case proto::Flowing::Flowing: return 1;
        case proto::Flowing::Paused: return 0;
        default: return -1;
    }
}

}  // namespace

double StreamRow::fill() const {
    double f = 0;
    if (readable_hwm) f = std::max(f, static_cast<double>(readable_length) / static_cast<double>(readable_hwm));
    if (writable_hwm) f = std::max(f, static_cast<double>(writable_length) / static_cast<double>(writable_hwm));
    return f;
}

std::string display_site(const std::string& site) {
    if (site.empty() || site[0] != '/') return site;
    static const std::string cwd = [] {
        std::error_code ec;
        std::string c = std::filesystem::current_path(ec).string();
        return ec ? std::string() : c + "/";
    }();
    if (!cwd.empty() && site.compare(0, cwd.size(), cwd) == 0) return site.substr(cwd.size());
    size_t cut = site.size(), slashes = 0;
    while (cut > 0 && slashes < 3)
        if (site[--cut] == '/') ++slashes;
    return slashes == 3 && cut > 0 ? "…" + site.substr(cut) : site;
}

std::string format_bytes(uint64_t bytes) { return model::format_bytes(static_cast<double>(bytes)); }

std::string stream_state(const model::StreamInfo& s) {
    if (s.gone_s) return "gone";
    if (s.error_s) return "errored";
    if (s.destroyed_s) return "destroyed";
    if (s.closed_s) return "closed";
    if (s.ended_s && s.finished_s) return "done";
    if (s.finished_s) return "finished";
    if (s.ended_s) return "ended";
    return "open";
}

void StreamTableModel::set_cursor(std::shared_ptr<const model::Timeline> at_cursor, double t_s) {
    if (at_cursor == cursor_ && t_s == t_s_) return;
    cursor_ = std::move(at_cursor);
    t_s_ = t_s;
    dirty_ = true;
}

void StreamTableModel::set_summaries(std::shared_ptr<const model::StreamTable> table) {
    if (table == summaries_) return;
    summaries_ = std::move(table);
    dirty_ = true;
}

void StreamTableModel::set_findings(const std::vector<model::Finding>& findings) {
    std::vector<std::pair<uint64_t, int>> flagged;
    for (const model::Finding& f : findings) {
        if (!f.stream) continue;
        flagged.emplace_back(f.stream->id, static_cast<int>(f.severity));
    }
    std::sort(flagged.begin(), flagged.end(), [](auto& a, auto& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); });
    flagged.erase(std::unique(flagged.begin(), flagged.end(), [](auto& a, auto& b) { return a.first == b.first; }),
                  flagged.end());
    if (flagged == flagged_) return;
    flagged_ = std::move(flagged);
    dirty_ = true;
}

void StreamTableModel::set_filter(const TableFilter& f) {
    if (f.text == filter_.text && f.only_alive == filter_.only_alive && f.only_flagged == filter_.only_flagged &&
        f.show_aggregates == filter_.show_aggregates)
        return;
    filter_ = f;
    sort_dirty_ = true;
}

void StreamTableModel::set_sort(SortColumn c, bool descending) {
    if (c == sort_ && descending == descending_) return;
    sort_ = c;
    descending_ = descending;
    sort_dirty_ = true;
}

const std::vector<const StreamRow*>& StreamTableModel::rows() {
    if (dirty_) rebuild();
    if (sort_dirty_) resort();
    return visible_;
}

size_t StreamTableModel::total_rows() {
    if (dirty_) rebuild();
    return all_.size();
}

const StreamRow* StreamTableModel::find(uint64_t id) {
    if (dirty_) rebuild();
    for (const StreamRow& r : all_)
        if (r.kind == StreamRow::Kind::Stream && r.id == id) return &r;
    return nullptr;
}

std::optional<size_t> StreamTableModel::index_of(uint64_t id) {
    const auto& v = rows();
    for (size_t i = 0; i < v.size(); ++i)
        if (v[i]->kind == StreamRow::Kind::Stream && v[i]->id == id) return i;
    return std::nullopt;
}

void StreamTableModel::rebuild() {
    all_.clear();
    all_.reserve((cursor_ ? cursor_->streams().size() + cursor_->aggregates().size() : 0) +
                 (summaries_ ? summaries_->streams.size() : 0));
    std::unordered_map<uint64_t, const model::StreamSummary*> by_id;
    if (summaries_) {
        by_id.reserve(summaries_->streams.size());
        for (const model::StreamSummary& s : summaries_->streams) by_id[s.id] = &s;
    }
    auto severity_of = [&](uint64_t id) {
        auto it = std::lower_bound(flagged_.begin(), flagged_.end(), std::make_pair(id, 1 << 30),
                                   [](auto& a, auto& b) { return a.first < b.first; });
        return it != flagged_.end() && it->first == id ? it->second : -1;
    };
    if (cursor_) {
        const model::Timeline& tl = *cursor_;
        for (const model::StreamInfo& s : tl.streams()) {
            StreamRow r;
            r.id = s.id;
            r.proc = s.proc;
            if (const model::ProcessInfo* p = tl.process(s.proc)) r.thread_id = p->thread_id;
            r.kind_bits = s.kind;
            r.type = s.type;
            r.site = s.site;
            r.readable_hwm = s.readable_hwm;
            r.writable_hwm = s.writable_hwm;
            r.alive = !s.gone_s || *s.gone_s > t_s_;
            if (const proto::StreamSample* last = s.last()) {
                r.readable_length = last->readable_length;
                r.writable_length = last->writable_length;
                r.flags = last->flags;
                r.flowing = flowing_of(last->flags);
                r.writes_after_false = last->writes_after_false;
                r.pushes_after_false = last->pushes_after_false;
                r.bytes_in = last->bytes_in;
                r.bytes_pushed = last->bytes_pushed;
            }
            if (!s.readable()) r.flowing = -2;  // not applicable
            r.state = stream_state(s);
            r.peak_readable = s.peak_readable_length;
            r.peak_writable = s.peak_writable_length;
            r.created_s = s.created_s;
            r.gone_s = s.gone_s;
            r.piped_to = &s.piped_to;
            if (auto it = by_id.find(s.id); it != by_id.end()) {
                r.peak_readable = std::max(r.peak_readable, it->second->peak_readable_length);
                r.peak_writable = std::max(r.peak_writable, it->second->peak_writable_length);
            }
            r.severity = severity_of(s.id);
            all_.push_back(std::move(r));
        }
        for (const model::StreamAggregateInfo& a : tl.aggregates()) {
            StreamRow r;
            r.kind = StreamRow::Kind::Aggregate;
            r.proc = a.proc;
            r.kind_bits = a.latest.kind;
            r.type = a.type;
            r.site = a.site;
            r.readable_hwm = a.latest.readable_hwm;
            r.writable_hwm = a.latest.writable_hwm;
            r.peak_readable = a.latest.peak_readable_length;
            r.peak_writable = a.latest.peak_writable_length;
            r.bytes_in = a.latest.bytes_in;
            r.bytes_pushed = a.latest.bytes_pushed;
            r.count = a.latest.created;
            r.created_s = a.first_s;
            r.state = "aggregate";
            r.flowing = -2;
            all_.push_back(std::move(r));
        }
    } else if (summaries_) {
        // No state at the cursor yet: list the trace's streams from their summaries.
        for (const model::StreamSummary& s : summaries_->streams) {
            StreamRow r;
            r.id = s.id;
            r.proc = s.proc;
            r.kind_bits = s.kind;
            r.type = summaries_->string(s.type_str);
            r.site = summaries_->string(s.site_str);
            r.readable_hwm = s.readable_hwm;
            r.writable_hwm = s.writable_hwm;
            r.alive = s.live;
            r.flags = s.last_flags;
            r.flowing = (s.kind & proto::kKindReadable) ? flowing_of(s.last_flags) : -2;
            r.writes_after_false = s.writes_after_false;
            r.pushes_after_false = s.pushes_after_false;
            r.peak_readable = s.peak_readable_length;
            r.peak_writable = s.peak_writable_length;
            r.piped_to = &s.piped_to;
            r.state = s.live ? "open" : "gone";
            r.severity = severity_of(s.id);
            all_.push_back(std::move(r));
        }
    }
    dirty_ = false;
    sort_dirty_ = true;
}

void StreamTableModel::resort() {
    visible_.clear();
    for (const StreamRow& r : all_) {
        if (r.kind == StreamRow::Kind::Aggregate) {
            if (!filter_.show_aggregates || filter_.only_flagged) continue;
        } else {
            if (filter_.only_alive && !r.alive && r.severity < 0) continue;  // flagged ones stay listed
            if (filter_.only_flagged && r.severity < 0) continue;
        }
        if (!filter_.text.empty() && !contains_ci(r.type, filter_.text) && !contains_ci(r.site, filter_.text) &&
            !(r.id && std::to_string(r.id) == filter_.text))
            continue;
        visible_.push_back(&r);
    }
    auto key_less = [&](const StreamRow& a, const StreamRow& b) -> bool {
        switch (sort_) {
            case SortColumn::Id: return a.id < b.id;
            case SortColumn::Type: return a.type < b.type;
            case SortColumn::Site: return a.site < b.site;
            case SortColumn::Buffered:
                return a.readable_length + a.writable_length < b.readable_length + b.writable_length;
            case SortColumn::Fill: return a.fill() < b.fill();
            case SortColumn::Peak: return std::max(a.peak_readable, a.peak_writable) < std::max(b.peak_readable, b.peak_writable);
            case SortColumn::Flowing: return a.flowing < b.flowing;
            case SortColumn::AfterFalse:
                return a.writes_after_false + a.pushes_after_false < b.writes_after_false + b.pushes_after_false;
            case SortColumn::State: return a.state < b.state;
            case SortColumn::Created: return a.created_s < b.created_s;
        }
        return false;
    };
    std::stable_sort(visible_.begin(), visible_.end(), [&](const StreamRow* pa, const StreamRow* pb) {
        const StreamRow& a = *pa;
        const StreamRow& b = *pb;
        // Flagged streams first, aggregates last, the chosen order within; ties by id.
        if ((a.severity >= 0) != (b.severity >= 0)) return a.severity >= 0;
        if (a.kind != b.kind) return a.kind == StreamRow::Kind::Stream;
        if (descending_ ? key_less(b, a) : key_less(a, b)) return true;
        if (descending_ ? key_less(a, b) : key_less(b, a)) return false;
        return a.id < b.id;
    });
    sort_dirty_ = false;
}

}  // namespace tidemark::viewer

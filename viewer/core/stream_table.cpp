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

const char* stream_state(const model::StreamInfo& s) {
    if (s.gone_s) return "gone";
    if (s.error_s) return "errored";
    if (s.destroyed_s) return "destroyed";
    if (s.closed_s) return "closed";
    if (s.ended_s && s.finished_s) return "done";
    if (s.finished_s) return "finished";
    if (s.ended_s) return "ended";
    return "open";
}

std::vector<std::pair<uint64_t, int>> flagged_streams(const std::vector<model::Finding>& findings) {
    std::vector<std::pair<uint64_t, int>> flagged;
    for (const model::Finding& f : findings) {
        if (!f.stream) continue;
        flagged.emplace_back(f.stream->id, static_cast<int>(f.severity));
    }
    std::sort(flagged.begin(), flagged.end(), [](auto& a, auto& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); });
    flagged.erase(std::unique(flagged.begin(), flagged.end(), [](auto& a, auto& b) { return a.first == b.first; }),
                  flagged.end());
    return flagged;
}

namespace {

std::vector<StreamRow> build_rows(const TableInputs& in) {
    std::vector<StreamRow> all;
    const model::Timeline* cursor = in.at_cursor.get();
    const model::StreamTable* summaries = in.summaries.get();
    all.reserve(cursor ? cursor->streams().size() + cursor->aggregates().size() : summaries ? summaries->streams.size() : 0);
    std::unordered_map<uint64_t, const model::StreamSummary*> by_id;
    if (cursor && summaries) {
        by_id.reserve(summaries->streams.size());
        for (const model::StreamSummary& s : summaries->streams) by_id[s.id] = &s;
    }
    auto severity_of = [&](uint64_t id) {
        auto it = std::lower_bound(in.flagged.begin(), in.flagged.end(), std::make_pair(id, 1 << 30),
                                   [](auto& a, auto& b) { return a.first < b.first; });
        return it != in.flagged.end() && it->first == id ? it->second : -1;
    };
    if (cursor) {
        const model::Timeline& tl = *cursor;
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
            r.alive = !s.gone_s || *s.gone_s > in.t_s;
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
            all.push_back(r);
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
            all.push_back(r);
        }
    } else if (summaries) {
        // No state at the cursor yet: list the trace's streams from their summaries.
        for (const model::StreamSummary& s : summaries->streams) {
            StreamRow r;
            r.id = s.id;
            r.proc = s.proc;
            r.kind_bits = s.kind;
            r.type = summaries->string(s.type_str);
            r.site = summaries->string(s.site_str);
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
            all.push_back(r);
        }
    }
    return all;
}

}  // namespace

StreamTableModel::StreamTableModel()
    : inputs_(std::make_shared<TableInputs>()),
      all_(std::make_shared<std::vector<StreamRow>>()),
      by_id_(std::make_shared<std::vector<std::pair<uint64_t, size_t>>>()) {}

std::shared_ptr<const StreamTableModel> StreamTableModel::build(TableInputs in, const TableSpec& spec) {
    auto t = std::make_shared<StreamTableModel>();
    auto inputs = std::make_shared<TableInputs>(std::move(in));
    auto all = std::make_shared<std::vector<StreamRow>>(build_rows(*inputs));
    auto by_id = std::make_shared<std::vector<std::pair<uint64_t, size_t>>>();
    by_id->reserve(all->size());
    for (size_t i = 0; i < all->size(); ++i)
        if ((*all)[i].kind == StreamRow::Kind::Stream) by_id->emplace_back((*all)[i].id, i);
    std::sort(by_id->begin(), by_id->end());
    t->inputs_ = std::move(inputs);
    t->all_ = std::move(all);
    t->by_id_ = std::move(by_id);
    t->spec_ = spec;
    t->sort_and_filter();
    return t;
}

std::shared_ptr<const StreamTableModel> StreamTableModel::resorted(const std::shared_ptr<const StreamTableModel>& base,
                                                                   const TableSpec& spec) {
    auto t = std::make_shared<StreamTableModel>();
    t->inputs_ = base->inputs_;
    t->all_ = base->all_;
    t->by_id_ = base->by_id_;
    t->spec_ = spec;
    t->sort_and_filter();
    return t;
}

const StreamRow* StreamTableModel::find(uint64_t id) const {
    auto it = std::lower_bound(by_id_->begin(), by_id_->end(), std::make_pair(id, size_t{0}));
    return it != by_id_->end() && it->first == id ? &(*all_)[it->second] : nullptr;
}

std::optional<size_t> StreamTableModel::index_of(uint64_t id) const {
    for (size_t i = 0; i < visible_.size(); ++i)
        if (visible_[i]->kind == StreamRow::Kind::Stream && visible_[i]->id == id) return i;
    return std::nullopt;
}

void StreamTableModel::sort_and_filter() {
    const TableFilter& f = spec_.filter;
    const bool descending = spec_.descending;
    // A search that is a number also matches that stream id.
    std::optional<uint64_t> text_id;
    if (!f.text.empty() && f.text.size() < 20 && std::all_of(f.text.begin(), f.text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        text_id = std::stoull(f.text);
    visible_.clear();
    visible_.reserve(all_->size());
    for (const StreamRow& r : *all_) {
        if (r.kind == StreamRow::Kind::Aggregate) {
            if (!f.show_aggregates || f.only_flagged) continue;
        } else {
            if (f.only_alive && !r.alive && r.severity < 0) continue;  // flagged ones stay listed
            if (f.only_flagged && r.severity < 0) continue;
        }
        if (!f.text.empty() && !contains_ci(r.type, f.text) && !contains_ci(r.site, f.text) &&
            !(r.id && text_id == r.id))
            continue;
        visible_.push_back(&r);
    }
    auto key_less = [&](const StreamRow& a, const StreamRow& b) -> bool {
        switch (spec_.sort) {
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
            case SortColumn::State: return std::string_view(a.state) < std::string_view(b.state);
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
        if (descending ? key_less(b, a) : key_less(a, b)) return true;
        if (descending ? key_less(a, b) : key_less(b, a)) return false;
        return a.id < b.id;
    });
}

}  // namespace tidemark::viewer

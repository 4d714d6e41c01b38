#include "core/view_state.h"

#include <algorithm>

namespace tidemark::viewer {

ViewState::ViewState(std::unique_ptr<Session> session) : session_(std::move(session)) {
    cursor_.set_span(session_->first_s(), session_->last_s());
    if (session_->live()) cursor_.set_following(true);
    analysis_ = session_->analysis();
    cursor_view_ = session_->cursor();
}

double ViewState::view_t0() const { return view_ ? view_->first : cursor_.first(); }
double ViewState::view_t1() const {
    if (view_) return view_->second;
    return std::max(cursor_.last(), cursor_.first() + 1.0);
}

void ViewState::set_view(double t0, double t1) {
    double span_first = cursor_.first(), span_last = std::max(cursor_.last(), cursor_.first() + 1.0);
    double width = std::clamp(t1 - t0, 0.05, span_last - span_first);
    if (width >= span_last - span_first - 1e-9) {
        view_.reset();
        return;
    }
    t0 = std::clamp(t0, span_first, span_last - width);
    view_ = {t0, t0 + width};
}

bool ViewState::update(double wall_dt_s) {
    bool changed = first_update_;
    first_update_ = false;
    if (auto a = session_->analysis(); a != analysis_) {
        analysis_ = std::move(a);
        changed = true;
    }
    if (auto h = session_->history(); h != history_) {
        history_ = std::move(h);
        changed = true;
    }
    double first = session_->first_s(), last = session_->last_s();
    if (first != cursor_.first() || last != cursor_.last()) {
        cursor_.set_span(first, last);
        changed = true;
    }
    if (cursor_.advance(wall_dt_s)) changed = true;
    session_->request_cursor(cursor_.t());
    session_->set_view_inputs(ViewInputs{table_spec_, selected_stream_, native_spec_});
    if (auto c = session_->cursor(); c != cursor_view_) {
        cursor_view_ = std::move(c);  // the old one's deleter hands it to the cursor thread
        changed = true;
    }
    // A trace of a native program (native sites, no streams) opens on its native sites: decided
    // once the analysis has read it (live: 2 s of it), as the cursor's state may have neither yet.
    if (!native_seen_ && analysis_ && analysis_->native && (analysis_->done || analysis_->read_until_s >= 2)) {
        native_seen_ = true;
        if (analysis_->streams_seen == 0 && cursor_view_->table->total_rows() == 0 && panel_ == Panel::Streams)
            request_panel(Panel::Native);
    }
    return changed;
}

void ViewState::apply(const Event& e) {
    if (const auto* s = e.get<SelectStream>()) {
        selected_stream_ = s->id;
        session_->request_series(s->id);
        if (s->id) request_panel(Panel::Streams);
        return;
    }
    if (const auto* n = e.get<SelectNativeSite>()) {
        native_spec_.selected = !n->clear;
        native_spec_.selected_proc = n->clear ? kAnyProc : n->proc;
        native_spec_.selected_site = n->clear ? 0 : n->site;
        native_spec_.selected_hint = n->clear ? std::string() : n->hint;
        if (!n->clear) request_panel(Panel::Native);
        return;
    }
    if (const auto* g = e.get<GoToTime>()) {
        if (g->pause) cursor_.pause();
        cursor_.seek(g->t_s);
        // Keep the cursor inside the plot's visible range.
        if (view_ && (g->t_s < view_->first || g->t_s > view_->second)) {
            double w = view_->second - view_->first;
            set_view(g->t_s - w / 2, g->t_s + w / 2);
        }
        return;
    }
    if (const auto* f = e.get<SelectFinding>()) {
        if (!analysis_ || f->index >= analysis_->findings.size()) return;
        selected_finding_ = f->index;
        const model::Finding& finding = analysis_->findings[f->index];
        if (finding.stream) apply(SelectStream{finding.stream->id});
        if (auto site = finding_native_site(finding)) apply(SelectNativeSite{false, kAnyProc, *site, finding.site});
        apply(GoToTime{finding.onset_s, true});
        return;
    }
}

SelectedHistory ViewState::selected_history() const {
    SelectedHistory out;
    if (!selected_stream_) return out;
    if (history_ && history_->id == selected_stream_) {
        out.readable = &history_->readable;
        out.writable = &history_->writable;
        if (!history_->error.empty()) out.status = "reading its history: " + history_->error;
        else if (!history_->found && history_->complete) out.status = "the trace has no samples of it";
        else if (!history_->complete) {
            double span = history_->t1_s - history_->t0_s;
            int pct = span > 0 ? static_cast<int>(100 * (history_->read_until_s - history_->t0_s) / span) : 0;
            out.status = "reading its history from the trace… " + std::to_string(pct) + " %";
        }
        return out;
    }
    if (analysis_ && analysis_->series_id == selected_stream_ && analysis_->series_found && !analysis_->series_partial) {
        out.readable = &analysis_->series_readable;
        out.writable = &analysis_->series_writable;
        if (!analysis_->done) out.status = "(as far as the analysis has read)";
        return out;
    }
    out.status = "loading its history…";
    return out;
}

nlohmann::json ViewState::dump() {
    nlohmann::json j;
    j["trace"] = session_->path();
    j["title"] = session_->title();
    j["live"] = session_->live();
    if (session_->live()) {
        j["live_status"] = session_->live_status();
        j["live_ended"] = session_->live_ended();
    }
    j["span"] = {cursor_.first(), cursor_.last()};
    j["cursor"] = {{"t", cursor_.t()}, {"playing", cursor_.playing()}, {"speed", cursor_.speed()},
                   {"following", cursor_.following()}};
    j["view"] = {view_t0(), view_t1()};
    j["selected_stream"] = selected_stream_;
    j["selected_finding"] = selected_finding_ ? nlohmann::json(*selected_finding_) : nlohmann::json();
    if (selected_stream_) {
        SelectedHistory h = selected_history();
        j["selected_history"] = {{"points", (h.readable ? h.readable->size() : 0) + (h.writable ? h.writable->size() : 0)},
                                 {"from_file", history_ && history_->id == selected_stream_},
                                 {"status", h.status}};
    }
    nlohmann::json findings = nlohmann::json::array();
    if (analysis_) {
        for (const model::Finding& f : analysis_->findings) {
            nlohmann::json fj = {{"kind", model::finding_kind_name(f.kind)},
                                 {"severity", model::severity_name(f.severity)},
                                 {"onset", f.onset_s},
                                 {"site", f.site}};
            if (f.stream) fj["stream"] = f.stream->id;
            findings.push_back(std::move(fj));
        }
        j["analysis"] = {{"done", analysis_->done},
                         {"progress", analysis_->progress},
                         {"read_until", analysis_->read_until_s},
                         {"error", analysis_->error},
                         {"streams_seen", analysis_->streams_seen},
                         {"processes", analysis_->processes.size()}};
    }
    j["findings"] = std::move(findings);
    if (cursor_view_) j["cursor_state"] = {{"t", cursor_view_->t_s}, {"took_ms", cursor_view_->took_ms},
                                           {"derive_ms", cursor_view_->derive_ms}, {"error", cursor_view_->error}};
    const StreamTableModel& table = *cursor_view_->table;
    const auto& rows = table.rows();
    j["table"] = {{"rows", rows.size()}, {"total", table.total_rows()}};
    nlohmann::json top = nlohmann::json::array();
    for (size_t i = 0; i < rows.size() && i < 20; ++i)
        top.push_back({{"id", rows[i]->id}, {"type", std::string(rows[i]->type)}, {"site", std::string(rows[i]->site)},
                       {"readable_length", rows[i]->readable_length}, {"writable_length", rows[i]->writable_length},
                       {"aggregate", rows[i]->kind == StreamRow::Kind::Aggregate}, {"count", rows[i]->count}});
    j["table"]["top"] = std::move(top);
    j["panel"] = panel_ == Panel::Native ? "native" : "streams";
    if (const NativeTableModel* n = native()) {
        nlohmann::json nj;
        nlohmann::json procs = nlohmann::json::array();
        for (const NativeProcessRow& p : n->processes())
            procs.push_back({{"pid", p.pid}, {"mode", native_mode_name(p.mode)}, {"sample_interval_bytes", p.sample_interval_bytes},
                             {"live_bytes", p.live_bytes}, {"sites", p.sites}});
        nj["processes"] = std::move(procs);
        nj["rows"] = n->rows().size();
        nj["matching"] = n->matching_rows();
        nj["total"] = n->total_rows();
        nlohmann::json ntop = nlohmann::json::array();
        for (size_t i = 0; i < n->rows().size() && i < 20; ++i) {
            const NativeRow& r = *n->rows()[i];
            ntop.push_back({{"pid", r.pid}, {"site", r.site}, {"location", r.location}, {"live_bytes", r.live_bytes},
                            {"live_allocations", r.live_allocations}, {"peak_live_bytes", r.peak_live_bytes},
                            {"total_allocated", r.total_allocated},
                            {"growth_bytes_per_s", r.growth_bytes_per_s ? nlohmann::json(*r.growth_bytes_per_s) : nlohmann::json()},
                            {"estimate", r.estimate}, {"flagged", r.severity >= 0}});
        }
        nj["top"] = std::move(ntop);
        if (const auto& sel = n->selection())
            nj["selected"] = {{"site", sel->site}, {"location", sel->location}, {"frames", sel->frames},
                              {"points", sel->live_bytes.size()}, {"whole_history", sel->whole_history}};
        j["native"] = std::move(nj);
    }
    nlohmann::json hits = nlohmann::json::array();
    for (const HitRect& h : hits_) hits.push_back({{"what", h.what}, {"x", h.x}, {"y", h.y}, {"w", h.w}, {"h", h.h}});
    j["hits"] = std::move(hits);
    return j;
}

}  // namespace tidemark::viewer

#include "core/session.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/live_client.h"
#include "tidemark/model/detect/analysis.h"
#include "tidemark/model/trace/window.h"

namespace tidemark::viewer {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The session's bulk readers (the analysis, the history) yield the CPU to the UI thread and the
// software renderer's threads: on a small machine a frame must not wait for a core while the
// trace is read. Linux: per-thread nice.
void lower_this_thread_priority(int nice) {
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

std::string base_name(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

ProcessView process_view(const model::ProcessInfo& p) {
    ProcessView v;
    v.proc = p.proc;
    v.pid = p.pid;
    v.thread_id = p.thread_id;
    v.cmdline = p.cmdline;
    v.runtime_version = p.runtime_version;
    v.exit_code = p.exit_code;
    v.exit_signal = p.exit_signal;
    for (const model::ProcessPoint& s : p.samples) {
        auto d = [](uint64_t x) { return static_cast<double>(x); };
        uint64_t rss_lo = s.merged > 1 ? s.rss_min : s.rss_bytes, rss_hi = s.merged > 1 ? s.rss_max : s.rss_bytes;
        uint64_t hu_lo = s.merged > 1 ? s.heap_used_min : s.heap_used_bytes,
                 hu_hi = s.merged > 1 ? s.heap_used_max : s.heap_used_bytes;
        uint64_t ex_lo = s.merged > 1 ? s.external_min : s.external_bytes,
                 ex_hi = s.merged > 1 ? s.external_max : s.external_bytes;
        uint64_t ab_hi = s.merged > 1 ? std::max(s.array_buffers_max, s.array_buffers_bytes) : s.array_buffers_bytes;
        v.rss.push(s.t_s, d(std::min(rss_lo, s.rss_bytes)), d(std::max(rss_hi, s.rss_bytes)), d(s.rss_bytes));
        v.heap_used.push(s.t_s, d(std::min(hu_lo, s.heap_used_bytes)), d(std::max(hu_hi, s.heap_used_bytes)),
                         d(s.heap_used_bytes));
        v.heap_total.push(s.t_s, d(s.heap_total_bytes));
        v.external.push(s.t_s, d(std::min(ex_lo, s.external_bytes)), d(std::max(ex_hi, s.external_bytes)),
                        d(s.external_bytes));
        v.array_buffers.push(s.t_s, d(s.array_buffers_bytes), d(ab_hi), d(s.array_buffers_bytes));
        v.loop_delay_max_ms.push(s.t_s, d(s.loop_delay_max_us) / 1000.0);
        v.stream_buffered.push(s.t_s, d(s.stream_buffered_bytes));
        v.native_live.push(s.t_s, d(s.native_live_bytes));
        v.native = v.native || s.native_live_bytes > 0;
    }
    for (const model::GcPoint& g : p.majors) v.major_gcs.push_back(g.t_s);
    return v;
}

}  // namespace

std::unique_ptr<Session> Session::open(const std::string& path, std::string& error) {
    return open(path, Options{}, error);
}

std::unique_ptr<Session> Session::open(const std::string& path, const Options& options, std::string& error) {
    std::unique_ptr<Session> s(new Session());
    s->path_ = path;
    s->title_ = base_name(path);
    if (!s->start(options, error)) return nullptr;
    return s;
}

std::unique_ptr<Session> Session::open_live(std::unique_ptr<LiveClient> client) {
    return open_live(std::move(client), Options{});
}

std::unique_ptr<Session> Session::open_live(std::unique_ptr<LiveClient> client, const Options& options) {
    std::unique_ptr<Session> s(new Session());
    s->path_ = client->file_path();
    s->title_ = "live " + client->address();
    s->live_client_ = std::move(client);
    std::string ignored;
    s->start(options, ignored);
    return s;
}

bool Session::open_header(std::string& error) {
    auto t0 = Clock::now();
    auto opened = model::TraceReader::open(path_);
    if (!opened.reader) {
        error = opened.status.message();
        return false;
    }
    model::TraceReader& r = *opened.reader;
    auto table = std::make_shared<model::StreamTable>();
    model::Status st = r.read_summaries(*table);
    const model::TraceExtent& ext = r.extent();
    std::lock_guard lock(mu_);
    start_us_ = r.start_us();
    if (ext.any) {
        first_s_ = std::min(0.0, ext.first_s);
        last_s_ = ext.last_s;
    }
    if (st.ok()) table_ = std::move(table);  // (a version-1/2 file's is built by reading it: still right)
    open_ms_ = ms_since(t0);
    return true;
}

bool Session::start(const Options& options, std::string& error) {
    options_ = options;
    analysis_ = std::make_shared<AnalysisView>();
    table_ = std::make_shared<model::StreamTable>();
    if (!live_client_) {
        if (!open_header(error)) return false;
    }
    // Until the first state at the cursor arrives, the table lists the streams of the summaries.
    auto first = std::make_shared<CursorView>();
    DeriveMemo memo;
    derive_views(CursorView{}, *first, first->inputs, {}, table_, memo);
    cursor_ = std::move(first);
    derived_summaries_ = table_;
    analysis_thread_ = std::thread([this] { analysis_loop(); });
    cursor_thread_ = std::thread([this] { cursor_loop(); });
    history_thread_ = std::thread([this] { history_loop(); });
    return true;
}

Session::~Session() {
    {
        // Under the lock: a thread between checking its wait predicate and blocking must not miss it.
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (analysis_thread_.joinable()) analysis_thread_.join();
    if (cursor_thread_.joinable()) cursor_thread_.join();
    if (history_thread_.joinable()) history_thread_.join();
    // The session's own last references (their deleters queue them in the graveyard).
    cursor_.reset();
    for (const CursorView* v : graveyard_) delete v;
    graveyard_.clear();
}

std::string Session::live_status() const { return live_client_ ? live_client_->status_text() : std::string(); }

bool Session::live_ended() const {
    if (!live_client_) return false;
    auto s = live_client_->state();
    return s == LiveClient::State::Ended || s == LiveClient::State::Dropped;
}

double Session::first_s() const {
    std::lock_guard lock(mu_);
    return first_s_;
}
double Session::last_s() const {
    std::lock_guard lock(mu_);
    return last_s_;
}

std::shared_ptr<const model::StreamTable> Session::stream_table() const {
    std::lock_guard lock(mu_);
    return table_;
}
std::shared_ptr<const AnalysisView> Session::analysis() const {
    std::lock_guard lock(mu_);
    return analysis_;
}
std::shared_ptr<const CursorView> Session::cursor() const {
    std::lock_guard lock(mu_);
    return cursor_;
}
std::shared_ptr<const StreamHistory> Session::history() const {
    std::lock_guard lock(mu_);
    return history_;
}

void Session::request_cursor(double t_s) {
    {
        std::lock_guard lock(mu_);
        if (cursor_want_ && *cursor_want_ == t_s) return;
        cursor_want_ = t_s;
        ++cursor_want_seq_;
    }
    cv_.notify_all();
}

void Session::request_series(uint64_t stream_id) {
    series_want_ = stream_id;
    cv_.notify_all();
}

void Session::set_view_inputs(const ViewInputs& inputs) {
    {
        std::lock_guard lock(mu_);
        if (inputs == inputs_) return;
        inputs_ = inputs;
        ++inputs_seq_;
    }
    cv_.notify_all();
}

bool Session::cursor_current() const {
    return cursor_served_seq_ == cursor_want_seq_ && inputs_served_seq_ == inputs_seq_ &&
           derived_analysis_ == analysis_ && derived_summaries_ == table_;
}

bool Session::wait_cursor(double timeout_s) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return stop_ || cursor_current(); });
}


bool Session::wait_analysis(double timeout_s) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return stop_ || analysis_->done; });
}

bool Session::wait_history(uint64_t stream_id, double timeout_s) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                        [&] { return stop_ || (history_ && history_->id == stream_id && history_->complete); });
}

void Session::analysis_loop() {
    lower_this_thread_priority(10);
    model::TraceReader::Options ro;
    ro.follow = live_client_ != nullptr;
    std::unique_ptr<model::TraceReader> reader;
    // A live file may still be empty: wait for its header.
    while (!stop_) {
        auto opened = model::TraceReader::open(path_, ro);
        if (opened.reader) {
            reader = std::move(opened.reader);
            break;
        }
        if (!live_client_ || live_ended()) {
            auto v = std::make_shared<AnalysisView>();
            v->done = true;
            v->progress = 1;
            v->error = live_client_ ? "the live session ended before any trace data arrived" : opened.status.message();
            std::lock_guard lock(mu_);
            analysis_ = std::move(v);
            cv_.notify_all();
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!reader) return;

    model::Timeline::Limits limits;
    limits.budget_bytes = options_.analysis_budget_bytes;
    model::Analysis analysis(limits);
    analysis.timeline().set_start_us(reader->start_us());
    {
        std::lock_guard lock(mu_);
        start_us_ = reader->start_us();
    }

    std::shared_ptr<const NativeHistory> native;  // the last published, and what it was made from
    uint64_t native_fingerprint = 0;
    auto publish = [&](bool done, const std::string& error) {
        const model::Timeline& tl = analysis.timeline();
        auto v = std::make_shared<AnalysisView>();
        v->done = done;
        v->read_until_s = tl.end_s();
        v->error = error;
        v->warning = reader->warning();
        v->findings = analysis.findings();
        for (const model::ProcessInfo& p : tl.processes()) v->processes.push_back(process_view(p));
        v->edges = tl.edges();
        v->pipelines = tl.pipelines();
        v->streams_seen = tl.streams().size() + tl.retired_count();
        for (const model::Note& n : tl.notes()) v->notes.push_back(n.text);
        if (!tl.native_processes().empty()) {
            const uint64_t fp = native_history_fingerprint(tl);
            if (!native || fp != native_fingerprint) {
                native = native_history(tl);
                native_fingerprint = fp;
            }
        }
        v->native = native;
        uint64_t want = series_want_;
        if (want) {
            v->series_id = want;
            if (const model::StreamInfo* s = tl.stream(want)) {
                v->series_found = true;
                v->series_partial = s->folded;
                for (const model::StreamPoint& p : s->samples) {
                    v->series_readable.push(p.t_s, static_cast<double>(p.s.readable_length));
                    v->series_writable.push(p.t_s, static_cast<double>(p.s.writable_length));
                }
            }
        }
        double first = 0, last = tl.end_s();
        const model::TraceExtent& ext = reader->extent();
        if (ext.any) {
            first = std::min(0.0, ext.first_s);
            last = std::max(last, ext.last_s);
        }
        v->progress = done ? 1.0 : (last > first ? std::clamp((tl.end_s() - first) / (last - first), 0.0, 1.0) : 0.0);
        std::lock_guard lock(mu_);
        first_s_ = first;
        if (live_client_) last_s_ = tl.end_s();
        else last_s_ = std::max(last_s_, last);
        analysis_ = std::move(v);
        cv_.notify_all();
    };

    auto last_publish = Clock::now();
    uint64_t published_series = 0;
    // A few times a second, or at once when another stream's history was asked for.
    auto publish_if_due = [&] {
        if (ms_since(last_publish) < options_.publish_every_s * 1000 && series_want_ == published_series) return;
        published_series = series_want_;
        publish(false, "");
        last_publish = Clock::now();
    };
    auto pending_since = Clock::now();
    bool pending = false;
    proto::Record record;
    uint64_t n = 0;
    while (!stop_) {
        model::ReadResult res = reader->next(record);
        if (res == model::ReadResult::Record) {
            pending = false;
            analysis.apply(record);
            if ((++n & 4095) == 0) publish_if_due();
            continue;
        }
        if (res == model::ReadResult::Pending) {
            if (!pending) {
                pending = true;
                pending_since = Clock::now();
            }
            publish_if_due();
            // The relay ended: once nothing more arrives, read what is there to its end.
            if (live_ended() && ms_since(pending_since) > 500) reader->set_follow(false);
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_.load(); });
            continue;
        }
        analysis.finish();
        std::string error = res == model::ReadResult::Error ? reader->error() : "";
        publish(true, error);
        // Stay around to answer series requests for the finished analysis.
        while (!stop_) {
            if (series_want_ != published_series) {
                published_series = series_want_;
                publish(true, error);
            }
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::milliseconds(30), [&] { return stop_.load(); });
        }
        return;
    }
}

void Session::cursor_loop() {
    // (Not lowered: the state at the cursor is what a scrub waits for. At nice 5 it took 33–51 ms
    // p50 instead of 24 ms on the 1 h trace, and frames were no faster.)
    std::unique_ptr<model::TraceReader> reader;
    uint64_t reader_size = 0;
    auto table_read = Clock::now() - std::chrono::seconds(10);
    DeriveMemo memo;  // what the newest graph was laid out for
    auto new_view = [this](const CursorView& from) {
        return std::shared_ptr<CursorView>(new CursorView(from), [this](CursorView* dead) {
            {
                std::lock_guard lock(mu_);
                graveyard_.push_back(dead);
            }
            cv_.notify_all();
        });
    };
    while (!stop_) {
        double t = 0;
        uint64_t seq = 0, inputs_seq = 0;
        bool new_state = false;
        ViewInputs inputs;
        std::shared_ptr<const AnalysisView> analysis;
        std::shared_ptr<const model::StreamTable> summaries;
        std::shared_ptr<const CursorView> base;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stop_ || !graveyard_.empty() || (cursor_want_ && !cursor_current()); });
            if (stop_) return;
            if (!graveyard_.empty()) {
                std::vector<const CursorView*> dead;
                dead.swap(graveyard_);
                lock.unlock();
                for (const CursorView* gone : dead) delete gone;
                continue;
            }
            new_state = cursor_want_seq_ != cursor_served_seq_;
            t = *cursor_want_;
            seq = cursor_want_seq_;
            inputs = inputs_;
            inputs_seq = inputs_seq_;
            analysis = analysis_;
            summaries = table_;
            base = cursor_;
        }
        // 1. The state at t (a new request), or the published one (new inputs for the same state).
        std::shared_ptr<CursorView> view = new_view(*base);
        if (new_state) {
            auto t0 = Clock::now();
            view->t_s = t;
            view->timeline.reset();
            view->error.clear();
            std::error_code ec;
            uint64_t size = std::filesystem::file_size(path_, ec);
            if (ec) size = 0;
            if (!reader || (live_client_ && size != reader_size)) {
                auto opened = model::TraceReader::open(path_);
                reader = std::move(opened.reader);
                reader_size = size;
                if (!reader) view->error = opened.status.message();
                // A live file's stream table: refreshed from its Summary chunks every 2 s.
                if (reader && live_client_ && ms_since(table_read) > 2000) {
                    auto table = std::make_shared<model::StreamTable>();
                    if (reader->read_summaries(*table).ok()) {
                        summaries = table;
                        std::lock_guard lock(mu_);
                        table_ = std::move(table);
                    }
                    table_read = Clock::now();
                }
            }
            if (reader) {
                auto tl = std::make_shared<model::Timeline>(model::Timeline::unbounded());
                tl->set_start_us(reader->start_us());
                model::Status st = reader->seek_exact(t);
                if (!st.ok()) view->error = st.message();
                uint64_t t_us = reader->start_us() + static_cast<uint64_t>(std::max(0.0, t) * 1e6);
                proto::Record r;
                model::RecordOrigin origin;
                while (st.ok() && !stop_) {
                    model::ReadResult res = reader->next(r, &origin);
                    if (res != model::ReadResult::Record) {
                        // A live file ends mid-chunk: what was read is the state at its end.
                        if (res == model::ReadResult::Error && !live_client_) view->error = reader->error();
                        break;
                    }
                    if (!origin.keyframe && proto::record_time_us(r) > t_us) break;
                    tl->apply(r);
                }
                view->timeline = std::move(tl);
            }
            view->took_ms = ms_since(t0);
        }

        // 2. What the views show of it: rebuilt only for what changed.
        auto t0 = Clock::now();
        static const std::vector<model::Finding> no_findings;
        bool changed = derive_views(*base, *view, inputs, analysis ? analysis->findings : no_findings, summaries, memo,
                                    analysis ? analysis->native : nullptr);
        changed |= new_state;
        view->derive_ms = ms_since(t0);

        // 3. Published (unless nothing shows anew: e.g. the analysis republished the same findings).
        std::shared_ptr<const CursorView> replaced = changed ? std::move(view) : nullptr;
        {
            std::lock_guard lock(mu_);
            if (replaced) replaced.swap(cursor_);
            if (new_state) cursor_served_seq_ = seq;
            inputs_served_seq_ = inputs_seq;
            derived_analysis_.swap(analysis);  // (the old ones are freed below, outside the lock)
            derived_summaries_.swap(summaries);
        }
        cv_.notify_all();
        // Dropped outside the lock: when the UI never took the replaced view (two published within
        // one frame) these are its last references, and their deleter takes mu_.
        replaced.reset();
        view.reset();
        base.reset();
        analysis.reset();
        summaries.reset();
    }
}

bool Session::history_needed() const {
    uint64_t want = series_want_;
    return want && analysis_->series_id == want && (analysis_->series_partial || !analysis_->series_found) &&
           !(history_ && history_->id == want);
}

void Session::history_loop() {
    lower_this_thread_priority(10);
    // Buckets per history (the detail plot is narrower), and the most trace time one query piece
    // covers before the newest selection is checked and what was read is published.
    constexpr double kBuckets = 2048;
    constexpr size_t kPieces = 16;
    std::unique_ptr<model::TraceReader> reader;
    while (!stop_) {
        uint64_t id = 0;
        double first = 0, last = 0;
        uint64_t start_us = 0;
        std::shared_ptr<const model::StreamTable> summaries;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stop_ || history_needed(); });
            if (stop_) return;
            id = series_want_;
            first = first_s_;
            last = last_s_;
            start_us = start_us_;
            summaries = table_;
        }
        auto h = std::make_shared<StreamHistory>();
        h->id = id;
        // Its life from the summaries (created … gone, or the end); the whole trace without them.
        h->t0_s = first;
        h->t1_s = last;
        bool readable = true, writable = true;  // its sides (both when the summaries do not say)
        if (summaries)
            for (const model::StreamSummary& s : summaries->streams) {
                if (s.id != id) continue;
                auto secs = [&](uint64_t us) { return us >= start_us ? static_cast<double>(us - start_us) / 1e6 : 0.0; };
                h->t0_s = std::clamp(secs(s.created_us), first, last);
                if (s.gone_us) h->t1_s = std::clamp(secs(s.gone_us), h->t0_s, last);
                readable = s.kind & proto::kKindReadable;
                writable = s.kind & proto::kKindWritable;
                break;
            }
        if (h->t1_s <= h->t0_s) h->t1_s = h->t0_s + 1e-3;
        h->read_until_s = h->t0_s;
        if (!reader || live_client_) {
            auto opened = model::TraceReader::open(path_);
            reader = std::move(opened.reader);
            if (!reader) h->error = opened.status.message();
        }
        auto publish = [&](const StreamHistory& v) {
            auto copy = std::make_shared<StreamHistory>(v);
            std::shared_ptr<const StreamHistory> replaced;
            {
                std::lock_guard lock(mu_);
                if (series_want_ != id) return false;  // another stream was selected meanwhile
                replaced = std::move(history_);
                history_ = std::move(copy);
            }
            cv_.notify_all();
            return true;
        };
        // In pieces of whole buckets, so the buckets of consecutive pieces line up.
        const double resolution = std::max((h->t1_s - h->t0_s) / kBuckets, 1e-3);
        const double piece = std::ceil(kBuckets / kPieces) * resolution;
        bool abandoned = false;
        for (double a = h->t0_s; reader && a < h->t1_s && !stop_; a += piece) {
            double b = std::min(h->t1_s, a + piece);
            model::StreamSeries out;
            model::Status st = model::stream_series(*reader, id, a, b, resolution, out);
            if (!st.ok()) {
                h->error = st.message();
                break;
            }
            h->found |= out.found;
            for (const model::StreamBucket& bucket : out.buckets) {
                if (!bucket.alive) continue;
                auto d = [](uint64_t x) { return static_cast<double>(x); };
                if (readable)
                    h->readable.push(bucket.t0_s, d(bucket.readable_length.min), d(bucket.readable_length.max),
                                     d(bucket.readable_length.last));
                if (writable)
                    h->writable.push(bucket.t0_s, d(bucket.writable_length.min), d(bucket.writable_length.max),
                                     d(bucket.writable_length.last));
            }
            h->read_until_s = b;
            if (b < h->t1_s && !publish(*h)) {
                abandoned = true;
                break;
            }
        }
        if (abandoned || stop_) continue;
        h->complete = true;
        h->read_until_s = h->t1_s;
        publish(*h);
    }
}

}  // namespace tidemark::viewer

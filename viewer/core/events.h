// The small typed events views exchange. A view never calls another view: it posts an event, and
// at the end of the frame the application hands every queued event to every view's handler (and
// to the session state they share). Keeps views independent and makes their interplay testable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace tidemark::viewer {

struct SelectStream {
    uint64_t id = 0;  // 0 clears the selection
};
struct GoToTime {
    double t_s = 0;
    bool pause = true;  // stop playback there
};
struct SelectFinding {
    size_t index = 0;  // into the session's findings
};
struct OpenTrace {
    std::string path;
};
// A native allocation site (docs/VIEWER.md "Native"). A finding names a site by id without its
// process: `proc` 0xffffffff then means "the process whose site `site` is at `hint` (file:line)".
struct SelectNativeSite {
    bool clear = false;  // true: no site selected
    uint32_t proc = 0xffffffffu;
    uint32_t site = 0;
    std::string hint;
};

// One of the above. (A tagged struct rather than std::variant: GCC 12 reports false
// maybe-uninitialized warnings on variants of these at -O2.)
class Event {
public:
    Event(SelectStream e) : kind_(Kind::SelectStream), select_stream_(e) {}
    Event(GoToTime e) : kind_(Kind::GoToTime), go_to_time_(e) {}
    Event(SelectFinding e) : kind_(Kind::SelectFinding), select_finding_(e) {}
    Event(OpenTrace e) : kind_(Kind::OpenTrace), open_trace_(std::move(e)) {}
    Event(SelectNativeSite e) : kind_(Kind::SelectNativeSite), select_native_site_(std::move(e)) {}
    // The event as T, or null when it is another kind.
    template <class T>
    const T* get() const {
        if constexpr (std::is_same_v<T, SelectStream>) return kind_ == Kind::SelectStream ? &select_stream_ : nullptr;
        else if constexpr (std::is_same_v<T, GoToTime>) return kind_ == Kind::GoToTime ? &go_to_time_ : nullptr;
        else if constexpr (std::is_same_v<T, SelectFinding>) return kind_ == Kind::SelectFinding ? &select_finding_ : nullptr;
        else if constexpr (std::is_same_v<T, SelectNativeSite>) return kind_ == Kind::SelectNativeSite ? &select_native_site_ : nullptr;
        else return kind_ == Kind::OpenTrace ? &open_trace_ : nullptr;
    }

private:
    enum class Kind { SelectStream, GoToTime, SelectFinding, OpenTrace, SelectNativeSite };
    Kind kind_;
    SelectStream select_stream_{};
    GoToTime go_to_time_{};
    SelectFinding select_finding_{};
    OpenTrace open_trace_{};
    SelectNativeSite select_native_site_{};
};

class EventBus {
public:
    void post(Event e) { queue_.push_back(std::move(e)); }
    // Delivers what was posted (and what handlers post while delivering, up to a bound so a
    // handler loop cannot hang a frame) to `handler`, in order.
    void dispatch(const std::function<void(const Event&)>& handler) {
        for (size_t round = 0; round < 8 && !queue_.empty(); ++round) {
            std::vector<Event> now;
            now.swap(queue_);
            for (const Event& e : now) handler(e);
        }
        queue_.clear();
    }
    bool empty() const { return queue_.empty(); }

private:
    std::vector<Event> queue_;
};

}  // namespace tidemark::viewer

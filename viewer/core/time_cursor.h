// The replay clock: where in the trace the views look, and how it moves (play / pause, speed,
// scrub, step, jump). Pure logic driven by the frame's elapsed wall time, so tests can step it.
#pragma once

#include <algorithm>
#include <cmath>

namespace tidemark::viewer {

class TimeCursor {
public:
    static constexpr double kSpeeds[] = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64};

    // The span the cursor may take (trace seconds). When the span grows (a live session) and the
    // cursor was following the end, it keeps following.
    void set_span(double first_s, double last_s) {
        if (last_s < first_s) last_s = first_s;
        bool at_end = following_ || t_ >= last_ - 1e-9;
        first_ = first_s;
        last_ = last_s;
        if (following_ && at_end) t_ = last_;
        t_ = std::clamp(t_, first_, last_);
    }
    double first() const { return first_; }
    double last() const { return last_; }
    double t() const { return t_; }
    bool playing() const { return playing_; }
    double speed() const { return speed_; }
    // Live sessions: the cursor stays at the newest data until the user moves it.
    bool following() const { return following_; }
    void set_following(bool on) {
        following_ = on;
        if (on) {
            t_ = last_;
            playing_ = false;
        }
    }

    void play() {
        if (t_ >= last_ - 1e-9) t_ = first_;  // replay from the start when at the end
        playing_ = true;
        following_ = false;
    }
    void pause() { playing_ = false; }
    void toggle() { playing_ ? pause() : play(); }
    void set_speed(double s) { speed_ = std::clamp(s, kSpeeds[0], kSpeeds[std::size(kSpeeds) - 1]); }
    void faster() { step_speed(+1); }
    void slower() { step_speed(-1); }

    // Moves to t (clamped); stops following the live end.
    void seek(double t_s) {
        following_ = false;
        t_ = std::clamp(t_s, first_, last_);
    }
    // One step of `step_s` forward (+1) or back (-1); pauses.
    void step(int direction, double step_s) {
        playing_ = false;
        seek(t_ + direction * step_s);
    }

    // Advances by the wall time elapsed since the last frame. Returns true when t moved.
    bool advance(double wall_dt_s) {
        if (!playing_ || wall_dt_s <= 0) return false;
        double before = t_;
        t_ = std::min(last_, t_ + wall_dt_s * speed_);
        if (t_ >= last_) playing_ = false;  // stop at the end
        return t_ != before;
    }

private:
    void step_speed(int d) {
        size_t n = std::size(kSpeeds), i = 0;
        while (i + 1 < n && kSpeeds[i] < speed_ - 1e-9) ++i;
        if (d > 0 && i + 1 < n) ++i;
        if (d < 0 && i > 0) --i;
        speed_ = kSpeeds[i];
    }

    double first_ = 0, last_ = 0, t_ = 0;
    double speed_ = 1;
    bool playing_ = false;
    bool following_ = false;
};

}  // namespace tidemark::viewer

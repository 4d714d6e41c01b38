// Key presses counted as they arrive, between two frames. Dear ImGui 1.86's GLFW backend only
// records whether a key is down when a frame starts, so a tap whose press and release both arrive
// while a frame is being drawn is lost: under a software renderer a frame takes 15–40 ms, and a
// key tap from xdotool (or a quick typist) lasts about 12 ms — space was missed in 2–3 taps of 6
// while playing. The window's key callback counts presses here; the frame takes them.
#pragma once

#include <array>
#include <cstdint>

namespace tidemark::viewer {

class KeyTaps {
public:
    static constexpr int kMaxKey = 512;  // GLFW key codes are below 349

    // A press (or an auto-repeat) of `key`, with Ctrl held or not.
    void press(int key, bool ctrl) {
        if (key < 0 || key >= kMaxKey) return;
        uint16_t& n = (ctrl ? ctrl_ : plain_)[static_cast<size_t>(key)];
        if (n < UINT16_MAX) ++n;
    }
    // Presses of `key` without (or with) Ctrl since the last take or clear.
    int take(int key, bool ctrl = false) {
        if (key < 0 || key >= kMaxKey) return 0;
        uint16_t& n = (ctrl ? ctrl_ : plain_)[static_cast<size_t>(key)];
        int taken = n;
        n = 0;
        return taken;
    }
    // Forgets every press (e.g. when a text field had the keyboard this frame).
    void clear() {
        plain_.fill(0);
        ctrl_.fill(0);
    }

private:
    std::array<uint16_t, kMaxKey> plain_{}, ctrl_{};
};

}  // namespace tidemark::viewer

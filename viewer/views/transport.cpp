// The transport bar: play / pause, speed, the scrub slider over the whole trace, step, jump to
// the previous / next finding, and the session's status (progress of the analysis, live state).
#include <algorithm>
#include <cstdio>

#include "views/views.h"

namespace tidemark::viewer::views {

void transport(ViewState& vs, EventBus& bus) {
    TimeCursor& c = vs.cursor();
    auto a = vs.analysis();
    auto hit = [&](const char* what) {
        ImVec2 p = ImGui::GetItemRectMin(), q = ImGui::GetItemRectMax();
        vs.hits().push_back({what, p.x, p.y, q.x - p.x, q.y - p.y});
    };
    // One id whatever the label ("###play"): a click whose press and release straddle a change of
    // state (playback reaching the end, a space tap) still counts.
    if (ImGui::Button(c.playing() ? "Pause###play" : "Play###play", ImVec2(60, 0))) c.toggle();
    hit("play");
    ImGui::SameLine();
    double step = std::max(0.1, (c.last() - c.first()) / 200.0);
    if (ImGui::ArrowButton("##back", ImGuiDir_Left)) c.step(-1, step);
    ImGui::SameLine();
    if (ImGui::ArrowButton("##fwd", ImGuiDir_Right)) c.step(+1, step);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(80);
    char speed[32];
    std::snprintf(speed, sizeof speed, "%gx", c.speed());
    if (ImGui::BeginCombo("##speed", speed)) {
        for (double s : TimeCursor::kSpeeds) {
            std::snprintf(speed, sizeof speed, "%gx", s);
            if (ImGui::Selectable(speed, s == c.speed())) c.set_speed(s);
        }
        ImGui::EndCombo();
    }
    ImGui::SameLine();
    // Previous / next finding onset.
    if (a && !a->findings.empty()) {
        double t = c.t();
        const model::Finding* prev = nullptr;
        const model::Finding* next = nullptr;
        for (const model::Finding& f : a->findings) {
            if (f.onset_s < t - 1e-6 && (!prev || f.onset_s > prev->onset_s)) prev = &f;
            if (f.onset_s > t + 1e-6 && (!next || f.onset_s < next->onset_s)) next = &f;
        }
        ImGui::BeginDisabled(!prev);
        if (ImGui::Button("< finding") && prev) bus.post(GoToTime{prev->onset_s, true});
        ImGui::EndDisabled();
        ImGui::SameLine();
        ImGui::BeginDisabled(!next);
        if (ImGui::Button("finding >") && next) bus.post(GoToTime{next->onset_s, true});
        ImGui::EndDisabled();
        ImGui::SameLine();
    }
    if (vs.session().live()) {
        bool follow = c.following();
        if (ImGui::Checkbox("follow live", &follow)) c.set_following(follow);
        ImGui::SameLine();
    }
    float avail = ImGui::GetContentRegionAvail().x;
    ImGui::SetNextItemWidth(std::max(100.0f, avail - 330));
    float t = static_cast<float>(c.t());
    char fmt[64];
    std::snprintf(fmt, sizeof fmt, "t = %.2f s of %.1f s", c.t(), c.last());
    if (ImGui::SliderFloat("##scrub", &t, static_cast<float>(c.first()), static_cast<float>(std::max(c.last(), c.first() + 0.001)), fmt))
        bus.post(GoToTime{static_cast<double>(t), false});
    hit("scrub");
    ImGui::SameLine();
    if (vs.session().live()) {
        std::string s = vs.session().live_status();
        ImU32 col = vs.session().live_ended() ? IM_COL32(240, 170, 50, 255) : IM_COL32(120, 220, 120, 255);
        ImGui::PushStyleColor(ImGuiCol_Text, col);
        ImGui::TextUnformatted(s.c_str());
        ImGui::PopStyleColor();
    } else if (a && !a->done) {
        ImGui::ProgressBar(static_cast<float>(a->progress), ImVec2(120, 0), "analysing");
    } else if (a && !a->error.empty()) {
        ImGui::TextColored(ImVec4(1, 0.5f, 0.3f, 1), "damaged: %s", a->error.c_str());
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", a->error.c_str());
    } else if (a) {
        ImGui::Text("%zu findings, %llu streams", a->findings.size(), static_cast<unsigned long long>(a->streams_seen));
    }
}

}  // namespace tidemark::viewer::views

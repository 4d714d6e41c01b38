// The in-app file picker: a modal listing a directory (folders, then .tidemark files newest
// first), the recent files, and a path field. Choosing a file posts OpenTrace.
#include <cstdio>
#include <ctime>

#include "views/views.h"

namespace tidemark::viewer::views {

void file_picker(FilePicker& fp, RecentFiles& recent, EventBus& bus) {
    if (fp.open_requested) {
        ImGui::OpenPopup("Open trace");
        fp.open_requested = false;
        fp.listed = false;
    }
    ImGui::SetNextWindowSize(ImVec2(760, 520), ImGuiCond_Appearing);
    if (!ImGui::BeginPopupModal("Open trace", nullptr)) return;
    if (!fp.listed) {
        fp.entries = list_directory(fp.dir, fp.all_files, fp.error);
        fp.listed = true;
    }
    auto choose = [&](const std::string& path) {
        bus.post(OpenTrace{path});
        ImGui::CloseCurrentPopup();
    };
    ImGui::SetNextItemWidth(-140);
    bool enter = ImGui::InputTextWithHint("##path", "path to a .tidemark file", fp.path_buf, sizeof fp.path_buf,
                                          ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Open", ImVec2(60, 0)) || enter) && fp.path_buf[0]) choose(fp.path_buf);
    ImGui::SameLine();
    if (ImGui::Button("Cancel", ImVec2(60, 0))) ImGui::CloseCurrentPopup();
    if (!recent.paths().empty()) {
        ImGui::TextDisabled("Recent");
        for (const std::string& p : recent.paths())
            if (ImGui::Selectable(p.c_str())) choose(p);
        ImGui::Separator();
    }
    ImGui::TextDisabled("%s", fp.dir.c_str());
    ImGui::SameLine();
    if (ImGui::Checkbox("all files", &fp.all_files)) fp.listed = false;
    if (!fp.error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.3f, 1), "%s", fp.error.c_str());
    ImGui::BeginChild("entries", ImVec2(0, 0), true);
    std::string go_to;
    for (const DirEntry& e : fp.entries) {
        char line[512];
        if (e.directory) std::snprintf(line, sizeof line, "[%s]", e.name.c_str());
        else {
            char when[32] = "";
            std::time_t t = static_cast<std::time_t>(e.mtime);
            if (std::tm* tm = std::localtime(&t)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", tm);
            std::snprintf(line, sizeof line, "%-48s %10s  %s", e.name.c_str(), format_bytes(e.size).c_str(), when);
        }
        if (ImGui::Selectable(line, false, ImGuiSelectableFlags_AllowDoubleClick)) {
            if (e.directory) go_to = e.path;
            else if (ImGui::IsMouseDoubleClicked(0)) choose(e.path);
            else std::snprintf(fp.path_buf, sizeof fp.path_buf, "%s", e.path.c_str());
        }
    }
    ImGui::EndChild();
    if (!go_to.empty()) {
        fp.dir = go_to;
        fp.listed = false;
    }
    ImGui::EndPopup();
}

}  // namespace tidemark::viewer::views

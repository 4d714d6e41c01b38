// tidemark-viewer: replay a trace, or watch a live `tidemark run --live ADDR` session.
//
//   tidemark-viewer [TRACE…]                 open traces (drag more onto the window, or File → Open)
//   tidemark-viewer --connect ADDR           join a live session (unix:PATH or 127.0.0.1:PORT)
//   --screenshot PNG --at SECONDS            render that moment (replay; live: after that long) and exit
//   --state-dump FILE                        keep FILE updated with the viewer's state (JSON), for tests
//   --frame-stats FILE [--scrub-bench S]     frame timings (and S seconds of automatic scrubbing)
//
// Exit status: 0, or 2 when a trace cannot be opened (with a message on stderr, and on screen when
// interactive), the address is bad, or no window can be created.
// CLI11 first: GCC 12 reports a false -Wnull-dereference inside its header (as agent/cli.h notes).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb_image_write.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/files.h"
#include "core/frame_stats.h"
#include "core/key_taps.h"
#include "core/live_client.h"
#include "core/session.h"
#include "core/view_state.h"
#include "views/views.h"

using namespace tidemark::viewer;

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    std::vector<std::string> traces;
    std::string connect;
    std::string screenshot;
    double at = -1;
    std::string state_dump;
    std::string frame_stats;
    double scrub_bench_s = 0;
    int width = 1600, height = 900;
    std::string recent_store;
};

struct App {
    std::vector<std::unique_ptr<ViewState>> sessions;
    size_t active = 0;
    EventBus bus;
    RecentFiles recent;
    KeyTaps keys;  // presses since the last frame (see core/key_taps.h)
    views::FilePicker picker;
    std::vector<std::string> errors;  // shown in a popup
    bool opened_any = false;
    bool failed_open = false;

    explicit App(const std::string& recent_store) : recent(recent_store) {}
    ViewState* current() { return sessions.empty() ? nullptr : sessions[std::min(active, sessions.size() - 1)].get(); }

    bool open(const std::string& path) {
        std::string error;
        auto s = Session::open(path, error);
        if (!s) {
            std::string msg = "cannot open " + path + ": " + error;
            std::fprintf(stderr, "tidemark-viewer: %s\n", msg.c_str());
            errors.push_back(msg);
            failed_open = true;
            return false;
        }
        recent.add(path);
        sessions.push_back(std::make_unique<ViewState>(std::move(s)));
        active = sessions.size() - 1;
        opened_any = true;
        return true;
    }
};

App* g_app = nullptr;

// Installed before ImGui's callbacks, which chain to it: counts every press, so a tap shorter than
// a frame still counts (ImGui 1.86 would miss it).
void on_key(GLFWwindow*, int key, int, int action, int mods) {
    if (g_app && (action == GLFW_PRESS || action == GLFW_REPEAT)) g_app->keys.press(key, (mods & GLFW_MOD_CONTROL) != 0);
}

void on_drop(GLFWwindow*, int count, const char** paths) {
    for (int i = 0; i < count && g_app; ++i) g_app->bus.post(OpenTrace{paths[i]});
}

// CPU time (ms) used so far by the threads that make frames — this one and the software
// renderer's ("llvmpipe-N") — and how long they waited for a CPU while runnable, from
// /proc/self/task/*/schedstat. Per frame the first is the work a frame costs, which unlike its
// wall time does not depend on what else the machine runs; the second is what that costs it.
struct ThreadTimes {
    double run_ms = 0, wait_ms = 0;
};
ThreadTimes frame_threads_times(int main_tid) {
    double ns = 0, wait_ns = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::string tid = task.path().filename().string();
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (tid != std::to_string(main_tid) && name.rfind("llvmpipe", 0) != 0) continue;
        std::ifstream sched(task.path() / "schedstat");
        double run_ns = 0, waited_ns = 0;
        if (sched >> run_ns >> waited_ns) {
            ns += run_ns;
            wait_ns += waited_ns;
        }
    }
    return {ns / 1e6, wait_ns / 1e6};
}

long peak_rss_kib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

bool write_png(const std::string& path, int w, int h) {
    std::vector<unsigned char> px(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadBuffer(GL_BACK);
    glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, px.data());
    // OpenGL's rows run bottom-up.
    std::vector<unsigned char> flipped(px.size());
    size_t row = static_cast<size_t>(w) * 3;
    for (int y = 0; y < h; ++y)
        std::copy_n(&px[static_cast<size_t>(h - 1 - y) * row], row, &flipped[static_cast<size_t>(y) * row]);
    return stbi_write_png(path.c_str(), w, h, 3, flipped.data(), static_cast<int>(row)) != 0;
}

void write_atomically(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
}

// DejaVu Sans Mono (Debian's fonts-dejavu-core) with the punctuation, arrows and symbols finding
// messages use ("Theil–Sen", "→", "…"); ImGui's built-in font when it is not installed.
void load_font() {
    static const ImWchar ranges[] = {0x0020, 0x00FF, 0x0100, 0x017F, 0x2000, 0x206F, 0x2190, 0x21FF, 0x2200, 0x22FF,
                                     0x25A0, 0x25FF, 0};
    for (const char* f : {"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"}) {
        if (!std::filesystem::exists(f)) continue;
        if (ImGui::GetIO().Fonts->AddFontFromFileTTF(f, 15.0f, nullptr, ranges)) return;
    }
}

// One frame of the whole UI. `stats` (may be null) gets each view's time.
void draw(App& app, int width, int height, FrameStats* stats) {
    using Scope = FrameStats::Scope;
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(static_cast<float>(width), static_cast<float>(height)));
    // No background: the frame is cleared to the window colour. (A software renderer pays for every
    // pixel a triangle covers; the full-window quad was over half of all the pixels drawn.)
    ImGuiWindowFlags wf = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_MenuBar |
                          ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
                          ImGuiWindowFlags_NoBackground;
    ImGui::Begin("tidemark", nullptr, wf);
    if (ImGui::BeginMenuBar()) {
        if (ImGui::BeginMenu("File")) {
            if (ImGui::MenuItem("Open…", "Ctrl+O")) app.picker.open_requested = true;
            if (ImGui::BeginMenu("Recent", !app.recent.paths().empty())) {
                for (const std::string& p : app.recent.paths())
                    if (ImGui::MenuItem(p.c_str())) app.bus.post(OpenTrace{p});
                ImGui::EndMenu();
            }
            if (ImGui::MenuItem("Close", nullptr, false, !app.sessions.empty())) {
                app.sessions.erase(app.sessions.begin() + static_cast<long>(std::min(app.active, app.sessions.size() - 1)));
                app.active = app.sessions.empty() ? 0 : std::min(app.active, app.sessions.size() - 1);
            }
            ImGui::EndMenu();
        }
        ImGui::TextDisabled("  space play/pause · ←/→ step · wheel zoom · right-drag pan · double-click: show all · drop a trace to open it");
        ImGui::EndMenuBar();
    }
    if (app.keys.take(GLFW_KEY_O, true) > 0) app.picker.open_requested = true;

    if (app.sessions.size() > 1 && ImGui::BeginTabBar("sessions")) {
        for (size_t i = 0; i < app.sessions.size(); ++i) {
            std::string label = app.sessions[i]->session().title() + "##" + std::to_string(i);
            if (ImGui::BeginTabItem(label.c_str())) {
                app.active = i;
                ImGui::EndTabItem();
            }
        }
        ImGui::EndTabBar();
    }
    ViewState* vs = app.current();
    if (!vs) {
        ImGui::Dummy(ImVec2(0, 40));
        ImGui::TextUnformatted("No trace open. Drop a .tidemark file on this window, or File → Open (Ctrl+O).");
        ImGui::TextDisabled("Record one with:  tidemark run -- node app.js    (or watch live: tidemark run --live unix:/tmp/t.sock …"
                            "  and  tidemark-viewer --connect unix:/tmp/t.sock)");
    } else {
        vs->hits().clear();
        if (!ImGui::GetIO().WantTextInput) {
            for (int n = app.keys.take(GLFW_KEY_SPACE); n > 0; --n) vs->cursor().toggle();
            double step = std::max(0.1, (vs->cursor().last() - vs->cursor().first()) / 200.0);
            for (int n = app.keys.take(GLFW_KEY_LEFT); n > 0; --n) vs->cursor().step(-1, step);
            for (int n = app.keys.take(GLFW_KEY_RIGHT); n > 0; --n) vs->cursor().step(+1, step);
        }
        {
            Scope t(stats, "view_transport_ms");
            views::transport(*vs, app.bus);
        }
        ImVec2 avail = ImGui::GetContentRegionAvail();
        float left_w = std::floor(avail.x * 0.62f), right_w = avail.x - left_w - 8;
        float top_h = std::floor(avail.y * 0.42f);
        ImGui::BeginChild("left", ImVec2(left_w, avail.y));
        ImGui::BeginChild("memory", ImVec2(0, top_h), true);
        ImGui::TextUnformatted("Memory");
        {
            Scope t(stats, "view_memory_ms");
            views::memory_timeline(*vs, app.bus);
        }
        ImGui::EndChild();
        // Under the memory plot: the streams or the native allocation sites, as tabs (an event or
        // the trace may ask for one: ViewState::panel_request).
        const std::optional<Panel> want = vs->panel_request();
        auto tab = [&](const char* label, Panel p) {
            bool open = ImGui::BeginTabItem(label, nullptr, want == p ? ImGuiTabItemFlags_SetSelected : 0);
            ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
            vs->hits().push_back({std::string("tab:") + (p == Panel::Native ? "native" : "streams"), a.x, a.y, b.x - a.x, b.y - a.y});
            if (open) vs->set_panel(p);
            return open;
        };
        if (ImGui::BeginTabBar("panels")) {
            if (tab("Streams", Panel::Streams)) {
                float rest = ImGui::GetContentRegionAvail().y;
                float detail_h = vs->selected_stream() ? std::floor(rest * 0.32f) : 34;
                ImGui::BeginChild("streams", ImVec2(0, rest - detail_h - 4), true);
                {
                    Scope t(stats, "view_streams_ms");
                    views::streams_table(*vs, app.bus);
                }
                ImGui::EndChild();
                ImGui::BeginChild("detail", ImVec2(0, 0), true);
                {
                    Scope t(stats, "view_detail_ms");
                    views::stream_detail(*vs, app.bus);
                }
                ImGui::EndChild();
                ImGui::EndTabItem();
            }
            if (tab("Native", Panel::Native)) {
                float rest = ImGui::GetContentRegionAvail().y;
                const NativeTableModel* n = vs->native();
                float detail_h = n && n->selection() ? std::floor(rest * 0.42f) : 34;
                ImGui::BeginChild("native", ImVec2(0, rest - detail_h - 4), true);
                {
                    Scope t(stats, "view_native_ms");
                    views::native_sites(*vs, app.bus);
                }
                ImGui::EndChild();
                ImGui::BeginChild("native_detail", ImVec2(0, 0), true);
                {
                    Scope t(stats, "view_native_detail_ms");
                    views::native_detail(*vs, app.bus);
                }
                ImGui::EndChild();
                ImGui::EndTabItem();
            }
            ImGui::EndTabBar();
        }
        ImGui::EndChild();
        ImGui::SameLine();
        ImGui::BeginChild("right", ImVec2(right_w, avail.y));
        ImGui::BeginChild("findings", ImVec2(0, top_h), true);
        ImGui::TextUnformatted("Findings");
        ImGui::Separator();
        {
            Scope t(stats, "view_findings_ms");
            views::findings(*vs, app.bus);
        }
        ImGui::EndChild();
        ImGui::BeginChild("graph", ImVec2(0, 0), true);
        ImGui::TextUnformatted("Pipelines");
        {
            Scope t(stats, "view_graph_ms");
            views::pipeline_graph(*vs, app.bus);
        }
        ImGui::EndChild();
        ImGui::EndChild();
    }
    app.keys.clear();  // presses nobody took this frame (a text field had the keyboard) are dropped
    views::file_picker(app.picker, app.recent, app.bus);
    if (!app.errors.empty()) {
        ImGui::OpenPopup("Error");
        if (ImGui::BeginPopupModal("Error", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
            for (const std::string& e : app.errors) ImGui::TextColored(ImVec4(1, 0.45f, 0.35f, 1), "%s", e.c_str());
            if (ImGui::Button("OK", ImVec2(80, 0))) {
                app.errors.clear();
                ImGui::CloseCurrentPopup();
            }
            ImGui::EndPopup();
        }
    }
    ImGui::End();
}

}  // namespace

int main(int argc, char** argv) {
    auto process_start = Clock::now();
    Args args;
    CLI::App cli("tidemark-viewer: replay a tidemark trace, or watch a live session");
    cli.add_option("TRACE", args.traces, "Trace files to open");
    cli.add_option("--connect", args.connect, "Join a live session: unix:PATH or 127.0.0.1:PORT (tidemark run --live)");
    cli.add_option("--screenshot", args.screenshot, "Render one frame to this PNG and exit");
    cli.add_option("--at", args.at, "With --screenshot: the trace time to show (replay), or how long to watch (live)");
    cli.add_option("--state-dump", args.state_dump, "Keep this file updated with the viewer's state (JSON)");
    cli.add_option("--frame-stats", args.frame_stats, "Write frame timings (JSON) here at exit");
    cli.add_option("--scrub-bench", args.scrub_bench_s, "Scrub the cursor back and forth for this many seconds, then exit");
    cli.add_option("--width", args.width, "Window width")->check(CLI::Range(320, 8192));
    cli.add_option("--height", args.height, "Window height")->check(CLI::Range(240, 8192));
    cli.add_option("--recent-file", args.recent_store, "Where to keep the recent-files list");
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = cli.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (!args.screenshot.empty() && args.at < 0) {
        std::fprintf(stderr, "tidemark-viewer: --screenshot needs --at SECONDS\n");
        return 2;
    }
    App app(args.recent_store);
    g_app = &app;
    // Open before the window: a bad file or address fails fast with exit 2 in headless use.
    for (const std::string& t : args.traces) app.open(t);
    if (!args.connect.empty()) {
        std::string error;
        auto client = LiveClient::connect(args.connect, error);
        if (!client) {
            std::fprintf(stderr, "tidemark-viewer: cannot connect to %s: %s\n", args.connect.c_str(), error.c_str());
            return 2;
        }
        app.sessions.push_back(std::make_unique<ViewState>(Session::open_live(std::move(client))));
        app.active = app.sessions.size() - 1;
        app.opened_any = true;
    }
    // Headless, a trace that cannot be opened ends the run; interactive, the window opens and shows
    // the message (and the exit status is 2 if no trace was opened at all).
    bool headless = !args.screenshot.empty() || args.scrub_bench_s > 0;
    if (app.failed_open && headless) return 2;

    // Mesa's software renderer (llvmpipe, what runs under Xvfb and on machines without a GPU)
    // rasterises on its own threads, one per core by default. On two cores those two threads, the
    // UI thread and the viewer's readers then wait for each other: scrubbing the 1 h × 10,000-
    // stream trace, frames waited 15 ms p50 for a CPU and took 17.7-18.7 ms p50; rasterising on
    // the calling thread (LP_NUM_THREADS=0), 0.9 ms and 14.5-16.0 ms (docs/VIEWER.md, "Scale").
    // Only where that was measured (≤ 2 cores) and only when the user has not chosen; GPU drivers
    // ignore the variable.
    if (sysconf(_SC_NPROCESSORS_ONLN) <= 2) setenv("LP_NUM_THREADS", "0", 0);
    glfwSetErrorCallback([](int code, const char* what) { std::fprintf(stderr, "tidemark-viewer: GLFW %d: %s\n", code, what); });
    if (!glfwInit()) {
        std::fprintf(stderr, "tidemark-viewer: cannot open a window (no display? run under xvfb-run for headless use)\n");
        return 2;
    }
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    GLFWwindow* window = glfwCreateWindow(args.width, args.height, "tidemark", nullptr, nullptr);
    if (!window) {
        std::fprintf(stderr, "tidemark-viewer: cannot create an OpenGL 3.3 window\n");
        glfwTerminate();
        return 2;
    }
    glfwMakeContextCurrent(window);
    glfwSwapInterval(headless ? 0 : 1);
    glfwSetDropCallback(window, on_drop);
    glfwSetKeyCallback(window, on_key);  // before ImGui's, which chain to it
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;
    load_font();
    ImGui::StyleColorsDark();
    ImGui::GetStyle().FrameRounding = 3;
    ImGui_ImplGlfw_InitForOpenGL(window, true);
    ImGui_ImplOpenGL3_Init("#version 330");

    // Screenshot: replay seeks to --at and waits for the analysis; live watches for --at seconds.
    auto started = Clock::now();
    bool screenshot_ready = false;
    if (!args.screenshot.empty()) {
        if (ViewState* vs = app.current(); vs && !vs->session().live()) {
            vs->session().wait_analysis(60);
            vs->update(0);
            vs->cursor().seek(args.at);
            // Select the first finding's stream so the table, the detail and the graph show it, but
            // keep the cursor at --at.
            // (A native-leak finding: its allocation site, on the native tab.)
            if (auto a = vs->analysis(); a && !a->findings.empty()) {
                const tidemark::model::Finding& f = a->findings[0];
                if (f.stream) vs->apply(SelectStream{f.stream->id});
                else if (auto site = finding_native_site(f)) vs->apply(SelectNativeSite{false, kAnyProc, *site, f.site});
            }
            vs->update(0);
            vs->session().wait_cursor(10);
        }
    }

    // Timings for --frame-stats: "frame_ms" is a whole frame as the user waits for it (events,
    // update, building the UI, GL submission and the swap, where a software renderer rasterises);
    // the other phases say where it went.
    FrameStats stats;
    FrameStats* view_stats = args.frame_stats.empty() ? nullptr : &stats;
    size_t frames = 0;
    double first_frame_ms = -1;
    const void* last_cursor_state = nullptr;
    const int main_tid = static_cast<int>(gettid());
    ThreadTimes frame_times_before = view_stats ? frame_threads_times(main_tid) : ThreadTimes{};
    int frames_after_ready = 0;
    auto last = Clock::now();
    auto last_dump = Clock::now() - std::chrono::seconds(1);
    int rc = 0;
    double scrub_phase = 0;
    while (!glfwWindowShouldClose(window)) {
        auto frame_start = Clock::now();
        double dt = std::chrono::duration<double>(frame_start - last).count();
        last = frame_start;
        bool busy = false;
        for (auto& s : app.sessions) busy |= s->cursor().playing() || !s->analysis() || !s->analysis()->done || s->session().live();
        if (headless || busy) glfwPollEvents();
        else glfwWaitEventsTimeout(0.1);
        auto events_done = Clock::now();

        if (ViewState* vs = app.current(); vs && args.scrub_bench_s > 0) {
            // Sweep the cursor across the trace as a user dragging the slider would.
            scrub_phase += dt / 8.0;
            double x = scrub_phase - std::floor(scrub_phase);
            double tri = x < 0.5 ? 2 * x : 2 - 2 * x;
            vs->cursor().seek(vs->cursor().first() + tri * (vs->cursor().last() - vs->cursor().first()));
        }
        bool changed = false;
        {
            FrameStats::Scope t(view_stats, "update_ms");
            for (auto& s : app.sessions) changed |= s->update(dt);
        }
        if (ViewState* vs = app.current(); vs && vs->cursor_view() && vs->cursor_view().get() != last_cursor_state) {
            last_cursor_state = vs->cursor_view().get();
            if (frames > 0 && vs->cursor_view()->timeline) {
                stats.add("cursor_state_ms", vs->cursor_view()->took_ms);     // seek + decode
                stats.add("cursor_derive_ms", vs->cursor_view()->derive_ms);  // table + graph
            }
        }

        int w = 0, h = 0;
        {
            FrameStats::Scope t(view_stats, "ui_ms");
            ImGui_ImplOpenGL3_NewFrame();
            ImGui_ImplGlfw_NewFrame();
            ImGui::NewFrame();
            glfwGetFramebufferSize(window, &w, &h);
            draw(app, w, h, view_stats);
            ImGui::Render();
        }
        {
            FrameStats::Scope t(view_stats, "gl_submit_ms");
            glViewport(0, 0, w, h);
            const ImVec4 bg = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
            glClearColor(bg.x, bg.y, bg.z, 1);
            glClear(GL_COLOR_BUFFER_BIT);
            ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
        }
        if (view_stats) {
            stats.add_count("vertices", ImGui::GetDrawData()->TotalVtxCount);
            stats.add("events_ms", std::chrono::duration<double, std::milli>(events_done - frame_start).count());
        }

        app.bus.dispatch([&](const Event& e) {
            if (const auto* o = e.get<OpenTrace>()) {
                app.open(o->path);
                return;
            }
            if (ViewState* vs = app.current()) vs->apply(e);
            changed = true;
        });

        if (!args.state_dump.empty() && (changed || Clock::now() - last_dump > std::chrono::milliseconds(250))) {
            nlohmann::json j;
            j["frames"] = frames + 1;
            j["window"] = {w, h};
            j["sessions"] = nlohmann::json::array();
            for (auto& s : app.sessions) j["sessions"].push_back(s->dump());
            j["active"] = app.active;
            j["errors"] = app.errors;
            write_atomically(args.state_dump, j.dump(1));
            last_dump = Clock::now();
        }

        if (!args.screenshot.empty()) {
            ViewState* vs = app.current();
            double waited = std::chrono::duration<double>(Clock::now() - started).count();
            if (!screenshot_ready) {
                if (!vs) screenshot_ready = true;
                else if (vs->session().live()) screenshot_ready = waited >= args.at;
                else screenshot_ready = true;
            }
            // A few frames after ready: tables and child windows settle their sizes.
            if (screenshot_ready && ++frames_after_ready >= 4) {
                if (!vs || !vs->session().live() || vs->session().cursor()->timeline) {
                    if (!write_png(args.screenshot, w, h)) {
                        std::fprintf(stderr, "tidemark-viewer: cannot write %s\n", args.screenshot.c_str());
                        rc = 2;
                    }
                    break;
                }
            }
            if (vs && vs->session().live() && screenshot_ready) vs->session().wait_cursor(2);
        }
        {
            FrameStats::Scope t(view_stats, "swap_ms");
            glfwSwapBuffers(window);
        }
        auto frame_end = Clock::now();
        if (first_frame_ms < 0) first_frame_ms = std::chrono::duration<double, std::milli>(frame_end - process_start).count();
        else stats.add("frame_ms", std::chrono::duration<double, std::milli>(frame_end - frame_start).count());
        if (view_stats) {
            ThreadTimes now = frame_threads_times(main_tid);
            if (frames > 0) {
                stats.add("frame_cpu_ms", now.run_ms - frame_times_before.run_ms);
                stats.add("frame_cpu_wait_ms", now.wait_ms - frame_times_before.wait_ms);
            }
            frame_times_before = now;
        }
        ++frames;
        if (args.scrub_bench_s > 0 &&
            std::chrono::duration<double>(Clock::now() - started).count() >= args.scrub_bench_s)
            break;
    }
    if (!args.frame_stats.empty()) {
        nlohmann::json j;
        j["first_frame_ms"] = first_frame_ms;
        const std::vector<double>& frame_ms = stats.samples("frame_ms");
        j["frames"] = frame_ms.size();
        j["frame_ms_p50"] = percentile(frame_ms, 0.5);
        j["frame_ms_p99"] = percentile(frame_ms, 0.99);
        j["frame_ms_max"] = frame_ms.empty() ? 0 : *std::max_element(frame_ms.begin(), frame_ms.end());
        j["phases"] = stats.summary();
        j["peak_rss_mib"] = static_cast<double>(peak_rss_kib()) / 1024.0;
        if (ViewState* vs = app.current()) {
            j["open_ms"] = vs->session().open_ms();
            if (auto c = vs->session().cursor()) j["last_cursor_ms"] = c->took_ms;
            if (auto a = vs->session().analysis()) j["analysis_done"] = a->done;
        }
        write_atomically(args.frame_stats, j.dump(1) + "\n");
    }
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    glfwDestroyWindow(window);
    glfwTerminate();
    if (rc == 0 && app.failed_open && !app.opened_any) rc = 2;
    return rc;
}

#include "core/files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

namespace tidemark::viewer {

namespace fs = std::filesystem;

std::vector<DirEntry> list_directory(const std::string& dir, bool all_files, std::string& error) {
    std::vector<DirEntry> dirs, files;
    std::error_code ec;
    fs::path base = fs::absolute(dir, ec);
    if (ec) {
        error = ec.message();
        return {};
    }
    fs::directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
        error = "cannot list " + base.string() + ": " + ec.message();
        return {};
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const fs::directory_entry& e = *it;
        std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        DirEntry d;
        d.name = name;
        d.path = e.path().string();
        std::error_code e2;
        d.directory = e.is_directory(e2);
        if (!d.directory) {
            if (!all_files && e.path().extension() != ".tidemark") continue;
            d.size = e.file_size(e2);
        }
        struct stat st {};
        if (::stat(d.path.c_str(), &st) == 0) d.mtime = static_cast<int64_t>(st.st_mtime);
        (d.directory ? dirs : files).push_back(std::move(d));
    }
    std::sort(dirs.begin(), dirs.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    std::sort(files.begin(), files.end(), [](const DirEntry& a, const DirEntry& b) {
        return a.mtime != b.mtime ? a.mtime > b.mtime : a.name < b.name;
    });
    std::vector<DirEntry> out;
    if (base.has_parent_path() && base != base.root_path()) {
        DirEntry up;
        up.name = "..";
        up.path = base.parent_path().string();
        up.directory = true;
        out.push_back(std::move(up));
    }
    for (auto& d : dirs) out.push_back(std::move(d));
    for (auto& f : files) out.push_back(std::move(f));
    error.clear();
    return out;
}

RecentFiles::RecentFiles(std::string store) : store_(std::move(store)) {
    if (store_.empty()) {
        const char* xdg = std::getenv("XDG_STATE_HOME");
        const char* home = std::getenv("HOME");
        if (xdg && *xdg) store_ = std::string(xdg) + "/tidemark/recent";
        else if (home && *home) store_ = std::string(home) + "/.local/state/tidemark/recent";
    }
    if (store_.empty()) return;
    std::ifstream in(store_);
    std::string line;
    while (std::getline(in, line) && paths_.size() < kMaxRecent)
        if (!line.empty() && std::find(paths_.begin(), paths_.end(), line) == paths_.end()) paths_.push_back(line);
}

void RecentFiles::add(const std::string& path) {
    std::error_code ec;
    std::string abs = fs::absolute(path, ec).lexically_normal().string();
    if (ec) abs = path;
    paths_.erase(std::remove(paths_.begin(), paths_.end(), abs), paths_.end());
    paths_.insert(paths_.begin(), abs);
    if (paths_.size() > kMaxRecent) paths_.resize(kMaxRecent);
    if (store_.empty()) return;
    fs::create_directories(fs::path(store_).parent_path(), ec);
    std::string tmp = store_ + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) return;
        for (const std::string& p : paths_) out << p << '\n';
    }
    fs::rename(tmp, store_, ec);
}

}  // namespace tidemark::viewer

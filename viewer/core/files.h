// The in-app file picker's model: a directory listing (folders, then .tidemark files, newest
// first) and the recent-files list, kept in $XDG_STATE_HOME/tidemark/recent (else
// ~/.local/state/tidemark/recent), most recent first, at most kMaxRecent entries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tidemark::viewer {

struct DirEntry {
    std::string name;
    std::string path;
    bool directory = false;
    uint64_t size = 0;
    int64_t mtime = 0;  // seconds since the epoch
};

// Lists `dir`: ".." first (unless at /), folders by name, then files ending in .tidemark (all
// files with `all_files`) newest first. Hidden entries are skipped. Errors give an empty list
// and `error`.
std::vector<DirEntry> list_directory(const std::string& dir, bool all_files, std::string& error);

class RecentFiles {
public:
    static constexpr size_t kMaxRecent = 10;
    // `store` = the file to keep the list in; "" = the default location.
    explicit RecentFiles(std::string store = "");
    const std::vector<std::string>& paths() const { return paths_; }
    // Moves `path` (made absolute) to the front and saves; failures to save are ignored.
    void add(const std::string& path);
    const std::string& store() const { return store_; }

private:
    std::string store_;
    std::vector<std::string> paths_;
};

}  // namespace tidemark::viewer

// `tidemark dump TRACE`: one line per record as the file holds it (tidemark_model's dump.h).
// Exit 2, after printing what was readable, when the file is unreadable or damaged.
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <system_error>

#include "commands.h"
#include "tidemark/model/report/dump.h"

namespace tidemark::agent {

namespace {

// Passes output through to another stream buffer and counts it, so the closing message can say
// whether anything was printed, without holding a dump of a large trace in memory.
class CountingBuf : public std::streambuf {
public:
    explicit CountingBuf(std::streambuf* to) : to_(to) {}
    size_t count() const { return count_; }

protected:
    int_type overflow(int_type ch) override {
        if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
        ++count_;
        return to_->sputc(traits_type::to_char_type(ch));
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        count_ += static_cast<size_t>(n);
        return to_->sputn(s, n);
    }
    int sync() override { return to_->pubsync(); }

private:
    std::streambuf* to_;
    size_t count_ = 0;
};

int run_dump(const std::string& trace) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(trace, ec)) {
        std::cerr << "tidemark: cannot read " << trace
                  << (std::filesystem::exists(trace, ec) ? ": not a regular file" : ": no such file")
                  << "; give the path of a .tidemark file written by `tidemark run`\n";
        return kExitUsage;
    }
    CountingBuf counted(std::cout.rdbuf());
    std::ostream out(&counted);
    std::ostringstream err;
    const int rc = model::dump_trace(trace, out, err);
    out.flush();
    std::string problem = err.str();
    if (rc == 0) {
        std::cerr << problem;  // warnings, if any
        return 0;
    }
    if (problem.empty()) problem = "tidemark: " + trace + " could not be read completely\n";
    std::cerr << problem;
    if (counted.count() > 0)
        std::cerr << "  the records above are what was readable; a trace cut short (agent killed) or "
                     "damaged cannot be repaired — re-record it with `tidemark run`\n";
    else
        std::cerr << "  nothing in it was readable; check that it is a file written by `tidemark run`\n";
    return kExitUsage;
}

}  // namespace

Command add_dump_command(CLI::App& parent) {
    auto trace = std::make_shared<std::string>();
    CLI::App* cmd = parent.add_subcommand("dump", "Print every record of a trace, one per line "
                                                  "(for debugging a recording)");
    cmd->add_option("TRACE", *trace, "A .tidemark file written by `tidemark run`")->required();
    return {cmd, [trace] { return run_dump(*trace); }, nullptr};
}

}  // namespace tidemark::agent

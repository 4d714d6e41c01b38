// `tidemark dump TRACE`: one line per record as the file holds it (tidemark_model's dump.h).
// Exit 2, after printing what was readable, when the file is unreadable or damaged.
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "model/dump.h"

namespace tidemark::agent {

Command add_dump_command(CLI::App& parent) {
    auto trace = std::make_shared<std::string>();
    CLI::App* cmd = parent.add_subcommand("dump", "Print every record of a trace, one per line "
                                                  "(for debugging a recording)");
    cmd->add_option("TRACE", *trace, "A .tidemark file written by `tidemark run`")->required();
    return {cmd, [trace] {
                std::ostringstream err;
                const int rc = model::dump_trace(*trace, std::cout, err);
                std::cout.flush();
                if (!err.str().empty()) std::cerr << "tidemark: " << err.str();
                if (rc != 0 && err.str().empty())
                    std::cerr << "tidemark: " << *trace << " could not be read completely\n";
                return rc == 0 ? 0 : kExitUsage;
            }};
}

}  // namespace tidemark::agent

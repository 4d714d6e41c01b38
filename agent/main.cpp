// `tidemark`: records and judges why a process's memory grows. This file only parses the command
// line and dispatches to one subcommand (cmd_run.cpp, cmd_report.cpp, cmd_check.cpp, cmd_dump.cpp).
#include <iostream>
#include <vector>

#include "cli.h"

#include "commands.h"

int main(int argc, char** argv) {
    using namespace tidemark::agent;
    CLI::App app{"tidemark — tells you why a Node.js process's memory grows.\n"
                 "Record with `tidemark run`, read with `tidemark report`, gate CI with `tidemark check`.",
                 "tidemark"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("tidemark 0.1.0"));
    std::vector<Command> commands = {add_run_command(app), add_report_command(app),
                                     add_check_command(app), add_dump_command(app)};
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::string where = "tidemark";
        for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
        std::cerr << "tidemark: " << e.what() << "\nRun `" << where << " --help` for usage.\n";
        return kExitUsage;
    }
    for (auto& command : commands)
        if (command.app->parsed()) return command.run();
    std::cerr << "tidemark: no subcommand given; run `tidemark --help`\n";
    return kExitUsage;
}

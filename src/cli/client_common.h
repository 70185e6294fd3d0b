// Helpers shared by the client subcommand files.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cli/http_client.h"

namespace riffle::cli {

int Fail(const std::string& message);
// Asks "Are you sure you want to delete <what>?" on stdout; true for "yes" or "y".
bool Confirm(const std::string& what);
Result<std::string> ReadFile(const std::string& path);
std::string ReadAll(std::istream& in);
// Performs a request; prints `success_message` on 2xx, the server's error otherwise.
int Call(const ClientOptions& opts, const std::string& method, const std::string& path,
         const std::string& body, const std::string& content_type,
         const std::string& success_message, std::string* out_body = nullptr);
void AddCommonOptions(CLI::App* cmd, ClientOptions* opts, std::string* database,
                      bool database_required);

void RegisterDataCommands(CLI::App& app, std::function<int()>* action);
void RegisterCatalogCommands(CLI::App& app, std::function<int()>* action);
void RegisterTriggerCommands(CLI::App& app, std::function<int()>* action);
void RegisterCacheCommands(CLI::App& app, std::function<int()>* action);  // after Catalog
void RegisterRowDeleteCommands(CLI::App& app, std::function<int()>* action);  // after Catalog
void RegisterBackupCommands(CLI::App& app, std::function<int()>* action);     // after Catalog
void RegisterExportCommands(CLI::App& app, std::function<int()>* action);
void RegisterImportCommands(CLI::App& app, std::function<int()>* action);
void RegisterSystemCommands(CLI::App& app, std::function<int()>* action);
void RegisterPluginFileCommands(CLI::App& app,
                                std::function<int()>* action);  // after System ("update")
// Uploads a local plugin file or directory (POST /api/v3/plugins/files); returns the name the
// server knows it by (the file name, or the directory name).
Result<std::string> UploadPlugin(const ClientOptions& opts, const std::string& database,
                                 const std::string& local);

}  // namespace riffle::cli

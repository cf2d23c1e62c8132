// Internal: bringing a database file to the current schema (schema.hpp) when it is opened.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "duckdb/connection.hpp"

namespace synth::tracing::detail::duck {

/// For a writable open: creates the schema in a new file; in an older one (the Python
/// original's, or one written by an earlier version of this library) adds the tables and
/// columns it lacks, lets columns hold NULL and wider values where the current schema does,
/// fills the added columns the original had no equivalent of (kBackfills) and records
/// kSchemaVersion, all in one transaction, reporting what it changed. Creates the secondary
/// indexes when `indexes`. Throws StorageError naming the file when it was written by a newer
/// version, or when the migration fails (the file is then left as it was).
void prepare_schema(Connection& conn, bool indexes);

/// The columns of `table` in the order the schema defines them (a migrated file may order them
/// differently: appenders name their columns).
const std::vector<std::string>& schema_columns(std::string_view table);

/// For a read-only open: throws StorageError naming the file when it needs a migration first.
void check_schema_readable(Connection& conn);

}  // namespace synth::tracing::detail::duck

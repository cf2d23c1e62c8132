#include "duckdb/migration.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "diagnostics.hpp"
#include "duckdb/schema.hpp"

namespace synth::tracing::detail::duck {

namespace {

struct Column {
  std::string type;
  bool nullable = true;
};
struct Table {
  std::vector<std::string> order;         // column names in table order
  std::map<std::string, Column> columns;  // by name
};
// The base tables of the open database, by name.
using Tables = std::map<std::string, Table>;

Tables tables_of(Connection& conn) {
  Result r = query(conn,
                   "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable FROM duckdb_columns() c "
                   "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
                   "WHERE c.database_name = current_database() AND c.schema_name = 'main' "
                   "ORDER BY c.table_name, c.column_index");
  Tables tables;
  for (std::size_t row = 0; row < r.rows(); ++row) {
    Table& table = tables[*r.text(0, row)];
    table.order.push_back(*r.text(1, row));
    table.columns[table.order.back()] = Column{*r.text(2, row), r.boolean(3, row).value_or(true)};
  }
  return tables;
}

// The tables and columns the current schema defines: kSchema run in an empty in-memory
// database, once per process. Deriving them from the schema text itself keeps one definition.
const Tables& current_tables() {
  static const Tables tables = [] {
    Connection reference(":memory:", false);
    reference.exec("SET threads TO 1");  // a few empty tables: no work for other threads
    reference.exec(kSchema);
    return tables_of(reference);
  }();
  return tables;
}

std::string sql_identifier(std::string_view identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

// What a file records of its schema: none in the Python original's and early files.
struct Recorded {
  std::optional<int> version;
  std::optional<std::string> definition;  // kSchema's text when written
  bool current() const { return version == kSchemaVersion && definition == kSchema; }
};

Recorded recorded_schema(Connection& conn) {
  Result table = query(conn,
                       "SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = 'synth_tracing_schema'");
  if (table.integer(0, 0).value_or(0) == 0) return {};
  Result r = query(conn, "SELECT version, definition FROM synth_tracing_schema ORDER BY version DESC LIMIT 1");
  if (r.rows() == 0) return {};
  const auto version = r.integer(0, 0);
  return Recorded{version ? std::optional<int>(static_cast<int>(*version)) : std::nullopt, r.text(1, 0)};
}

// What an existing file lacks compared with the current schema, as statements.
struct Migration {
  std::vector<std::string> add_columns;    // ALTER TABLE .. ADD COLUMN
  std::vector<std::string> alter_columns;  // type and NOT NULL changes (need the table's indexes dropped)
  std::set<std::string> altered_tables;
  std::vector<std::string> backfills;
  std::vector<std::string> changes;  // for people: "events.cached_tokens added", ...
  bool empty() const { return add_columns.empty() && alter_columns.empty(); }
};

// Key columns keep their type: DuckDB cannot change it (INTEGER ids hold 2^31 rows anyway).
std::set<std::pair<std::string, std::string>> key_columns(Connection& conn) {
  Result r = query(conn,
                   "SELECT table_name, unnest(constraint_column_names) FROM duckdb_constraints() "
                   "WHERE database_name = current_database() AND schema_name = 'main' "
                   "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')");
  std::set<std::pair<std::string, std::string>> keys;
  for (std::size_t row = 0; row < r.rows(); ++row) keys.emplace(*r.text(0, row), *r.text(1, row));
  return keys;
}

Migration plan(Connection& conn, const Tables& existing) {
  Migration m;
  const auto keys = key_columns(conn);
  for (const auto& [table, definition] : current_tables()) {
    const auto found = existing.find(table);
    if (found == existing.end()) continue;  // created by kSchema
    for (const auto& [name, wanted] : definition.columns) {
      const std::string target = "ALTER TABLE " + sql_identifier(table) + " ";
      const auto have = found->second.columns.find(name);
      if (have == found->second.columns.end()) {
        m.add_columns.push_back(target + "ADD COLUMN " + sql_identifier(name) + " " + wanted.type);
        m.changes.push_back(table + "." + name + " added");
        for (const Backfill& b : kBackfills) {
          if (table == b.table && name == b.column) m.backfills.emplace_back(b.sql);
        }
        continue;
      }
      if (have->second.type != wanted.type && !keys.contains({table, name})) {
        m.alter_columns.push_back(target + "ALTER COLUMN " + sql_identifier(name) + " SET DATA TYPE " + wanted.type);
        m.altered_tables.insert(table);
        m.changes.push_back(table + "." + name + " " + have->second.type + " -> " + wanted.type);
      }
      if (!have->second.nullable && wanted.nullable) {
        m.alter_columns.push_back(target + "ALTER COLUMN " + sql_identifier(name) + " DROP NOT NULL");
        m.altered_tables.insert(table);
        m.changes.push_back(table + "." + name + " may be NULL");
      }
    }
  }
  return m;
}

// DuckDB refuses to change a column of a table that has indexes: they are dropped and made
// again around the change.
std::vector<std::string> drop_indexes(Connection& conn, const std::set<std::string>& tables) {
  std::vector<std::string> recreate;
  for (const std::string& table : tables) {
    Prepared stmt(conn,
                  "SELECT index_name, sql FROM duckdb_indexes() WHERE database_name = current_database() "
                  "AND schema_name = 'main' AND table_name = ?");
    stmt.bind(1, std::string_view(table));
    Result r = stmt.execute();
    for (std::size_t row = 0; row < r.rows(); ++row) {
      const auto sql = r.text(1, row);
      if (!sql) continue;
      conn.exec("DROP INDEX " + sql_identifier(*r.text(0, row)));
      recreate.push_back(*sql);
    }
  }
  return recreate;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void refuse_newer(Connection& conn, int version) {
  throw StorageError("trace database '" + conn.name() + "' has schema version " + std::to_string(version) +
                     ", written by a newer synth-tracing (this one knows up to version " +
                     std::to_string(kSchemaVersion) + "): use that version, or move traces over as JSON files");
}

}  // namespace

void prepare_schema(Connection& conn, bool indexes) {
  const Recorded recorded = recorded_schema(conn);
  const std::optional<int> version = recorded.version;
  if (version && *version > kSchemaVersion) refuse_newer(conn, *version);
  bool new_file = false;
  Migration m;
  std::vector<std::string> recreate;
  if (!recorded.current()) {
    const Tables existing = tables_of(conn);
    new_file = !existing.contains("session_traces");
    try {
      in_transaction(conn, [&] {
        m = plan(conn, existing);
        recreate = drop_indexes(conn, m.altered_tables);
        for (const auto& sql : m.add_columns) conn.exec(sql);
        for (const auto& sql : m.alter_columns) conn.exec(sql);
        for (const auto& sql : m.backfills) conn.exec(sql);
        conn.exec(kSchema);  // missing tables; the views as they are now
        if (!new_file && !existing.contains("session_stats")) {
          // Every stored session's aggregates, as inserts would have kept them.
          Prepared backfill(conn, kRefreshSessionStats);
          backfill.bind(1, Value(0)).bind(2, Value(0)).bind(3, Value(0)).bind(4, Value(0)).bind(5, Value()).execute();
          m.changes.push_back("session_stats added");
        }
        conn.exec("DELETE FROM synth_tracing_schema");
        Prepared record(conn, "INSERT INTO synth_tracing_schema (version, definition) VALUES (?, ?)");
        record.bind(1, Value(kSchemaVersion)).bind(2, std::string_view(kSchema)).execute();
      });
    } catch (const std::exception& e) {
      throw StorageError("cannot migrate trace database '" + conn.name() + "' to schema version " +
                         std::to_string(kSchemaVersion) + " (it is left as it was): " + e.what());
    }
  }
  // DuckDB 1.4 crashes committing a CREATE INDEX on a table altered in the same transaction:
  // indexes get a transaction of their own (without them queries are only slower).
  if (indexes || !recreate.empty()) {
    try {
      in_transaction(conn, [&] {
        for (const auto& sql : recreate) conn.exec(sql);
        if (indexes) conn.exec(kIndexes);
      });
    } catch (const std::exception& e) {
      throw StorageError("cannot create the indexes of trace database '" + conn.name() + "': " + e.what());
    }
  }
  if (!new_file && version != kSchemaVersion) {
    report("trace database '" + conn.name() + "' migrated in place to schema version " +
           std::to_string(kSchemaVersion) + (version ? " from version " + std::to_string(*version) : std::string()) +
           (m.changes.empty() ? std::string() : ": " + joined(m.changes)));
  } else if (!m.empty()) {
    report("trace database '" + conn.name() + "' brought to the current schema: " + joined(m.changes));
  }
}

const std::vector<std::string>& schema_columns(std::string_view table) {
  const auto found = current_tables().find(std::string(table));
  if (found == current_tables().end()) throw StorageError("no table '" + std::string(table) + "' in the schema");
  return found->second.order;
}

void check_schema_readable(Connection& conn) {
  const Recorded recorded = recorded_schema(conn);
  if (recorded.version && *recorded.version > kSchemaVersion) refuse_newer(conn, *recorded.version);
  if (recorded.current()) return;
  const Tables existing = tables_of(conn);
  std::vector<std::string> missing;
  for (const auto& [table, definition] : current_tables()) {
    const auto found = existing.find(table);
    if (found == existing.end()) continue;
    for (const auto& name : definition.order) {
      if (!found->second.columns.contains(name)) missing.push_back(table + "." + name);
    }
  }
  if (!missing.empty()) {
    throw StorageError("trace database '" + conn.name() +
                       "' has an older schema (the Python original's, or an earlier synth-tracing's; it lacks " +
                       joined(missing) +
                       "). Open it once for writing to migrate it in place: `synth-trace migrate` (--db / "
                       "SYNTH_TRACING_DB), or a DuckDBTraceManager without read_only");
  }
}

}  // namespace synth::tracing::detail::duck

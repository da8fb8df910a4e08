-- Runs once, when the compose PostgreSQL volume is first initialised (docker-entrypoint-initdb.d).
-- postgresql.conf preloads the library; this makes its view queryable in the Hermes database:
--   SELECT calls, mean_exec_time, query FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

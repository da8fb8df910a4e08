// Test classes run side by side: each has its own database (DatabaseTest), its own free ports and its own hosts, and
// most of a test's time is spent waiting on PostgreSQL, a receiver or a child process. What must run alone says so with
// [NonParallelizable] (a cluster it stops, a process-wide setting it changes, a build or a machine-wide measurement);
// tests sharing one n8n take turns through N8nTier. docs/development.md, "Tests run side by side".
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(4)]

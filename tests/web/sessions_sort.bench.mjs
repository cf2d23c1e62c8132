// Not a CTest test: the sessions list route sorted by each kind of column (numbers, times, text)
// over N sessions (default 100,000), first pages and pages after a cursor, timed from Node (no
// browser). Results: BENCHMARKS.md, "The viewer".
//   SYNTH_TRACE_BINARY=build/cli/synth-trace node tests/web/sessions_sort.bench.mjs [N]

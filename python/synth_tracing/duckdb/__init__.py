"""DuckDB storage of traces (``synth_tracing.duckdb.manager``)."""

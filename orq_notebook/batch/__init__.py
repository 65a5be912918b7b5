"""Batch runs: one deployment over many rows, concurrent, with progress, nothing lost.

`run_batch` / `arun_batch` (`_api`), the engine that keeps the rows in flight (`_engine`), its
adaptive in-flight limit (`_limit`) and `BatchResult` (`_result`).

Layer rule: built on `client/` and `display/`; never imports IPython or the widgets.
"""

"""Experiments: a dataset × targets (deployments or their variants) × evaluators, scored.

`run_experiment` (`_run.py`) plans the batches (`_plan.py`: rows and targets), runs each
target through `run_batch`, scores the answers with local evaluators (`_base.py`,
`_builtin.py`, named in `_catalog.py`) and LLM judges (`_judge.py`, run as batches too), and
returns an `ExperimentResult` (`_result.py`) with intervals (`_stats.py`), a display
(`_view.py`) with a picture (`_plot.py`, matplotlib, optional) and paired comparisons
(`_compare.py`). No IPython, no widgets.
"""

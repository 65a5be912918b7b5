"""`python -m orq_notebook serve deployments.yaml`: the same as the `orq-notebook` command."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())

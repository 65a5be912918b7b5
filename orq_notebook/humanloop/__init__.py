"""Humanloop's v4 deployed-prompt API, the thin second backend: its client, models and streams.

Layer rule: built on `client/` (the shared base client, errors and stream lifecycle). The notebook
reaches it only through its backend seam (`notebook/_humanloop_backend.py`).
"""

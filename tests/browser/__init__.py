"""Helpers for tests/test_browser.py: JupyterLab in a temporary home, driven in Chromium."""

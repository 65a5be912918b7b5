"""The notebook layer: `%orq` / `%%orq`, the per-kernel session, and the joins between them.

`_magics` (IPython's magic class) parses a line with `_magic_args`, routes it to a subcommand in
`_commands`, which asks the `_session` (where the kernel points, its clients, history) to do the
work through a backend (`_backends`, `_humanloop_backend`) and hands the result to `display/`.
`_apps` holds the public `Playground` / `Compare`, the widgets joined to the session.

Layer rule: the top. It may import every other folder; nothing below imports it.
"""

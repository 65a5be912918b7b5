"""ipywidgets for trying deployments: the playground and the side-by-side compare.

Layer rule: built on `display/`. Widgets never talk HTTP: they drive a small async protocol,
`PlaygroundBackend` (`_backend`), that the notebook layer implements over `AsyncClient`. The public
`Playground` / `Compare`, which find the notebook's connection, live in `notebook/_apps.py`.
"""

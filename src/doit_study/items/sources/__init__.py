"""Sources of raw material (param `data.source`): builtin, doit and jsonl.

`snapshot` (stage raw) copies a source's material under data/raw with a manifest (`manifest`);
`candidates` (stage annotate) turns a snapshot into items; `corpus` gives its plain text for the
tokenizer and the offline foundations. This file imports none of them (tests/pipeline/test_deps.py).
"""

"""The params file, one validated frozen model per group and one module per group (`data`,
`annotate`, `expand`, ..., `dispatch`), so that a stage imports, and reruns for, only the groups it
reads (`base.read_group`); the whole file and the checks across groups (`study`) are what
`python -m doit_study check` runs. May import `core`."""

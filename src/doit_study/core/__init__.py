"""The ground floor every layer stands on: the instance schema (`schema`), files (JSON Lines with
precise errors, atomic outputs, content hashes: `files`), seeded random streams (`seeding`), what
every stage entry point shares (`stage`: its arguments and the bad-input exit) and MLflow tracking
with the lineage records (`tracking`). Imports no other layer of the package."""

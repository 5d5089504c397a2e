"""The factors a study's grid can vary and the designs that fit them (docs/designs.md): each factor's
name in the outputs, its column in the study table and the scale it is fitted on (log for counts and
sizes; linear for shares, whose 0 has no logarithm); each design's subset kind and factors."""

FACTORS = {
    "param": ("parameters", "log"),
    "data": ("data_volume", "log"),
    "tasks": ("task_count", "log"),
    "cot": ("cot_ratio", "linear"),
    "open": ("open_ratio", "linear"),
}
DESIGNS = {
    "doit": ("uniform", ("param", "data")),
    "flan": ("tasks", ("param", "tasks", "cot")),
    "limit": ("style", ("param", "data", "open")),
}

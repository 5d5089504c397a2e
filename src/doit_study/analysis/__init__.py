"""The study across settings: the study table and plot tables (`study_table`), the design factors
(`factors`), sensitivity fits and Complexity and Transference (`fits`), noise, signal and decisions
over replicates (`noise`), every set's scaling on both scores (`scaling`), what can be claimed
(`findings`), the figures (`figures`), the derived mixes (`mixes`) and the report (`report`). Imports
no model code. May import `core`, `params`, `items`, `evaluation` (its pure modules)."""

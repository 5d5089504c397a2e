"""The items every stage reads, built in the order data flows: the sources' raw material
(`sources`), answer parsing by answer kind (`answers`), annotation into filtered, de-duplicated
splits with distractors (`annotation`, `distractors`, `option_lists`), the training pool and every
subset the DoIT, FLAN and LIMIT designs train on (`subsets`, `design_subsets`), and the
multiple-choice benchmarks' questions (`benchmarks`). No model code. May import `core`, `params`."""

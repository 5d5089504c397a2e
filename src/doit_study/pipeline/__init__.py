"""Running the pipeline rather than a stage: the training cost of a profile (`cost`), stages
dispatched as Slurm or local jobs (`dispatch`), stages in a warm process (`warm`), a copy of the
repository without outputs (`workspace`) and each stage's library deps written from its imports
(`deps`). May import every other layer."""

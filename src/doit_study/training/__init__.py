"""Training: the loop shared by pretraining and fine-tuning (AdamW, linear decay, accumulation, a
checkpoint per epoch: `loop`), writing epochs with the state a killed run resumes from (`resume`),
the tiny foundations pretrained offline (`pretraining`), and one setting's fine-tuning with its
MLflow run and run record (`finetuning`; keep-best's scoring on valid is handed in by the stage,
from `evaluation`). May import `core`, `params`, `items`, `modeling`."""

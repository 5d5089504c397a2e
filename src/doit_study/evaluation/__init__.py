"""Scoring models: batched model calls (`model_calls`: greedy generation, continuation likelihoods
with prefix reuse, next-token scores), items scored by the paper's protocol (`item_scoring`) and by
continuous scores of the gold (`continuous`), selection on valid and keep-best (`selection`), test
sets, benchmarks and FLAN's promptings (`test_scoring`, `benchmark_scoring`, `promptings`), one
setting evaluated and its flat metrics (`setting`, `setting_metrics`), and the model judge's
verdicts (`judging`) apart from its clients (`judge_clients`). May import `core`, `params`, `items`,
`modeling`, `training`."""

"""``make bench``: the speed ratios of issue 6, measured on this machine.

1. harness: images/s of ``FERClassifier`` under the Lightning Trainer vs a bare PyTorch loop;
2. pipeline: augmented images/s the DataLoader delivers vs images/s the model consumes;
3. data_prep: cold (empty decode cache) and warm start to the first training batch.

Results go to ``benchmarks/results.json`` and ``benchmarks/BENCHMARKS.md``.
"""

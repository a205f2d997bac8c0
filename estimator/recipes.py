"""Training recipes, as plain values (read without torch, so that sweep files are checked before any work)."""

from __future__ import annotations

FINETUNE_LR = 3e-4
"""Learning rate of straight-through fine-tuning of approximated models (Adam), a tenth of the adam recipe's."""

SEED_RECIPE = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "multistep",
               "milestones": [40, 80, 100, 115, 130, 140], "gamma": 0.2, "epochs": 150, "batch_size": 128,
               "init": "seed", "lr_shift": 1, "report": "best"}
RECIPES = {
    "seed": SEED_RECIPE,
    "seed120": SEED_RECIPE | {"epochs": 120, "batch_size": 64},
    "adam": {"optimizer": "adam", "lr": 3e-3, "momentum": 0.0, "weight_decay": 0.0, "schedule": "cosine",
             "milestones": [], "gamma": 1.0, "epochs": 30, "batch_size": 64, "init": "default", "lr_shift": 0,
             "report": "final"},
}
"""Training recipes. ``seed``: the seed paper's CIFAR-10 recipe as its official code runs it (docs/references.md s.1;
``ksouvik52/Pre-defined-sparseCNN``): its weight initialisation (:func:`seed_initialisation`), its scheduler
stepped before each epoch (epoch e trains at the rate of e + 1: ``lr_shift``), and the best epoch's test accuracy
reported; ``seed120``: its other configuration, 120 epochs of batch 64. ``adam``: small models, the last epoch
reported."""

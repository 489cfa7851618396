"""`train_recipe`'s dispatch: a recipe's `pretrain` step runs first and its weights start the training."""

import os

import kerasrnn.training
import kerasrnn.zoo.recipes as recipes
from kerasrnn.tasks.registry import get_task

PLAN = {
    "task": "sentiment", "data": "aclImdb_v1_labeled.tar.gz", "builder_options": {"cell": "gru", "units": 8},
    "data_options": {"vocab_size": 500}, "epochs": 2, "batch_size": 16,
    "pretrain": {"epochs": 1, "num_sampled": 64},
}


def test_a_pretrain_step_runs_into_the_run_folder_and_its_weights_start_the_training(tmp_path, monkeypatch):
    calls = []

    def pretrain(data_path, out_dir, **options):
        calls.append(("pretrain", data_path, out_dir, options))
        return f"{out_dir}/encoder.weights.h5"

    def train(task, data_path, out_dir, **options):
        calls.append(("train", data_path, out_dir, options))
        os.makedirs(out_dir)  # as the real one does; train_recipe writes its timing there
        return {"loss": 0.5}

    monkeypatch.setattr(recipes, "recipe", lambda name: PLAN)
    monkeypatch.setattr(get_task("sentiment").pretraining(), "pretrain", pretrain)
    monkeypatch.setattr(kerasrnn.training, "train", train)
    assert recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path)) == {"loss": 0.5}
    run_dir = f"{tmp_path}/sentiment-test"
    (step, data_path, out_dir, options), (then, *_, train_options) = calls
    assert (step, then) == ("pretrain", "train")
    assert (data_path, out_dir) == ("/data/aclImdb_v1_labeled.tar.gz", f"{run_dir}/pretraining")
    assert options == {"builder_options": PLAN["builder_options"], "data_options": PLAN["data_options"],
                       "batch_size": 16, "seed": 1337, "verbose": 2, "epochs": 1, "num_sampled": 64}
    assert train_options["initial_weights"] == f"{run_dir}/pretraining/encoder.weights.h5"
    assert train_options["builder_options"] == PLAN["builder_options"] and train_options["epochs"] == 2


def test_a_recipe_without_pretrain_trains_from_scratch(tmp_path, monkeypatch):
    received = {}
    monkeypatch.setattr(recipes, "recipe", lambda name: {key: value for key, value in PLAN.items() if key != "pretrain"})
    monkeypatch.setattr(kerasrnn.training, "train",
                        lambda task, data, out_dir, **options: received.update(options) or os.makedirs(out_dir) or {})
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path))
    assert received["initial_weights"] is None

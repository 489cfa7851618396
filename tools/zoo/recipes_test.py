"""`train_recipe`'s dispatch: a recipe's `pretrain` step runs first and its weights start the training."""

import json
import os

import kerasrnn.training.trainer
import tools.zoo.recipes as recipes
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
    monkeypatch.setattr(kerasrnn.training.trainer, "train", train)
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
    monkeypatch.setattr(kerasrnn.training.trainer, "train",
                        lambda task, data, out_dir, **options: received.update(options) or os.makedirs(out_dir) or {})
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path))
    assert received["initial_weights"] is None


def test_a_recipes_training_options_reach_train_with_their_data_file_in_the_shared_data(tmp_path, monkeypatch):
    received = {}
    plan = {key: value for key, value in PLAN.items() if key != "pretrain"}
    plan["training_options"] = {"adversarial": "vat", "adversarial_epsilon": 1.0, "unlabeled": "aclImdb_v1_unsup.tar.gz"}
    monkeypatch.setattr(recipes, "recipe", lambda name: plan)
    monkeypatch.setattr(kerasrnn.training.trainer, "train",
                        lambda task, data, out_dir, **options: received.update(options) or os.makedirs(out_dir) or {})
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path))
    assert (received["adversarial"], received["adversarial_epsilon"]) == ("vat", 1.0)
    assert received["unlabeled"] == "/data/aclImdb_v1_unsup.tar.gz"
    assert plan["training_options"]["unlabeled"] == "aclImdb_v1_unsup.tar.gz"  # the recipe is left as it was


def test_the_pretrain_steps_unlabeled_file_is_found_in_the_shared_data(tmp_path, monkeypatch):
    received = {}
    plan = {**PLAN, "pretrain": {**PLAN["pretrain"], "unlabeled": "aclImdb_v1_unsup.tar.gz"}}
    monkeypatch.setattr(get_task("sentiment").pretraining(), "pretrain",
                        lambda data_path, out_dir, **options: received.update(options) or "weights")
    assert recipes.pretrain_recipe(plan, "/data", str(tmp_path)) == "weights"
    assert received["unlabeled"] == "/data/aclImdb_v1_unsup.tar.gz" and received["epochs"] == 1
    assert plan["pretrain"]["unlabeled"] == "aclImdb_v1_unsup.tar.gz"  # the recipe itself is left as it was


def test_the_pretraining_record_passes_into_the_index_summary(tmp_path):
    from tools.zoo.publishing import pretraining_summary

    assert pretraining_summary(str(tmp_path)) is None  # a run without a pretrain step
    (tmp_path / "pretraining").mkdir()
    record = {
        "corpus": {"train": {"reviews": 72500, "tokens": 17000000}, "held_out": {"reviews": 2500, "tokens": 600000}},
        "settings": {"epochs": 2},
        "epochs": [{"epoch": 1, "held_out_sampled_loss": 4.9, "train_sampled_loss": 5.2, "seconds": 1800.0},
                   {"epoch": 2, "held_out_sampled_loss": 4.6, "train_sampled_loss": 4.8, "seconds": 1750.5}],
        "seconds": 3550.5, "finished": True, "held_out_loss": 5.3, "held_out_perplexity": 200.34,
    }
    (tmp_path / "pretraining" / "pretraining.json").write_text(json.dumps(record))
    assert pretraining_summary(str(tmp_path)) == {
        "corpus": record["corpus"], "epochs": 2, "seconds": 3550.5, "held_out_sampled_loss": [4.9, 4.6],
        "held_out_loss": 5.3, "held_out_perplexity": 200.34,
    }


def test_an_unpublished_recipe_trains_by_name_without_counting_as_published():
    from kerasrnn.zoo.index import read_index

    published, unpublished = recipes.published_recipes(), recipes.read_unpublished_recipes()
    assert not set(published) & set(unpublished)
    # The published recipes are the presets' training_recipe: one per published model.
    assert sorted(published) == sorted(entry["name"] for entry in read_index())
    plan = recipes.recipe("sentiment-imdb-bilstm-pretrained")
    assert plan["pretrain"]["unlabeled"] == "aclImdb_v1_unsup.tar.gz"
    # The same classifier and data as the BiLSTM trained from scratch, so the two compare.
    scratch = recipes.recipe("sentiment-imdb-bilstm")
    assert plan["data_options"] == scratch["data_options"] and plan["batch_size"] == scratch["batch_size"]
    assert {key: value for key, value in plan["builder_options"].items() if key != "learning_rate"} == {
        key: value for key, value in scratch["builder_options"].items() if key != "learning_rate"}


def test_the_pretrained_recipes_network_is_one_a_language_model_can_pretrain():
    from kerasrnn.tasks.sentiment import build_sentiment_classifier
    from kerasrnn.tasks.sentiment.pretraining import language_model_of

    options = {**recipes.recipe("sentiment-imdb-bilstm-pretrained")["builder_options"], "units": 4, "embedding_dim": 4}
    language_model = language_model_of(build_sentiment_classifier(vocab_size=600, **options), num_sampled=512)
    assert language_model.get_layer("sampled_language_model_loss").bidirectional


def test_publishing_an_unpublished_recipe_retires_it_from_the_unpublished_ones(tmp_path):
    path = str(tmp_path / "recipes-unpublished.json")
    recipes.write_unpublished_recipes({"b": {"task": "pos_tagger"}, "c": {"task": "char_lm"}}, path)
    # Written one line per recipe, in order.
    assert (tmp_path / "recipes-unpublished.json").read_text() == (
        '{\n  "b": {"task": "pos_tagger"},\n  "c": {"task": "char_lm"}\n}\n')
    assert not recipes.retire_unpublished_recipe("a", path)  # not an unpublished recipe
    assert recipes.retire_unpublished_recipe("b", path)
    assert list(recipes.read_unpublished_recipes(path)) == ["c"]
    assert recipes.retire_unpublished_recipe("c", path)
    assert not os.path.exists(path)


def test_zoo_train_overwrite_replaces_a_finished_run_and_restarts_its_timing(tmp_path, monkeypatch):
    from tools.zoo.__main__ import build_parser

    received = []
    monkeypatch.setattr(recipes, "recipe", lambda name: {key: value for key, value in PLAN.items() if key != "pretrain"})
    monkeypatch.setattr(kerasrnn.training.trainer, "train", lambda task, data, out_dir, **options:
                        received.append(options["overwrite"]) or os.makedirs(out_dir, exist_ok=True) or {})
    timing = tmp_path / "sentiment-test" / "training_seconds.json"
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path))
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path))
    assert len(json.loads(timing.read_text())) == 2  # a resumed run adds its session's time
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path), overwrite=True)
    assert received == [False, False, True] and len(json.loads(timing.read_text())) == 1
    assert build_parser().parse_args(["train", "sentiment-imdb-bigru", "--overwrite"]).overwrite


def test_a_recipe_without_a_batch_size_trains_with_its_tasks_batch_size(tmp_path, monkeypatch):
    received = {}
    plan = {key: value for key, value in PLAN.items() if key not in ("pretrain", "batch_size")}
    monkeypatch.setattr(recipes, "recipe", lambda name: plan)
    monkeypatch.setattr(kerasrnn.training.trainer, "train",
                        lambda task, data, out_dir, **options: received.update(options) or os.makedirs(out_dir) or {})
    recipes.train_recipe("sentiment-test", "/data", runs_dir=str(tmp_path))
    assert received["batch_size"] == get_task("sentiment").batch_size == 128

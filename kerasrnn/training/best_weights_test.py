import json

import keras
import numpy as np
import pytest

from kerasrnn.training.best_weights import KeepBestWeights


def small_model(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    return model


def start(directory, model, patience=2, monitor="val_accuracy"):
    keep = KeepBestWeights(str(directory), monitor, "max", patience)
    keep.set_model(model)
    model.stop_training = False
    keep.on_train_begin()
    return keep


def test_a_resumed_run_keeps_the_best_epoch_from_before_the_resume(tmp_path):
    model = small_model(0)
    best_weights = [w.copy() for w in model.get_weights()]
    keep = start(tmp_path, model)
    keep.on_epoch_end(0, {"val_accuracy": 0.8, "loss": 0.5})
    model.set_weights([w + 1 for w in best_weights])
    keep.on_epoch_end(1, {"val_accuracy": 0.7, "loss": 0.4})
    assert not model.stop_training
    # A new process: the model comes back with the last epoch's weights.
    resumed_model = small_model(1)
    resumed = start(tmp_path, resumed_model)
    assert (resumed.best, resumed.best_epoch, resumed.wait) == (0.8, 0, 1)
    resumed.on_epoch_end(2, {"val_accuracy": 0.6, "loss": 0.3})
    assert resumed_model.stop_training  # patience 2 counts the epoch before the resume
    resumed.on_train_end()
    for got, expected in zip(resumed_model.get_weights(), best_weights):
        np.testing.assert_array_equal(got, expected)
    assert resumed.best_logs == {"val_accuracy": 0.8, "loss": 0.5}
    assert json.loads((tmp_path / "best.json").read_text())["wait"] == 2


def test_an_improvement_after_the_resume_wins_and_resets_the_wait(tmp_path):
    model = small_model(0)
    keep = start(tmp_path, model)
    keep.on_epoch_end(0, {"val_accuracy": 0.8})
    keep.on_epoch_end(1, {"val_accuracy": float("nan")})  # a diverged epoch never counts as best
    resumed_model = small_model(1)
    later_weights = [w.copy() for w in resumed_model.get_weights()]
    resumed = start(tmp_path, resumed_model)
    resumed.on_epoch_end(2, {"val_accuracy": 0.9})
    assert (resumed.best_epoch, resumed.wait) == (2, 0)
    resumed_model.set_weights([w * 0 for w in later_weights])
    resumed.on_train_end()
    for got, expected in zip(resumed_model.get_weights(), later_weights):
        np.testing.assert_array_equal(got, expected)


def test_state_of_another_run_or_without_its_weights_is_refused(tmp_path):
    model = small_model(0)
    start(tmp_path, model, monitor="val_loss").on_epoch_end(0, {"val_loss": 1.0})
    with pytest.raises(ValueError, match="watches 'val_loss', this run 'val_accuracy'"):
        start(tmp_path, model)
    (tmp_path / "best.weights.h5").unlink()
    with pytest.raises(ValueError, match="best.weights.h5 is missing"):
        start(tmp_path, model, monitor="val_loss")


def test_missing_monitor_and_bad_mode_are_named(tmp_path):
    keep = start(tmp_path, small_model(0))
    with pytest.raises(ValueError, match="`val_accuracy` is not logged at epoch 1: give validation data"):
        keep.on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match='`mode` must be "max" or "min"'):
        KeepBestWeights(str(tmp_path), "val_loss", "lowest", 1)

import pytest

from kerasrnn.training.epoch_log import EpochLog
from tools.zoo.publishing import training_seconds, validation_curve


def test_a_resume_that_logs_a_new_column_keeps_every_value_under_its_name(tmp_path):
    path = tmp_path / "epochs.csv"
    first_run = EpochLog(str(path))
    first_run.on_epoch_end(0, {"loss": 2.0, "val_loss": 1.9})
    first_run.on_epoch_end(1, {"loss": 1.5, "val_loss": 1.6})
    resumed = EpochLog(str(path))  # e.g. with ReduceLROnPlateau now adding `learning_rate`
    resumed.on_epoch_end(2, {"learning_rate": 0.001, "loss": 1.2, "val_loss": 1.4})
    resumed.on_epoch_end(3, {"learning_rate": 0.0005, "loss": 1.1, "val_loss": 1.35})
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss,learning_rate"
    assert lines[1:] == ["0,2.0,1.9,", "1,1.5,1.6,", "2,1.2,1.4,0.001", "3,1.1,1.35,0.0005"]
    assert validation_curve(str(tmp_path), "val_loss") == {
        "metric": "val_loss", "epochs": [1, 2, 3, 4], "values": [1.9, 1.6, 1.4, 1.35]}


def test_a_file_with_rows_wider_than_its_header_is_a_clear_error(tmp_path):
    path = tmp_path / "epochs.csv"
    path.write_text("epoch,loss\n0,1.0,0.5\n")
    with pytest.raises(ValueError, match="line 2 has more values than the header's 2 columns"):
        EpochLog(str(path)).on_epoch_end(1, {"loss": 0.9})
    assert path.read_text() == "epoch,loss\n0,1.0,0.5\n"  # left as it was


def test_every_finished_epoch_keeps_its_seconds_across_processes(tmp_path):
    path = tmp_path / "epochs.csv"
    killed = EpochLog(str(path))  # a process that dies after its second epoch
    for epoch in range(2):
        killed.on_epoch_begin(epoch)
        killed.on_epoch_end(epoch, {"loss": 1.0})
    resumed = EpochLog(str(path))
    resumed.on_epoch_begin(2)
    resumed.on_epoch_end(2, {"loss": 0.9})
    seconds = [line.split(",")[-1] for line in path.read_text().splitlines()]
    assert seconds[0] == "epoch_seconds" and all(float(value) >= 0 for value in seconds[1:])
    assert training_seconds(str(tmp_path)) == pytest.approx(sum(float(value) for value in seconds[1:]))


def test_training_seconds_falls_back_to_the_finished_processes_wall_time(tmp_path):
    (tmp_path / "epochs.csv").write_text("epoch,loss,epoch_seconds\n0,1.0,\n1,0.9,12.5\n")
    assert training_seconds(str(tmp_path)) is None  # an epoch without its time, and no wall time either
    (tmp_path / "training_seconds.json").write_text("[100.0, 250.5]")
    assert training_seconds(str(tmp_path)) == 350.5
    (tmp_path / "epochs.csv").write_text("epoch,loss,epoch_seconds\n0,1.0,30.2\n1,0.9,12.5\n")
    assert training_seconds(str(tmp_path)) == 42.7  # every epoch timed: their sum, killed processes included


def test_training_seconds_counts_a_pretraining_step(tmp_path):
    (tmp_path / "epochs.csv").write_text("epoch,loss,epoch_seconds\n0,1.0,30.2\n1,0.9,12.5\n")
    (tmp_path / "pretraining").mkdir()
    (tmp_path / "pretraining" / "epochs.csv").write_text("epoch,loss,val_loss,epoch_seconds\n0,5.1,5.0,600.3\n")
    assert training_seconds(str(tmp_path)) == 643.0

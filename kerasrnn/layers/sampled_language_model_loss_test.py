"""SampledLanguageModelLoss: which step predicts which word, padding, and argument errors."""

import numpy as np
import pytest

from kerasrnn.layers.sampled_language_model_loss import SampledLanguageModelLoss

VOCAB = 50
IDS = np.array([[5, 9, 2, 17, 0, 0], [3, 44, 8, 30, 21, 6]], "int32")  # the first is padded


def loss_for(hidden, bidirectional):
    # Output embedding = identity: a feature vector that is 30 x one-hot(w) scores word w highest.
    layer = SampledLanguageModelLoss(VOCAB, num_sampled=10, bidirectional=bidirectional, seed=3)
    layer.build(((None, None, hidden.shape[-1]), (None, None)))
    layer.output_embedding.assign(np.eye(VOCAB, dtype="float32"))
    return float(layer([hidden, IDS]))


def one_hot(ids):
    return 30.0 * np.eye(VOCAB, dtype="float32")[ids]


def shifted(ids, step):
    # Word t+step at position t; out-of-range positions get padding's id 0.
    out = np.zeros_like(ids)
    if step > 0:
        out[:, :-step] = ids[:, step:]
    else:
        out[:, -step:] = ids[:, :step]
    return out


def test_forward_features_predict_the_next_word_and_backward_ones_the_previous():
    forward, backward = one_hot(shifted(IDS, 1)), one_hot(shifted(IDS, -1))
    assert loss_for(forward, bidirectional=False) < 0.01
    assert loss_for(np.concatenate([forward, backward], -1), bidirectional=True) < 0.01
    # Features of the current word (what a model that saw its target would have) score badly.
    # How badly depends on which negatives the sampler draws, and eager sampling differs with
    # everything that ran before in the process: 40 draws ranged 5.7 to 19.4 nats (8.8 to 19.6
    # swapped), so the bound is 1 nat, a hundred times the right features' 0.01.
    assert loss_for(one_hot(IDS), bidirectional=False) > 1
    swapped = np.concatenate([backward, forward], -1)
    assert loss_for(swapped, bidirectional=True) > 1


def test_padding_is_never_a_target():
    # Zero features wherever the target is padding: if padding counted, the
    # loss would include those ~log(11)-nat predictions.
    forward = one_hot(shifted(IDS, 1)) * (shifted(IDS, 1) != 0)[..., None]
    assert loss_for(forward, bidirectional=False) < 0.01


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"vocab_size": 50, "num_sampled": 50}, "`num_sampled` must be smaller than `vocab_size` (50)"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"vocab_size": 50, "num_sampled": -1}, "num_sampled"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("`", "`")):
        SampledLanguageModelLoss(**arguments)


def test_bidirectional_features_must_split_in_two_halves():
    layer = SampledLanguageModelLoss(VOCAB, num_sampled=10, bidirectional=True)
    with pytest.raises(ValueError, match="even"):
        layer([np.zeros((1, 3, 7), "float32"), IDS[:1, :3]])


def test_config_round_trips():
    layer = SampledLanguageModelLoss(VOCAB, num_sampled=10, bidirectional=True, seed=4, name="loss")
    assert SampledLanguageModelLoss.from_config(layer.get_config()).get_config() == layer.get_config()
